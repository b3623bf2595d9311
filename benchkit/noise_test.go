package benchkit

import (
	"math"
	"strings"
	"testing"
)

func TestMannWhitney(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		// Fully separated: 2 of C(8,4)=70 arrangements are as extreme.
		{"separated 4+4", []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, 2.0 / 70},
		{"separated 3+3", []float64{1, 2, 3}, []float64{4, 5, 6}, 0.1},
		{"separated reversed", []float64{5, 6, 7, 8}, []float64{1, 2, 3, 4}, 2.0 / 70},
		// Interleaved evenly: U = 8 of 16, the middle; p = 1.
		{"interleaved", []float64{1, 4, 5, 8}, []float64{2, 3, 6, 7}, 1},
		// U = 1 with 4+4: P(U<=1) = 2/70, two-sided 4/70 (scipy's exact).
		{"one swap", []float64{1, 2, 3, 5}, []float64{4, 6, 7, 8}, 4.0 / 70},
		{"all equal", []float64{3, 3, 3}, []float64{3, 3, 3}, 1},
		{"empty", nil, []float64{1}, 1},
	} {
		if got := MannWhitney(tc.a, tc.b); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: p = %g, want %g", tc.name, got, tc.want)
		}
	}
	// With ties, the normal approximation: clearly separated samples of 10
	// give a small p, the same samples a large one.
	a := []float64{1, 1, 2, 2, 3, 3, 4, 4, 5, 5}
	b := []float64{11, 11, 12, 12, 13, 13, 14, 14, 15, 15}
	if p := MannWhitney(a, b); p > 0.001 {
		t.Errorf("separated with ties: p = %g", p)
	}
	if p := MannWhitney(a, a); p < 0.9 {
		t.Errorf("same sample with ties: p = %g", p)
	}
}

func TestMinPAndDifference(t *testing.T) {
	if p := MinP(3, 3); math.Abs(p-0.1) > 1e-12 {
		t.Fatalf("MinP(3,3) = %g", p)
	}
	if p := MinP(4, 4); math.Abs(p-2.0/70) > 1e-12 {
		t.Fatalf("MinP(4,4) = %g", p)
	}
	for _, tc := range []struct {
		a, b []float64
		want string
	}{
		{[]float64{100}, []float64{110}, "noise unknown"},
		{[]float64{100, 101, 102}, []float64{110, 111, 112}, "cannot show a difference"},
		{[]float64{100, 101, 102, 103, 104}, []float64{110, 111, 112, 113, 114}, "+9.8% beyond the noise"},
		{[]float64{100, 110, 102, 108, 104}, []float64{101, 109, 103, 107, 105}, "inside the noise"},
	} {
		if got := Difference(tc.a, tc.b); !strings.Contains(got, tc.want) {
			t.Errorf("Difference(%v, %v) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSpreadOf(t *testing.T) {
	s := SpreadOf([]float64{90, 100, 120, 95})
	if s.N != 4 || s.Median != 97.5 || s.Min != 90 || s.Max != 120 {
		t.Fatalf("%+v", s)
	}
	if got := s.Format(func(v float64) string { return commas(v) }); got != "98 ±23%" {
		t.Fatalf("Format = %q", got)
	}
}
