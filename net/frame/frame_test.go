package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// stream encodes frames the way a transport writes them: header then body.
func stream(frames ...testFrame) []byte {
	var b []byte
	for _, f := range frames {
		b = AppendHeader(b, f.typ, len(f.body))
		b = append(b, f.body...)
	}
	return b
}

type testFrame struct {
	typ  byte
	body []byte
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func TestAppendHeader(t *testing.T) {
	for _, tc := range []struct {
		typ  byte
		n    int
		want []byte
	}{
		{0, 0, []byte{0, 0, 0, 0, 0}},
		{7, 1, []byte{0, 0, 0, 1, 7}},
		{0xff, 0x01020304, []byte{1, 2, 3, 4, 0xff}},
	} {
		if got := AppendHeader(nil, tc.typ, tc.n); !bytes.Equal(got, tc.want) {
			t.Errorf("AppendHeader(%d, %d) = %x, want %x", tc.typ, tc.n, got, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	full := stream(testFrame{9, []byte("hello")})
	for _, tc := range []struct {
		name     string
		in       []byte
		max      int
		wantN    int
		wantNeed int
		wantErr  error
	}{
		{"empty", nil, 100, 0, HeaderSize, nil},
		{"partial header", full[:3], 100, 0, HeaderSize, nil},
		{"header only", full[:HeaderSize], 100, 0, len(full), nil},
		{"partial body", full[:len(full)-1], 100, 0, len(full), nil},
		{"whole", full, 100, len(full), len(full), nil},
		{"trailing bytes", append(full[:len(full):len(full)], 1, 2), 100, len(full), len(full), nil},
		{"at max", full, 5, len(full), len(full), nil},
		{"above max", full, 4, 0, 0, ErrFrameTooLarge},
		{"huge prefix", []byte{0xff, 0xff, 0xff, 0xff, 1}, DefaultMaxFrame, 0, 0, ErrFrameTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, body, n, need, err := Decode(tc.in, tc.max)
			if !errors.Is(err, tc.wantErr) || n != tc.wantN || need != tc.wantNeed {
				t.Fatalf("Decode = n %d need %d err %v, want n %d need %d err %v", n, need, err, tc.wantN, tc.wantNeed, tc.wantErr)
			}
			if n > 0 && (typ != 9 || string(body) != "hello") {
				t.Fatalf("Decode = type %d body %q", typ, body)
			}
		})
	}
}

// TestReaderSizes reads frames of every size up to the maximum through read
// buffers smaller than, equal to and larger than the frames, and through
// readers that return one byte or half the request at a time.
func TestReaderSizes(t *testing.T) {
	const maxFrame = 1100
	var frames []testFrame
	for n := 0; n <= maxFrame; n++ {
		frames = append(frames, testFrame{byte(n), pattern(n, byte(n))})
	}
	in := stream(frames...)
	wraps := map[string]func(io.Reader) io.Reader{
		"plain":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
		"dataerr": iotest.DataErrReader,
	}
	for _, bufSize := range []int{1, HeaderSize, 64, 1000, maxFrame + HeaderSize, 64 << 10} {
		for name, wrap := range wraps {
			rd := NewReader(wrap(bytes.NewReader(in)), bufSize, maxFrame)
			for i, f := range frames {
				typ, body, err := rd.Next()
				if err != nil {
					t.Fatalf("buf %d %s: frame %d: %v", bufSize, name, i, err)
				}
				if typ != f.typ || !bytes.Equal(body, f.body) {
					t.Fatalf("buf %d %s: frame %d: got type %d len %d, want type %d len %d", bufSize, name, i, typ, len(body), f.typ, len(f.body))
				}
			}
			if _, _, err := rd.Next(); err != io.EOF {
				t.Fatalf("buf %d %s: at end: %v, want io.EOF", bufSize, name, err)
			}
		}
	}
}

func TestReaderErrors(t *testing.T) {
	good := stream(testFrame{1, []byte("abc")})
	for _, tc := range []struct {
		name    string
		in      []byte
		max     int
		want    error
		wantEOF bool // the error also wraps io.ErrUnexpectedEOF
	}{
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 0}, DefaultMaxFrame, ErrFrameTooLarge, false},
		{"one above max", stream(testFrame{1, make([]byte, 101)}), 100, ErrFrameTooLarge, false},
		{"truncated header", good[:3], 100, ErrMalformed, true},
		{"truncated body", good[:len(good)-1], 100, ErrMalformed, true},
		{"truncated big body", stream(testFrame{1, make([]byte, 5000)})[:4000], 10000, ErrMalformed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := NewReader(bytes.NewReader(tc.in), 1024, tc.max)
			_, _, err := rd.Next()
			if !errors.Is(err, tc.want) || errors.Is(err, io.ErrUnexpectedEOF) != tc.wantEOF {
				t.Fatalf("Next = %v, want %v (unexpected EOF %v)", err, tc.want, tc.wantEOF)
			}
			if _, _, err2 := rd.Next(); err2 != err {
				t.Fatalf("second Next = %v, want sticky %v", err2, err)
			}
		})
	}
}

