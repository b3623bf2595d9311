package sm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"

	"github.com/mpaxos/mpaxos/internal/statehash"
)

// counter is the smallest Machine: it adds each command's body length to a
// total and returns the total as its Value. It has no Capturer, so the
// runtime snapshots it at once.
type counter struct {
	total, applied uint64
	runs           int // how many commands executed
}

func (c *counter) Apply(slot uint64, cmd []byte) Result {
	_, body, err := DecodeHeader(cmd)
	if err != nil {
		return Result{Status: StatusBadRequest}
	}
	c.total += uint64(len(body))
	c.applied = slot
	c.runs++
	return Result{Status: StatusOK, Value: binary.LittleEndian.AppendUint64(nil, c.total)}
}

func (c *counter) Query(dst, _ []byte) Result {
	return Result{Status: StatusOK, Value: binary.LittleEndian.AppendUint64(dst, c.total)}
}

func (c *counter) Snapshot(w io.Writer) error {
	_, err := w.Write(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, c.total), c.applied))
	return err
}

func (c *counter) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(b) != 16 {
		return ErrCorruptSnapshot
	}
	c.total, c.applied = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
	return nil
}

func (c *counter) Hash() uint64 { return statehash.Mix(c.total ^ c.applied<<32) }

func cmd(client, token, seq uint64, body string) []byte {
	return append(AppendHeader(nil, &Header{Op: 1, ClientID: client, Token: token, Seq: seq, Key: []byte("k")}), body...)
}

