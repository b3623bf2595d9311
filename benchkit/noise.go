package benchkit

import (
	"fmt"
	"math"
	"slices"
)

// Alpha is the significance level below which a difference between two
// sets of repeated runs is taken as real rather than noise: benchstat's.
const Alpha = 0.05

// Spread summarizes one figure over repeated runs: its median, and the
// largest distance of any run from it, as a fraction of the median
// (benchstat's ±).
type Spread struct {
	N      int     `json:"runs"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// SpreadOf summarizes xs (not modified).
func SpreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{N: len(s), Median: m, Min: s[0], Max: s[len(s)-1]}
}

// Rel is the largest distance of a run from the median, as a fraction of
// the median; 0 for one run or a zero median.
func (s Spread) Rel() float64 {
	if s.Median == 0 {
		return 0
	}
	return max(s.Max-s.Median, s.Median-s.Min) / math.Abs(s.Median)
}

// Format is "median ±x%", the median through show.
func (s Spread) Format(show func(float64) string) string {
	if s.N < 2 {
		return show(s.Median)
	}
	return fmt.Sprintf("%s ±%.0f%%", show(s.Median), 100*s.Rel())
}

// MannWhitney returns the two-sided p-value of the Mann-Whitney U test
// that a and b come from the same distribution: the test benchstat uses,
// which assumes nothing of the distribution's shape (run times on a
// shared machine are not normal). Without ties the p-value is exact (the
// distribution of U counted over every arrangement of the ranks); with
// ties it is the normal approximation with tie and continuity correction.
// Either sample empty gives 1.
func MannWhitney(a, b []float64) float64 {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return 1
	}
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, n+m)
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(x, y obs) int {
		switch {
		case x.v < y.v:
			return -1
		case x.v > y.v:
			return 1
		}
		return 0
	})
	// Ranks from 1, ties sharing their mean rank.
	var ra, tieTerm float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2
		for k := i; k < j; k++ {
			if all[k].first {
				ra += rank
			}
		}
		if t := float64(j - i); t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		i = j
	}
	u := ra - float64(n*(n+1))/2 // U of a: pairs (x in a, y in b) with x > y
	if !ties && n*m <= 2500 {
		return exactU(n, m, u)
	}
	N := float64(n + m)
	mean := float64(n*m) / 2
	sd := math.Sqrt(float64(n*m) / 12 * (N + 1 - tieTerm/(N*(N-1))))
	if sd == 0 {
		return 1 // every value the same
	}
	z := (math.Abs(u-mean) - 0.5) / sd
	return min(1, math.Erfc(max(z, 0)/math.Sqrt2))
}

// exactU is the two-sided p-value of U = u for samples of n and m without
// ties: the count of rank arrangements at least as extreme, over C(n+m, n).
func exactU(n, m int, u float64) float64 {
	// f[i][j][k]: arrangements of i a's and j b's with U = k, rolled over
	// i into two layers.
	maxU := n * m
	prev := make([][]float64, m+1)
	cur := make([][]float64, m+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
		cur[j] = make([]float64, maxU+1)
		prev[j][0] = 1 // no a's: U = 0
	}
	for i := 1; i <= n; i++ {
		for j := 0; j <= m; j++ {
			clear(cur[j])
			for k := 0; k <= i*j; k++ {
				// The largest value is an a (beating all j b's) or a b.
				var c float64
				if k >= j {
					c += prev[j][k-j]
				}
				if j > 0 {
					c += cur[j-1][k]
				}
				cur[j][k] = c
			}
		}
		prev, cur = cur, prev
	}
	dist := prev[m]
	var total, low, high float64
	for k, c := range dist {
		total += c
		if float64(k) <= u {
			low += c
		}
		if float64(k) >= u {
			high += c
		}
	}
	return min(1, 2*min(low, high)/total)
}

// MinP is the smallest p-value MannWhitney can give samples of n and m:
// with too few runs, no difference can be shown beyond the noise (3 runs
// against 3 can give no less than 0.1).
func MinP(n, m int) float64 {
	if n == 0 || m == 0 {
		return 1
	}
	// 2 / C(n+m, n)
	c := 1.0
	for i := 1; i <= n; i++ {
		c = c * float64(m+i) / float64(i)
	}
	return min(1, 2/c)
}

// Difference says whether b differs from a beyond the noise: the change
// of the medians and the test's verdict, for a table.
func Difference(a, b []float64) string {
	if len(a) < 2 || len(b) < 2 {
		return "noise unknown (one run; -count 5 tests it)"
	}
	p := MannWhitney(a, b)
	sa, sb := SpreadOf(a), SpreadOf(b)
	if p >= Alpha {
		if MinP(len(a), len(b)) >= Alpha {
			return fmt.Sprintf("~ (p=%.3f; %d and %d runs cannot show a difference: use -count 5)", p, len(a), len(b))
		}
		return fmt.Sprintf("~ inside the noise (p=%.3f, n=%d+%d)", p, len(a), len(b))
	}
	if sa.Median == 0 {
		return fmt.Sprintf("differs (p=%.3f, n=%d+%d)", p, len(a), len(b))
	}
	return fmt.Sprintf("%+.1f%% beyond the noise (p=%.3f, n=%d+%d)", 100*(sb.Median-sa.Median)/math.Abs(sa.Median), p, len(a), len(b))
}
