package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/cnnctl/cnnctl/internal/config"
)

// FuzzParse feeds the config loader arbitrary bytes: it must return a config
// or errors naming the file, never panic. Seeds: the shipped configs.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("../../configs/*.yaml")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(good))
	f.Add([]byte("model:\n  - {type: conv2d, kernel: [3, 2], padding: same}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("f.yaml", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if _, err := c.Marshal(); err != nil {
			t.Fatalf("a parsed config does not marshal: %v", err)
		}
		_ = c.Layers()
	})
}