func newTestApplier(t *testing.T, ttl uint64) (*Applier, *counter) {
	t.Helper()
	c := &counter{}
	a, err := NewApplier(c, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

func apply(t *testing.T, a *Applier, slot uint64, b []byte) (Result, bool) {
	t.Helper()
	_, res, dup, err := a.Apply(slot, b)
	if err != nil {
		t.Fatal(err)
	}
	return res, dup
}

func TestSessionsExactlyOnce(t *testing.T) {
	a, c := newTestApplier(t, 100)
	steps := []struct {
		slot   uint64
		cmd    []byte
		status Status
		total  uint64 // the Value's total, for StatusOK
		dup    bool
	}{
		{1, cmd(1, 7, 1, "abc"), StatusOK, 3, false},
		{1, cmd(1, 7, 1, "abc"), StatusOK, 3, true},     // a retry: the stored reply
		{2, cmd(1, 7, 3, "de"), StatusOK, 5, false},     // a gap executes
		{2, cmd(1, 7, 2, "zzzz"), StatusStale, 0, true}, // overtaken
		{2, cmd(1, 8, 4, "x"), StatusNotOwner, 0, true}, // another token
		{3, cmd(1, 7, 3, "de"), StatusOK, 5, true},      // the owner's retry still answered
		{3, cmd(0, 0, 0, "f"), StatusOK, 6, false},      // no session: always runs
		{3, cmd(0, 0, 0, "f"), StatusOK, 7, false},
		{4, cmd(2, 9, 1, ""), StatusOK, 7, false},
	}
	for i, s := range steps {
		res, dup := apply(t, a, s.slot, s.cmd)
		if res.Status != s.status || dup != s.dup {
			t.Fatalf("step %d: %v dup=%v, want %v dup=%v", i, res.Status, dup, s.status, s.dup)
		}
		if s.status == StatusOK && binary.LittleEndian.Uint64(res.Value) != s.total {
			t.Fatalf("step %d: total %d, want %d", i, binary.LittleEndian.Uint64(res.Value), s.total)
		}
	}
	if c.runs != 5 || a.Sessions().Len() != 2 {
		t.Fatalf("%d runs, %d sessions; want 5, 2", c.runs, a.Sessions().Len())
	}
	if _, _, _, err := a.Apply(5, []byte{1, 2}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short command: %v", err)
	}
}

// A session unused for TTL slots is gone, to the slot, between sweeps
// too; the next command of its client starts it anew with its own token.
func TestSessionsExpire(t *testing.T) {
	a, c := newTestApplier(t, 16) // sweeps every 2 slots
	apply(t, a, 1, cmd(1, 7, 1, "a"))
	if _, dup := apply(t, a, 16, cmd(1, 7, 1, "a")); !dup {
		t.Fatal("expired a slot early")
	}
	if _, dup := apply(t, a, 32, cmd(1, 7, 1, "a")); dup || c.runs != 2 {
		t.Fatalf("not expired at its TTL: dup=%v runs=%d", dup, c.runs)
	}
	if res, _ := apply(t, a, 33, cmd(1, 99, 2, "a")); res.Status != StatusNotOwner {
		t.Fatalf("a live session took another token: %v", res.Status)
	}
	apply(t, a, 100, cmd(2, 1, 1, "")) // sweeps client 1 away
	if a.Sessions().Len() != 1 {
		t.Fatalf("%d sessions after the sweep", a.Sessions().Len())
	}
}

func TestApplyPanicsOnOldSlot(t *testing.T) {
	a, _ := newTestApplier(t, 10)
	apply(t, a, 5, cmd(1, 1, 1, ""))
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	a.Apply(4, cmd(1, 1, 2, ""))
}

func TestNewSessionsTTL(t *testing.T) {
	if _, err := NewSessions(0); !errors.Is(err, ErrSessionTTL) {
		t.Fatal(err)
	}
	if err := (Type{Name: "x"}).Validate(); !errors.Is(err, ErrType) {
		t.Fatal(err)
	}
}

func sample(t *testing.T) *Applier {
	a, _ := newTestApplier(t, 100)
	apply(t, a, 1, cmd(5, 55, 1, "abc"))
	apply(t, a, 2, cmd(3, 33, 4, "de"))
	apply(t, a, 2, cmd(0, 0, 0, "f"))
	return a
}

func TestSnapshotRoundTrip(t *testing.T) {
	a := sample(t)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, c := newTestApplier(t, 100)
	apply(t, b, 9, cmd(9, 9, 1, "stale")) // Restore replaces, not merges
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if b.Hash() != a.Hash() || b.Sessions().Len() != 2 || c.total != 6 {
		t.Fatalf("restored: %d sessions, total %d", b.Sessions().Len(), c.total)
	}
	// The table continues where it was: slot 2 is not old, retries answer.
	if res, dup := apply(t, b, 2, cmd(3, 33, 4, "de")); !dup || binary.LittleEndian.Uint64(res.Value) != 5 {
		t.Fatalf("retry after restore: dup=%v %x", dup, res.Value)
	}
	again, _ := b.Snapshot()
	if !bytes.Equal(again, snap) {
		t.Fatal("equal state, different snapshot bytes")
	}
}

// Every truncation and bit flip is refused, and nothing changes.
func TestRestoreDamaged(t *testing.T) {
	snap, _ := sample(t).Snapshot()
	b, _ := newTestApplier(t, 100)
	apply(t, b, 1, cmd(1, 1, 1, "mine"))
	before := b.Hash()
	check := func(what string, d []byte) {
		t.Helper()
		if err := b.Restore(d); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("%s: %v", what, err)
		}
		if b.Hash() != before {
			t.Fatalf("%s: a failed Restore changed the state", what)
		}
	}
	for n := range len(snap) {
		check("truncated", snap[:n])
	}
	for i := range len(snap) * 8 {
		d := bytes.Clone(snap)
		d[i/8] ^= 1 << (i % 8)
		check("bit flip", d)
	}
}

func reseal(b []byte) []byte {
	body := b[:len(b)-4]
	return binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
}

// Damage behind a valid checksum is refused by the structural checks.
func TestRestoreInconsistent(t *testing.T) {
	snap, _ := sample(t).Snapshot()
	// Layout: header 13 | nSessions=2 | session client 3 | session client 5 | machine 16 | crc
	const first = envelopeHeader + 1
	const second = first + 8 + 8 + 1 + 1 + 1 + 1 + 8 // value: the 8-byte total
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(snap)
		f(b)
		return reseal(b)
	}
	if snap[envelopeHeader] != 2 || binary.LittleEndian.Uint64(snap[first:]) != 3 || binary.LittleEndian.Uint64(snap[second:]) != 5 {
		t.Fatalf("layout changed; fix the offsets in this test: %x", snap)
	}
	tests := map[string][]byte{
		"bad version":        edit(func(b []byte) { b[4] = 2 }),
		"client id zero":     edit(func(b []byte) { clear(b[first : first+8]) }),
		"unsorted":           edit(func(b []byte) { b[second] = 3 }),
		"seq zero":           edit(func(b []byte) { b[first+16] = 0 }),
		"last after applied": edit(func(b []byte) { b[first+17] = 3 }),
		"bad status":         edit(func(b []byte) { b[first+18] = 0 }),
		"huge count":         edit(func(b []byte) { b[envelopeHeader] = 0x7f }),
		"machine part short": reseal(append(bytes.Clone(snap[:len(snap)-5]), 0, 0, 0, 0)),
		"not an envelope":    reseal([]byte("MPKV\x02xxxxxxxxxxxxxxxxxx")),
	}
	b, _ := newTestApplier(t, 100)
	if err := b.Restore(reseal(snap)); err != nil {
		t.Fatalf("resealing alone broke it: %v", err)
	}
	for name, d := range tests {
		if err := b.Restore(d); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDecodeHeader(t *testing.T) {
	h := Header{Op: 9, ClientID: 1 << 60, Token: 3, Seq: 300, Key: []byte("key")}
	b := append(AppendHeader(nil, &h), "body"...)
	got, body, err := DecodeHeader(b)
	if err != nil || got.Op != 9 || got.ClientID != h.ClientID || got.Token != 3 || got.Seq != 300 ||
		string(got.Key) != "key" || string(body) != "body" {
		t.Fatalf("%+v %q %v", got, body, err)
	}
	for n := range HeaderFixed + 2 + 1 + 3 {
		if _, _, err := DecodeHeader(b[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
	overlong := append(bytes.Clone(b[:HeaderFixed]), 0x80, 0x00, 0)
	if _, _, err := DecodeHeader(overlong); !errors.Is(err, ErrMalformed) {
		t.Fatalf("overlong seq: %v", err)
	}
	if got := testing.AllocsPerRun(100, func() { DecodeHeader(b) }); got != 0 {
		t.Fatalf("DecodeHeader allocates %v", got)
	}
}

func FuzzDecodeHeader(f *testing.F) {
	f.Add(AppendHeader(nil, &Header{Op: 1, ClientID: 2, Token: 3, Seq: 4, Key: []byte("k")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, body, err := DecodeHeader(b)
		var s Header
		if ok := decodeSession(b, &s); ok && (s.Op != b[0] || (err == nil && (s.ClientID != h.ClientID || s.Token != h.Token || s.Seq != h.Seq))) {
			t.Fatalf("decodeSession %+v, DecodeHeader %+v", s, h)
		} else if !ok && err == nil {
			t.Fatalf("decodeSession refused a header DecodeHeader took: %x", b)
		}
		if err != nil {
			return
		}
		if again := append(AppendHeader(nil, &h), body...); !bytes.Equal(again, b) {
			t.Fatalf("not canonical: %x -> %x", b, again)
		}
	})
}

func FuzzRestore(f *testing.F) {
	a, _ := NewApplier(&counter{}, 100)
	a.Apply(1, cmd(1, 2, 3, "x"))
	snap, _ := a.Snapshot()
	f.Add(snap[:len(snap)-4])
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
		a, _ := newTestApplier(t, 100)
		if err := a.Restore(b); err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("error %v does not wrap ErrCorruptSnapshot", err)
			}
			return
		}
		if again, _ := a.Snapshot(); !bytes.Equal(again, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, again)
		}
	})
}
