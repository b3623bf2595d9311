package hist

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParseHgrm: any input gets a result or an error, never a panic; a
// parsed file's rows are what its text said.
func FuzzParseHgrm(f *testing.F) {
	h := New()
	for i := 1; i <= 1000; i++ {
		Record(h, time.Duration(i)*time.Microsecond)
	}
	var buf bytes.Buffer
	if err := WriteHgrm(&buf, h); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(" Value Percentile TotalCount 1/(1-Percentile)\n\n1.0 0.5 3 2.00\n#[Max = 1.0, Total count = 3]\n"))
	f.Add([]byte("#[Mean = x]"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ParseHgrm(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, r := range g.Rows {
			_ = g.ValueAt(r.Fraction)
		}
	})
}
