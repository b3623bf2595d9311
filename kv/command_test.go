package kv

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mpaxos/mpaxos/sm"
)

func TestCommandRoundTrip(t *testing.T) {
	long := bytes.Repeat([]byte("v"), 200) // two-byte length
	tests := []struct {
		name string
		cmd  Command
		size int // expected encoded size
	}{
		{"put", Command{ClientID: 7, Token: 1<<64 - 1, Seq: 1, Op: OpPut, Key: []byte("k"), Value: []byte("v")}, 1 + 8 + 8 + 1 + 2 + 2},
		{"put empty value", Command{ClientID: 7, Seq: 2, Op: OpPut, Key: []byte("k"), Value: nil}, 1 + 8 + 8 + 1 + 2 + 1},
		{"put long", Command{ClientID: 1 << 63, Seq: 300, Op: OpPut, Key: []byte("key"), Value: long}, 1 + 8 + 8 + 2 + 4 + 2 + 200},
		{"get", Command{ClientID: 9, Seq: 5, Op: OpGet, Key: []byte("abc")}, 1 + 8 + 8 + 1 + 4},
		{"get empty key", Command{ClientID: 9, Seq: 6, Op: OpGet}, 1 + 8 + 8 + 1 + 1},
		{"delete", Command{ClientID: 9, Seq: 1<<64 - 1, Op: OpDelete, Key: []byte("abc")}, 1 + 8 + 8 + 10 + 4},
		{"cas", Command{ClientID: 3, Seq: 4, Op: OpCAS, Key: []byte("k"), Expect: []byte("old"), Value: []byte("new")}, 1 + 8 + 8 + 1 + 2 + 4 + 4},
		{"sessionless", Command{Op: OpGet, Key: []byte("k")}, 1 + 8 + 8 + 1 + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendCommand([]byte("prefix"), &tt.cmd)[len("prefix"):]
			if len(b) != tt.size || CommandSize(&tt.cmd) != tt.size {
				t.Fatalf("encoded %d bytes, CommandSize %d, want %d", len(b), CommandSize(&tt.cmd), tt.size)
			}
			got, err := DecodeCommand(b)
			if err != nil {
				t.Fatal(err)
			}
			if !commandsEqual(got, tt.cmd) {
				t.Fatalf("decoded %+v, want %+v", got, tt.cmd)
			}
			if cap(got.Key) != len(got.Key) || cap(got.Value) != len(got.Value) || cap(got.Expect) != len(got.Expect) {
				t.Fatal("decoded fields' capacity not clipped")
			}
		})
	}
}

// Fields an op does not use are not encoded, so they do not survive a round
// trip.
func TestCommandUnusedFieldsDropped(t *testing.T) {
	c := Command{ClientID: 1, Seq: 1, Op: OpGet, Key: []byte("k"), Value: []byte("v"), Expect: []byte("e")}
	got, err := DecodeCommand(AppendCommand(nil, &c))
	if err != nil {
		t.Fatal(err)
	}
	if got.Value != nil || got.Expect != nil {
		t.Fatalf("get decoded with value %q expect %q", got.Value, got.Expect)
	}
}

func commandsEqual(a, b Command) bool {
	return a.ClientID == b.ClientID && a.Token == b.Token && a.Seq == b.Seq && a.Op == b.Op &&
		bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value) && bytes.Equal(a.Expect, b.Expect)
}

func TestDecodeCommandMalformed(t *testing.T) {
	put := AppendCommand(nil, &Command{ClientID: 7, Token: 9, Seq: 1, Op: OpPut, Key: []byte("k"), Value: []byte("v")})
	with := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), put...)) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", put[:8]},
		{"no token", put[:16]},
		{"op zero", with(func(b []byte) []byte { b[0] = 0; return b })},
		{"op unknown", with(func(b []byte) []byte { b[0] = 5; return b })},
		{"no seq", put[:17]},
		{"overlong seq", append(append(append([]byte(nil), put[:17]...), 0x81, 0x00), put[18:]...)},
		{"no key length", put[:18]},
		{"key past end", with(func(b []byte) []byte { b[18] = 9; return b })},
		{"no value", put[:20]},
		{"value past end", put[:len(put)-1]},
		{"trailing", append(append([]byte(nil), put...), 0)},
		{"get with value", with(func(b []byte) []byte { b[0] = byte(OpGet); return b })},
		{"cas missing value", with(func(b []byte) []byte { b[0] = byte(OpCAS); return b })},
		{"huge length", append(append([]byte(nil), put[:18]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := DecodeCommand(tt.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeCommand(%x) = %+v, %v; want ErrMalformed", tt.b, c, err)
			}
		})
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range []Command{
		{ClientID: 7, Seq: 1, Op: OpPut, Key: []byte("k"), Value: []byte("v")},
		{ClientID: 9, Seq: 300, Op: OpGet, Key: []byte("key")},
		{ClientID: 1, Seq: 2, Op: OpDelete, Key: []byte("x")},
		{ClientID: 3, Seq: 4, Op: OpCAS, Key: []byte("k"), Expect: []byte("a"), Value: []byte("b")},
		multiOf(f, Command{Op: OpIncr, Key: []byte("n"), Delta: 2}, Command{Op: OpGet, Key: []byte("n")}),
	} {
		f.Add(AppendCommand(nil, &c))
	}
	f.Add([]byte{})
	f.Add([]byte{4, 0, 0, 0, 0, 0, 0, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// One encoding per command: decoding then encoding gives b back.
		if again := AppendCommand(nil, &c); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, again)
		}
		if CommandSize(&c) != len(b) {
			t.Fatalf("CommandSize %d, encoded %d", CommandSize(&c), len(b))
		}
	})
}

// A command of another machine (OpUser and up) is sm's header and its
// Value as is: what the client library sends for examples/ledger.
func TestUserOpIsHeaderAndBody(t *testing.T) {
	c := Command{Op: OpUser + 3, ClientID: 5, Token: 6, Seq: 7, Key: []byte("acct"), Value: []byte{1, 2, 3}}
	b := AppendCommand(nil, &c)
	if len(b) != CommandSize(&c) {
		t.Fatalf("CommandSize %d, encoded %d", CommandSize(&c), len(b))
	}
	h, body, err := sm.DecodeHeader(b)
	if err != nil || h.Op != byte(c.Op) || h.ClientID != 5 || h.Token != 6 || h.Seq != 7 || string(h.Key) != "acct" || string(body) != "\x01\x02\x03" {
		t.Fatalf("%+v %x %v", h, body, err)
	}
	if _, err := DecodeCommand(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("kv decoded another machine's command: %v", err)
	}
	// kv's own commands are sm headers too.
	put := Command{Op: OpPut, ClientID: 1, Token: 2, Seq: 3, Key: []byte("k"), Value: []byte("v")}
	if h, _, err := sm.DecodeHeader(AppendCommand(nil, &put)); err != nil || string(h.Key) != "k" || h.Seq != 3 {
		t.Fatalf("kv command as an sm header: %+v %v", h, err)
	}
}
