package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// build encodes cmds in the batch format directly (independent of the
// Batcher), so decoder tests do not depend on the code under test elsewhere.
func build(cmds ...[]byte) []byte {
	b := make([]byte, HeaderSize)
	c := 0
	for _, cmd := range cmds {
		b = append(b, cmd...)
		c += len(cmd)
	}
	for _, cmd := range cmds {
		b = binary.AppendUvarint(b, uint64(len(cmd)))
	}
	putHeader(b, len(cmds), c)
	return b
}

func TestDecode(t *testing.T) {
	long := bytes.Repeat([]byte{'x'}, 300) // two-byte index entry
	valid := build([]byte("a"), []byte("bc"))
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), valid...))
	}
	tests := []struct {
		name  string
		batch []byte
		want  [][]byte // nil: malformed
	}{
		{"one", build([]byte("hello")), [][]byte{[]byte("hello")}},
		{"two", valid, [][]byte{[]byte("a"), []byte("bc")}},
		{"empty command", build([]byte{}, []byte("z")), [][]byte{{}, []byte("z")}},
		{"long command", build(long, []byte("y")), [][]byte{long, []byte("y")}},
		{"nil", nil, nil},
		{"short header", valid[:HeaderSize-1], nil},
		{"zero commands", build(), nil},
		{"bad version", mutate(func(b []byte) []byte { b[0] = 2; return b }), nil},
		{"count too high", mutate(func(b []byte) []byte { b[1] = 3; return b }), nil},
		{"count too low", mutate(func(b []byte) []byte { b[1] = 1; return b }), nil},
		{"huge count", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[1:], 1<<32-1); return b }), nil},
		{"cmd bytes too high", mutate(func(b []byte) []byte { b[5] = 4; return b }), nil},
		{"cmd bytes too low", mutate(func(b []byte) []byte { b[5] = 2; return b }), nil},
		{"huge cmd bytes", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[5:], 1<<32-1); return b }), nil},
		{"truncated index", valid[:len(valid)-1], nil},
		{"trailing byte", append(append([]byte(nil), valid...), 0), nil},
		{"length overruns", mutate(func(b []byte) []byte { b[len(b)-2] = 3; return b }), nil},
		{"unterminated uvarint", mutate(func(b []byte) []byte { b[len(b)-1] = 0x80; return b }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]byte
			err := ForEach(tt.batch, func(cmd []byte) error {
				got = append(got, cmd)
				return nil
			})
			if tt.want == nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("ForEach = %v (cmds %q), want ErrMalformed", err, got)
				}
				if got != nil {
					t.Fatalf("fn called %d times on a malformed batch", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("ForEach: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d commands, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Errorf("cmd %d = %q, want %q", i, got[i], tt.want[i])
				}
				if cap(got[i]) != len(got[i]) {
					t.Errorf("cmd %d: cap %d != len %d, an append could clobber the next command", i, cap(got[i]), len(got[i]))
				}
			}
			if n, err := Count(tt.batch); err != nil || n != len(tt.want) {
				t.Errorf("Count = %d, %v; want %d", n, err, len(tt.want))
			}
		})
	}
}

func TestForEachStopsAtError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := ForEach(build([]byte("a"), []byte("b"), []byte("c")), func([]byte) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Fatalf("ForEach = %v after %d calls, want stop after 2", err, calls)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(build([]byte("hello")))
	f.Add(build([]byte("a"), []byte{}, bytes.Repeat([]byte{'z'}, 200)))
	f.Add([]byte{})
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 255, 255, 255, 255, 255, 255, 255, 255, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		it, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// A batch that decodes must re-encode to exactly the same bytes:
		// the format has one encoding per command list.
		var cmds [][]byte
		for cmd, ok := it.Next(); ok; cmd, ok = it.Next() {
			cmds = append(cmds, cmd)
		}
		if again := build(cmds...); !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", data, again)
		}
	})
}