// TestTooLargeNoAlloc shows a hostile length prefix is refused before any
// memory is set aside for its body: rejecting a 2 GiB length 100 times
// allocates a few small error values, not gigabytes.
func TestTooLargeNoAlloc(t *testing.T) {
	in := []byte{0x7f, 0xff, 0xff, 0xff, 0}
	src := bytes.NewReader(in)
	rd := NewReader(src, 64, DefaultMaxFrame)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		src.Reset(in)
		rd.r, rd.w, rd.err = 0, 0, nil
		if _, _, err := rd.Next(); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("Next = %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if perRun := (after.TotalAlloc - before.TotalAlloc) / 100; perRun > 4<<10 {
		t.Fatalf("%d bytes allocated per rejected frame", perRun)
	}
}

// TestReaderNoAlloc: decoding frames that fit in the buffer allocates nothing.
func TestReaderNoAlloc(t *testing.T) {
	in := stream(testFrame{1, pattern(100, 1)}, testFrame{2, pattern(3000, 2)})
	src := bytes.NewReader(in)
	rd := NewReader(src, 64<<10, DefaultMaxFrame)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(in)
		for range 2 {
			if _, _, err := rd.Next(); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per two frames", allocs)
	}
}

func BenchmarkReader(b *testing.B) {
	for _, size := range []int{64, 1024, 64 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			var frames []testFrame
			for range 64 {
				frames = append(frames, testFrame{1, pattern(size, 3)})
			}
			in := stream(frames...)
			src := bytes.NewReader(in)
			rd := NewReader(src, 256<<10, DefaultMaxFrame)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%64 == 0 {
					src.Reset(in)
				}
				if _, _, err := rd.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + "KiB"
	default:
		return itoa(n) + "B"
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// errStop ends a scripted stream without saying whether a frame was
// complete, like a connection that stops sending and is then closed.
var errStop = errors.New("stop")

// scripted returns the bytes of in, then errStop.
type scripted struct{ in []byte }

func (s *scripted) Read(p []byte) (int, error) {
	if len(s.in) == 0 {
		return 0, errStop
	}
	n := copy(p, s.in)
	s.in = s.in[n:]
	return n, nil
}

// TestClaimedLengthNotAllocated: memory follows the bytes that arrived, not
// the length a header claims. A header claiming 200 MiB followed by sent
// bytes costs a small multiple of what was sent, whatever the read buffer's
// configured size and the maximum frame.
func TestClaimedLengthNotAllocated(t *testing.T) {
	const claim = 200 << 20
	const bufSize = 64 << 10
	for _, sent := range []int{0, 100, 1 << 20} {
		in := binary.BigEndian.AppendUint32(nil, claim)
		in = append(in, 1)
		in = append(in, make([]byte, sent)...)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rd := NewReader(&scripted{in: in}, bufSize, 256<<20)
		if _, _, err := rd.Next(); !errors.Is(err, errStop) {
			t.Fatalf("sent %d: Next = %v, want the stream's error", sent, err)
		}
		runtime.ReadMemStats(&after)
		// Doubling copies: at most twice the final buffer, which is at most
		// twice what arrived; plus the initial buffer and error values.
		bound := uint64(4*(HeaderSize+sent) + InitialBufferSize + 4<<10 + minBigStep)
		if got := after.TotalAlloc - before.TotalAlloc; got > bound {
			t.Fatalf("header claiming %d bytes, %d sent: %d bytes allocated, bound %d", claim, sent, got, bound)
		}
		runtime.KeepAlive(rd)
	}
}

// TestBufferGrowsWithBytes: the read buffer starts small and grows only
// when arriving bytes fill it, up to its configured size.
func TestBufferGrowsWithBytes(t *testing.T) {
	const bufSize = 64 << 10
	one := stream(testFrame{1, pattern(100, 1)})
	rd := NewReader(bytes.NewReader(one), bufSize, DefaultMaxFrame)
	if _, _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	if got := rd.BufferSize(); got != InitialBufferSize {
		t.Fatalf("after one small frame the buffer is %d bytes, want %d", got, InitialBufferSize)
	}
	var frames []testFrame
	for range 2000 {
		frames = append(frames, testFrame{2, pattern(100, 2)})
	}
	rd = NewReader(bytes.NewReader(stream(frames...)), bufSize, DefaultMaxFrame)
	for range frames {
		if _, _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if got := rd.BufferSize(); got != bufSize {
		t.Fatalf("after a 200 KB stream the buffer is %d bytes, want the full %d", got, bufSize)
	}
}

// deadlineReader fails every read as a connection whose deadline, set by
// someone other than the Reader, has passed.
type deadlineReader struct{}

func (deadlineReader) Read([]byte) (int, error)        { return 0, os.ErrDeadlineExceeded }
func (deadlineReader) SetReadDeadline(time.Time) error { return nil }

// TestForeignDeadlineError: a deadline the Reader did not set (a
// handshake's) is not reported as the Reader's idle timeout, which it
// never had ("no frame for 0s").
func TestForeignDeadlineError(t *testing.T) {
	for _, set := range []bool{false, true} {
		rd := NewReader(deadlineReader{}, 64, 100)
		if set {
			rd.SetTimeouts(0, time.Second)
		}
		_, _, err := rd.Next()
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Next = %v, want a deadline error", err)
		}
		if strings.Contains(err.Error(), "no frame for") {
			t.Fatalf("Next = %q: blames an idle timeout the Reader does not have", err)
		}
	}
}

// TestBigFrameGrowth reads frames much larger than the read buffer, each
// larger than the last (so the pool never holds one big enough and the
// frame's buffer grows as its body arrives), in whole reads and in halves.
func TestBigFrameGrowth(t *testing.T) {
	frames := []testFrame{{1, pattern(5000, 1)}, {2, pattern(100_000, 2)}, {3, pattern(10, 3)}, {4, pattern(700_000, 4)}}
	in := stream(frames...)
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"plain": func(r io.Reader) io.Reader { return r },
		"half":  iotest.HalfReader,
	} {
		rd := NewReader(wrap(bytes.NewReader(in)), 1024, 1<<20)
		for i, f := range frames {
			typ, body, err := rd.Next()
			if err != nil || typ != f.typ || !bytes.Equal(body, f.body) {
				t.Fatalf("%s: frame %d: type %d len %d err %v, want type %d len %d", name, i, typ, len(body), err, f.typ, len(f.body))
			}
		}
		if _, _, err := rd.Next(); err != io.EOF {
			t.Fatalf("%s: at end: %v, want io.EOF", name, err)
		}
	}
}
