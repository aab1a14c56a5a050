package config

import (
	"reflect"
	"testing"
)

// TestEverySectionHasAName: every struct of the schema that the YAML
// decoder fills field by field has a name for "unknown field … in …".
func TestEverySectionHasAName(t *testing.T) {
	seen := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Map {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || seen[ty.Name()] || ty.PkgPath() != reflect.TypeOf(Config{}).PkgPath() {
			return
		}
		seen[ty.Name()] = true
		name := ty.Name()
		switch _, custom := reflect.PointerTo(ty).MethodByName("UnmarshalYAML"); {
		case name == "Layer":
			name = "plain" // decoded through its plain twin
		case custom:
			return
		}
		if sectionOf[name] == "" {
			t.Errorf("type %s has no section name for messages", ty.Name())
		}
		for i := range ty.NumField() {
			if ty.Field(i).IsExported() {
				walk(ty.Field(i).Type)
			}
		}
	}
	walk(reflect.TypeOf(Config{}))
	if len(seen) < 10 {
		t.Fatalf("walked only %v", seen)
	}
}
