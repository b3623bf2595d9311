package transport

import (
	"errors"
	"testing"
)

func TestHelloRoundTrip(t *testing.T) {
	for _, h := range []hello{{1, 2, 3, 1}, {0, 0, 0, 0}, {^uint64(0), 1 << 40, 7, 64}} {
		b := h.append(nil)
		if len(b) != handshakeSize {
			t.Fatalf("encoded hello is %d bytes, want %d", len(b), handshakeSize)
		}
		got, err := parseHello(b)
		if err != nil || got != h {
			t.Fatalf("parseHello(append(%+v)) = %+v, %v", h, got, err)
		}
	}
	good := hello{7, 1, 2, 1}.append(nil)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", good[:handshakeSize-1]},
		{"long", append(good[:handshakeSize:handshakeSize], 0)},
		{"bad magic", append([]byte("mpx2"), good[4:]...)},
		{"bad version", append(append([]byte("mpx1"), 0, 1), good[6:]...)},
	} {
		if _, err := parseHello(tc.b); !errors.Is(err, ErrHandshake) {
			t.Errorf("%s: parseHello = %v, want ErrHandshake", tc.name, err)
		}
	}
}

// FuzzParseHello: the handshake decoder never panics, and whatever it
// accepts re-encodes to the same bytes.
func FuzzParseHello(f *testing.F) {
	f.Add(hello{7, 1, 2, 1}.append(nil))
	f.Add([]byte("mpx1"))
	f.Add(make([]byte, handshakeSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHello(b)
		if err != nil {
			if !errors.Is(err, ErrHandshake) {
				t.Fatalf("error %v does not wrap ErrHandshake", err)
			}
			return
		}
		if string(h.append(nil)) != string(b) {
			t.Fatalf("accepted %x, re-encodes as %x", b, h.append(nil))
		}
	})
}
