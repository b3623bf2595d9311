package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// FuzzReader feeds arbitrary bytes to a Reader with a small maximum and
// buffer, one byte at a time or in halves, and checks it against Decode: the
// same frames in the same order, then the same verdict (clean EOF, truncated,
// too large). It must never panic, and must never return a body above the
// maximum.
func FuzzReader(f *testing.F) {
	f.Add(stream(testFrame{1, []byte("abc")}, testFrame{2, nil}), uint8(8), false)
	f.Add(stream(testFrame{1, pattern(300, 1)}), uint8(16), true)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0}, uint8(64), false)
	f.Add([]byte{0, 0, 0, 9, 1, 2, 3}, uint8(5), true)
	f.Add([]byte{0, 0}, uint8(32), false)
	f.Fuzz(func(t *testing.T, in []byte, bufSize uint8, half bool) {
		const maxFrame = 512
		var src io.Reader = iotest.OneByteReader(bytes.NewReader(in))
		if half {
			src = iotest.HalfReader(bytes.NewReader(in))
		}
		rd := NewReader(src, int(bufSize), maxFrame)
		rest := in
		for {
			typ, body, err := rd.Next()
			wtyp, wbody, n, _, werr := Decode(rest, maxFrame)
			switch {
			case werr != nil:
				if !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("Next = %v, Decode = %v", err, werr)
				}
				return
			case n == 0 && len(rest) == 0:
				if err != io.EOF {
					t.Fatalf("Next at end = %v, want io.EOF", err)
				}
				return
			case n == 0:
				if !errors.Is(err, ErrMalformed) || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("Next on %d trailing bytes = %v, want truncated", len(rest), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Next = %v, Decode found a %d-byte frame", err, n)
			}
			if len(body) > maxFrame || typ != wtyp || !bytes.Equal(body, wbody) {
				t.Fatalf("Next = type %d len %d, Decode = type %d len %d", typ, len(body), wtyp, len(wbody))
			}
			rest = rest[n:]
		}
	})
}
