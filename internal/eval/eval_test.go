package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestPerClass(t *testing.T) {
	// 3 classes; rows true, columns predicted.
	conf := [][]int{
		{5, 1, 0},
		{2, 3, 0},
		{0, 0, 0},
	}
	s := perClass(conf, []string{"a", "b", "c"})
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if !near(s[0].Precision, 5.0/7) || !near(s[0].Recall, 5.0/6) || s[0].Support != 6 {
		t.Errorf("class a: %+v", s[0])
	}
	if !near(s[1].Precision, 3.0/4) || !near(s[1].Recall, 3.0/5) || !near(s[1].F1, 2*0.75*0.6/1.35) {
		t.Errorf("class b: %+v", s[1])
	}
	if s[2].Precision != 0 || s[2].Recall != 0 || s[2].F1 != 0 || s[2].Support != 0 {
		t.Errorf("empty class c: %+v", s[2])
	}
}

func TestOutputs(t *testing.T) {
	r := &Result{N: 11, Loss: 0.5, Accuracy: 8.0 / 11, Confusion: [][]int{{5, 1}, {2, 3}}, Classes: []string{"o", "x"}}
	r.PerClass = perClass(r.Confusion, r.Classes)
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"accuracy", "loss", "n", "per_class", "confusion"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b.String())
		}
	}
	b.Reset()
	r.WriteTable(&b)
	for _, want := range []string{"accuracy  72.73%", "x         0.7500     0.6000", "x        2    3"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestArgmax(t *testing.T) {
	if Argmax([]float32{1, 3, 3, -1}) != 1 || Argmax([]float32{-2}) != 0 {
		t.Error("argmax")
	}
}
