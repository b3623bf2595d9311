package resp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
)

// feed gives the reader its input n bytes at a time.
type feed struct {
	b []byte
	n int
}

func (f *feed) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), f.n, len(f.b))
	copy(p, f.b[:k])
	f.b = f.b[k:]
	return k, nil
}

// readAll parses everything in in, fed step bytes at a time, and returns
// the commands (joined by spaces) and the first error.
func readAll(in []byte, step, maxRequest int) ([]string, error) {
	r := newReader(&feed{b: in, n: step}, new(atomic.Int64), 16, maxRequest)
	var got []string
	for {
		args, err := r.next()
		if err != nil {
			return got, err
		}
		if args == nil {
			if err := r.fill(); err != nil {
				if err == io.EOF {
					return got, nil
				}
				return got, err
			}
			continue
		}
		var parts []string
		for _, a := range args {
			parts = append(parts, string(a))
		}
		got = append(got, strings.Join(parts, " "))
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  string // "" none; else a substring of the protocol error
	}{
		{"one", "*1\r\n$4\r\nPING\r\n", []string{"PING"}, ""},
		{"pipelined", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", []string{"GET k", "SET k "}, ""},
		{"binary bulk", "*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\x00\xff\r\n", []string{"ECHO \r\n\x00\xff"}, ""},
		{"inline refused", "PING\r\n", nil, "expected '*'"},
		{"garbage", "\x00\x13\xfe\x7f", nil, "expected '*'"},
		{"count not a number", "*x\r\n", nil, "bad '*' header"},
		{"count zero", "*0\r\n", nil, "0 arguments"},
		{"count negative", "*-1\r\n", nil, "-1 arguments"},
		{"too many args", "*17\r\n", nil, "17 arguments"},
		{"count above the limit's digits", "*99999999999999999999\r\n", nil, "header"},
		{"LF without CR", "*1\n", nil, "bad '*' header"},
		{"no bulk marker", "*1\r\n:1\r\n", nil, "expected '$'"},
		{"bulk length 2^40", "*1\r\n$1099511627776\r\n", nil, "above"},
		{"bulk past MaxRequest", "*1\r\n$1000\r\n", nil, "larger than"},
		{"bulk negative", "*1\r\n$-1\r\n", nil, "bulk length -1"},
		{"bulk without CRLF", "*1\r\n$1\r\nab\r\n", nil, "not followed by CRLF"},
		{"unterminated header", "*1" + strings.Repeat("1", 40), nil, "longer than"},
		{"unterminated bulk header", "*1\r\n$" + strings.Repeat("9", 40), nil, "longer than"},
		{"second command bad", "*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n", []string{"PING"}, "bad '$' header"},
	}
	for _, tt := range tests {
		for _, step := range []int{1, 3, 1 << 20} {
			got, err := readAll([]byte(tt.in), step, 512)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("%s (step %d): got %q, want %q", tt.name, step, got, tt.want)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("%s (step %d): %v", tt.name, step, err)
			case tt.err != "" && (!errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("%s (step %d): error %v, want one with %q", tt.name, step, err, tt.err)
			}
		}
	}
}

// A command as large as MaxRequest is read, byte by byte too; the buffer
// stays within MaxRequest plus minBuffer and shrinks back afterwards.
func TestReaderLargeCommand(t *testing.T) {
	const max = 64 << 10
	val := bytes.Repeat([]byte{'v'}, max-40)
	in := append(cmd("SET", "k", string(val)), cmd("PING")...)
	for _, step := range []int{1, 1000, 1 << 20} {
		r := newReader(&feed{b: in, n: step}, new(atomic.Int64), 16, max)
		var n int
		for n < 2 {
			args, err := r.next()
			if err != nil {
				t.Fatal(err)
			}
			if args == nil {
				if err := r.fill(); err != nil {
					t.Fatalf("step %d: %v after %d commands", step, err, n)
				}
				if len(r.buf) > max+minBuffer {
					t.Fatalf("buffer grew to %d", len(r.buf))
				}
				continue
			}
			if n == 0 && !bytes.Equal(args[2], val) {
				t.Fatal("value corrupted")
			}
			n++
		}
		r.fill() // EOF; the emptied buffer is given back
		if len(r.buf) != minBuffer {
			t.Fatalf("buffer holds %d bytes after the large command", len(r.buf))
		}
	}
}

// Once warm, parsing a pipelined burst allocates nothing.
func TestReaderAllocs(t *testing.T) {
	var in []byte
	for i := 0; i < 16; i++ {
		in = append(in, cmd("SET", "key:000000001234", "xxx")...)
	}
	src := bytes.NewReader(in)
	r := newReader(src, new(atomic.Int64), 16, 1<<20)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(in)
		r.start, r.end = 0, 0
		if err := r.fill(); err != nil {
			t.Fatal(err)
		}
		for {
			args, err := r.next()
			if err != nil {
				t.Fatal(err)
			}
			if args == nil {
				break
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per burst of 16 commands", allocs)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), 1)
	f.Add([]byte("*1\r\n$1099511627776\r\n"), 7)
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n"), 5)
	f.Fuzz(func(t *testing.T, in []byte, step int) {
		if step < 1 || step > 1<<16 {
			step = 1
		}
		one, err1 := readAll(in, 1<<20, 256)
		pieces, err2 := readAll(in, step, 256)
		// However the input is cut, the same commands come out, and
		// the same kind of end.
		if strings.Join(one, "|") != strings.Join(pieces, "|") || (err1 == nil) != (err2 == nil) {
			t.Fatalf("whole: %q %v; in pieces of %d: %q %v", one, err1, step, pieces, err2)
		}
		if err1 != nil && !errors.Is(err1, ErrProtocol) {
			t.Fatalf("error %v is not a protocol error", err1)
		}
	})
}
