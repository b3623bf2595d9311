package kv

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/mpaxos/mpaxos/route"
)

func multiOf(t testing.TB, cmds ...Command) Command {
	t.Helper()
	var m Multi
	for i := range cmds {
		if err := m.Add(&cmds[i]); err != nil {
			t.Fatal(err)
		}
	}
	return m.Command()
}

// results decodes an OpMulti's Result.Value.
func results(t testing.TB, v []byte) []Result {
	t.Helper()
	var out []Result
	for len(v) > 0 {
		r, rest, err := NextResult(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
		v = rest
	}
	return out
}

func TestMultiRoundTrip(t *testing.T) {
	subs := []Command{
		{Op: OpPut, Key: []byte("a"), Value: []byte("1")},
		{Op: OpGet, Key: []byte("a")},
		{Op: OpIncr, Key: []byte("n"), Delta: -3},
		{Op: OpCAS, Key: []byte("a"), Expect: []byte("1"), Value: []byte("2")},
		{Op: OpDelete, Key: []byte("a")},
		{Op: OpPutNX, Key: []byte("b"), Value: nil},
		{Op: OpPutXX, Key: nil, Value: []byte("x")},
	}
	c := multiOf(t, subs...)
	c.ClientID, c.Token, c.Seq = 5, 6, 7
	b := AppendCommand(nil, &c)
	if len(b) != CommandSize(&c) {
		t.Fatalf("encoded %d bytes, CommandSize %d", len(b), CommandSize(&c))
	}
	got, err := DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !commandsEqual(got, c) {
		t.Fatalf("decoded %+v, want %+v", got, c)
	}
	body := got.Value
	for i, want := range subs {
		sub, rest, err := nextSub(body)
		if err != nil {
			t.Fatalf("sub-command %d: %v", i, err)
		}
		if !commandsEqual(sub, want) || sub.Delta != want.Delta {
			t.Fatalf("sub-command %d decoded %+v, want %+v", i, sub, want)
		}
		body = rest
	}
	if len(body) != 0 {
		t.Fatalf("%d bytes after the last sub-command", len(body))
	}
}

func TestMultiMalformed(t *testing.T) {
	put := multiOf(t, Command{Op: OpPut, Key: []byte("k"), Value: []byte("v")}).Value
	tooMany := bytes.Repeat(multiOf(t, Command{Op: OpGet, Key: []byte("k")}).Value, MaxMulti+1)
	tests := []struct {
		name string
		body []byte
	}{
		{"nested multi", append([]byte{byte(OpMulti)}, put[1:]...)},
		{"op zero", append([]byte{0}, put[1:]...)},
		{"op unknown", append([]byte{byte(OpMulti + 1)}, put[1:]...)},
		{"truncated", put[:len(put)-1]},
		{"trailing byte", append(append([]byte(nil), put...), byte(OpGet))},
		{"too many", tooMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendCommand(nil, &Command{ClientID: 1, Seq: 1, Op: OpMulti, Value: tt.body})
			if c, err := DecodeCommand(b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeCommand = %+v, %v; want ErrMalformed", c, err)
			}
			m := newMachine(t, 100)
			if r, _ := m.Apply(1, Command{ClientID: 1, Seq: 1, Op: OpMulti, Value: tt.body}); r.Status != StatusBadRequest {
				t.Fatalf("Apply = %v, want StatusBadRequest", r.Status)
			}
			if m.Len() != 0 {
				t.Fatalf("a malformed multi stored %d keys", m.Len())
			}
		})
	}
	var m Multi
	if err := m.Add(&Command{Op: OpMulti}); err == nil {
		t.Error("Multi.Add took an OpMulti")
	}
}

