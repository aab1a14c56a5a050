package data

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"
)

func kurtosis(x []float64) float64 {
	var m, m2, m4 float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	for _, v := range x {
		d := v - m
		m2 += d * d
		m4 += d * d * d * d
	}
	m2 /= float64(len(x))
	m4 /= float64(len(x))
	return m4 / (m2 * m2)
}

// TestVibrationPhysics: the set is seeded and balanced, and a defect's
// bursts make its recordings impulsive — the kurtosis of the high-passed
// signal, which vibration analysts look at, is well above a healthy
// machine's (Gaussian sensor noise: 3).
func TestVibrationPhysics(t *testing.T) {
	a, la := Vibration(40, 4096, 1)
	b, _ := Vibration(40, 4096, 1)
	c, _ := Vibration(40, 4096, 2)
	if !slices.Equal(a[7], b[7]) || slices.Equal(a[7], c[7]) {
		t.Fatal("not seeded")
	}
	count := make([]int, 4)
	kurt := make([]float64, 4)
	for i, x := range a {
		count[la[i]]++
		d := make([]float64, len(x)-1) // high-passed: the shaft's hum removed
		for t := range d {
			d[t] = x[t+1] - x[t]
		}
		kurt[la[i]] += kurtosis(d) / 10
	}
	if !slices.Equal(count, []int{10, 10, 10, 10}) {
		t.Fatalf("classes %v", count)
	}
	t.Logf("kurtosis of the high-passed signal per class: %.2f", kurt)
	if kurt[0] > 3.5 {
		t.Errorf("healthy kurtosis %.2f", kurt[0])
	}
	for c := 1; c < 4; c++ {
		if kurt[c] < kurt[0]+1 {
			t.Errorf("%s: kurtosis %.2f, healthy %.2f", VibrationClasses[c], kurt[c], kurt[0])
		}
	}
}

// TestWriteVibration: the CSV and the .npy files hold the same recordings
// and labels.
func TestWriteVibration(t *testing.T) {
	dir := t.TempDir()
	if err := WriteVibration(dir, 8, 128, 3); err != nil {
		t.Fatal(err)
	}
	signals, labels := Vibration(8, 128, 3)
	f, _ := os.Open(filepath.Join(dir, "signals.npy"))
	var m mat.Dense
	if err := npyio.Read(f, &m); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if r, c := m.Dims(); r != 8 || c != 128 || m.At(5, 17) != signals[5][17] {
		t.Fatalf("signals.npy %d×%d", r, c)
	}
	f, _ = os.Open(filepath.Join(dir, "labels.npy"))
	var ls []int64
	if err := npyio.Read(f, &ls); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for i, l := range ls {
		if int(l) != labels[i] {
			t.Fatalf("labels.npy %v", ls)
		}
	}
	f, _ = os.Open(filepath.Join(dir, "vibration.csv"))
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sc.Scan()
	if !strings.HasPrefix(sc.Text(), "label,s0,s1,") {
		t.Fatalf("header %.40q", sc.Text())
	}
	for i := 0; sc.Scan(); i++ {
		cells := strings.Split(sc.Text(), ",")
		v, _ := strconv.ParseFloat(cells[18], 64)
		if cells[0] != VibrationClasses[labels[i]] || len(cells) != 129 || math.Abs(v-signals[i][17]) > 1e-6*math.Max(1, math.Abs(v)) {
			t.Fatalf("row %d: %s… (%d cells)", i, cells[0], len(cells))
		}
	}
	for _, name := range []string{"classes.txt", "examples.png"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := WriteVibration(dir, 2, 128, 3); err == nil {
		t.Error("2 recordings for 4 classes accepted")
	}
}
