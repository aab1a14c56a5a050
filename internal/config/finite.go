package config

import (
	"fmt"
	"math"
	"reflect"
	"strings"
)

// nonFinite reports every float field that is NaN or infinite (.nan, .inf
// in YAML): range checks written as "v < lo || v > hi" let NaN through, so
// finiteness is checked once, for all fields, by the YAML names.
func (c *Config) nonFinite(file string) Errors {
	var es Errors
	var walk func(v reflect.Value, path string, line int)
	walk = func(v reflect.Value, path string, line int) {
		switch v.Kind() {
		case reflect.Float64:
			if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
				es = append(es, &Error{File: file, Line: line, Msg: fmt.Sprintf("%s must be a finite number, got %v", path, f)})
			}
		case reflect.Slice:
			for i := range v.Len() {
				e := v.Index(i)
				if l, ok := e.Addr().Interface().(*Layer); ok {
					walk(e, fmt.Sprintf("layer %d (%s):", i, l.Type), l.Line)
					continue
				}
				walk(e, path, line)
			}
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), path, line)
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k), path+" "+fmt.Sprint(k.Interface()), line)
			}
		case reflect.Struct:
			t := v.Type()
			for i := range t.NumField() {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if !f.IsExported() || name == "-" {
					continue
				}
				p := name
				if name == "" { // a field of a type that decodes itself
					p = path
				} else if path != "" {
					sep := "."
					if strings.HasSuffix(path, ":") {
						sep = " "
					}
					p = path + sep + name
				}
				walk(v.Field(i), p, line)
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "", 0)
	return es
}