// TestMultiExecutesInOrderOnce: the sub-commands run in order, each seeing
// the ones before it, and a retry of the multi (same session and seq)
// returns the stored results without running any of them again.
func TestMultiExecutesInOrderOnce(t *testing.T) {
	m := newMachine(t, 100)
	c := multiOf(t,
		Command{Op: OpIncr, Key: []byte("n"), Delta: 1},
		Command{Op: OpIncr, Key: []byte("n"), Delta: 1},
		Command{Op: OpGet, Key: []byte("n")},
		Command{Op: OpPutNX, Key: []byte("n"), Value: []byte("x")},
		Command{Op: OpDelete, Key: []byte("missing")},
		Command{Op: OpPut, Key: []byte("e"), Value: nil},
		Command{Op: OpGet, Key: []byte("e")},
	)
	c.ClientID, c.Token, c.Seq = 9, 9, 1
	want := []string{"ok 1", "ok 2", "ok 2", "cas-failed ", "not-found ", "ok ", "ok "}
	check := func(r Result, dup, wantDup bool) {
		t.Helper()
		if r.Status != StatusOK || dup != wantDup {
			t.Fatalf("Apply = %v dup %v, want ok dup %v", r.Status, dup, wantDup)
		}
		got := results(t, r.Value)
		if len(got) != len(want) {
			t.Fatalf("%d results, want %d", len(got), len(want))
		}
		for i, g := range got {
			if s := fmt.Sprintf("%v %s", g.Status, g.Value); s != want[i] {
				t.Errorf("result %d = %q, want %q", i, s, want[i])
			}
		}
	}
	r, dup := m.Apply(1, c)
	check(r, dup, false)
	r, dup = m.Apply(2, c)
	check(r, dup, true)
	if v, _ := m.Get([]byte("n")); string(v) != "2" {
		t.Fatalf("n = %q after the retry, want 2 (executed once)", v)
	}
}

// TestMultiApplyAllocatesOnce: a multi costs one allocation (its results)
// however many commands it holds.
func TestMultiApplyAllocatesOnce(t *testing.T) {
	m := newMachine(t, 1<<20)
	var mb Multi
	for i := 0; i < 64; i++ {
		mb.Add(&Command{Op: OpGet, Key: []byte(fmt.Sprintf("k%d", i))})
	}
	c := mb.Command()
	allocs := testing.AllocsPerRun(100, func() { m.Apply(1, c) })
	if allocs > 1 {
		t.Fatalf("%.1f allocations per 64-command multi, want 1", allocs)
	}
}

// A multi of gets reads the same results off the state as Apply would give,
// without a slot; any other multi is not read-only.
func TestReadMulti(t *testing.T) {
	m := newMachine(t, 100)
	m.Apply(1, Command{Op: OpPut, Key: []byte("a"), Value: []byte("1")})
	m.Apply(1, Command{Op: OpPut, Key: []byte("e"), Value: nil})
	gets := multiOf(t, Command{Op: OpGet, Key: []byte("a")}, Command{Op: OpGet, Key: []byte("nope")}, Command{Op: OpGet, Key: []byte("e")})
	if !ReadOnlyMulti(gets.Value) {
		t.Fatal("a multi of gets is not read-only")
	}
	got, ok := m.ReadMulti([]byte("x"), gets.Value)
	want, _ := m.Apply(2, gets)
	if !ok || !bytes.Equal(got, append([]byte("x"), want.Value...)) {
		t.Fatalf("ReadMulti = %x %v, Apply's results %x", got, ok, want.Value)
	}
	mixed := multiOf(t, Command{Op: OpGet, Key: []byte("a")}, Command{Op: OpPut, Key: []byte("a"), Value: []byte("2")})
	if ReadOnlyMulti(mixed.Value) || ReadOnlyMulti([]byte{byte(OpGet)}) {
		t.Fatal("a multi with a put, or a malformed one, is read-only")
	}
	if got, ok := m.ReadMulti(nil, mixed.Value); ok || got != nil {
		t.Fatalf("ReadMulti of a multi with a put = %x %v", got, ok)
	}
}

// An OpMulti routes by its first key and is cross-group only when its keys
// span groups: the RESP front end sends one group's pipeline as one.
func TestCheckMultiGroups(t *testing.T) {
	mk := func(keys ...string) []byte {
		var m Multi
		for _, k := range keys {
			m.Add(&Command{Op: OpGet, Key: []byte(k)})
		}
		c := m.Command()
		c.ClientID, c.Seq = 1, 1
		return AppendCommand(nil, &c)
	}
	same := mk("{t}a", "{t}b", "{t}c")
	info, err := Check(same, 8)
	if err != nil || info.CrossGroup || !info.ReadOnly || string(info.Header.Key) != "{t}a" {
		t.Fatalf("one group: %+v %v", info, err)
	}
	// Find two keys of different groups of 8.
	other := ""
	for i := 0; other == ""; i++ {
		if k := fmt.Sprint("k", i); route.GroupOf([]byte(k), 8) != route.GroupOf([]byte("{t}a"), 8) {
			other = k
		}
	}
	if info, _ := Check(mk("{t}a", other), 8); !info.CrossGroup {
		t.Fatal("keys of two groups passed as one group")
	}
	if info, _ := Check(mk("{t}a", other), 1); info.CrossGroup {
		t.Fatal("one group in all, yet cross-group")
	}
}
