package ledger

import (
	"bytes"
	"errors"
	"testing"
)

func enc(t testing.TB, c Command) []byte {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("%+v: %v", c, err)
	}
	return c.AppendEncode(nil)
}

// apply runs cmds in order at slots 1, 2, ... after m's last.
func apply(t testing.TB, m *Machine, cmds ...Command) []Result {
	t.Helper()
	var out []Result
	for _, c := range cmds {
		out = append(out, m.Apply(m.Applied()+1, enc(t, c)))
	}
	return out
}

func TestApply(t *testing.T) {
	const cl = 7
	tests := []struct {
		name string
		cmd  Command
		want Result
	}{
		{"open a", Command{Op: OpOpen, Client: cl, Seq: 1, From: "a"}, Result{Code: CodeOK}},
		{"open a again", Command{Op: OpOpen, Client: cl, Seq: 2, From: "a"}, Result{Code: CodeExists}},
		{"open b", Command{Op: OpOpen, Client: cl, Seq: 3, From: "b"}, Result{Code: CodeOK}},
		{"deposit to nobody", Command{Op: OpDeposit, Client: cl, Seq: 4, From: "zz", Amount: 5}, Result{Code: CodeNoAccount}},
		{"deposit", Command{Op: OpDeposit, Client: cl, Seq: 5, From: "a", Amount: 100}, Result{Code: CodeOK, Balance: 100}},
		{"overdraw", Command{Op: OpTransfer, Client: cl, Seq: 6, From: "a", To: "b", Amount: 101}, Result{Code: CodeInsufficient}},
		{"to nobody", Command{Op: OpTransfer, Client: cl, Seq: 7, From: "a", To: "zz", Amount: 1}, Result{Code: CodeNoAccount}},
		{"to self", Command{Op: OpTransfer, Client: cl, Seq: 8, From: "a", To: "a", Amount: 1}, Result{Code: CodeSameAccount}},
		{"transfer", Command{Op: OpTransfer, Client: cl, Seq: 9, From: "a", To: "b", Amount: 60}, Result{Code: CodeOK, Balance: 40}},
		{"balance b", Command{Op: OpBalance, Client: cl, Seq: 10, From: "b"}, Result{Code: CodeOK, Balance: 60}},
		{"balance nobody", Command{Op: OpBalance, Client: cl, Seq: 11, From: "zz"}, Result{Code: CodeNoAccount}},
		{"exact overdraw", Command{Op: OpTransfer, Client: cl, Seq: 12, From: "a", To: "b", Amount: 40}, Result{Code: CodeOK, Balance: 0}},
	}
	m := NewMachine()
	for _, tt := range tests {
		if got := apply(t, m, tt.cmd)[0]; got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
		if err := m.Check(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	if got := m.Balances(); got["a"] != 0 || got["b"] != 100 || m.Deposits() != 100 {
		t.Fatalf("balances %v deposits %d", got, m.Deposits())
	}
}

// TestRetryExecutesOnce: a retried transfer (same client and seq) comes
// back with the first result and moves no money again, even when other
// clients' commands ran in between and would change its outcome.
func TestRetryExecutesOnce(t *testing.T) {
	m := NewMachine()
	apply(t, m,
		Command{Op: OpOpen, Client: 1, Seq: 1, From: "a"},
		Command{Op: OpOpen, Client: 1, Seq: 2, From: "b"},
		Command{Op: OpDeposit, Client: 1, Seq: 3, From: "a", Amount: 100},
	)
	tr := Command{Op: OpTransfer, Client: 2, Seq: 1, From: "a", To: "b", Amount: 70}
	first := apply(t, m, tr)[0]
	if first != (Result{Code: CodeOK, Balance: 30}) {
		t.Fatalf("first transfer: %+v", first)
	}
	apply(t, m, Command{Op: OpDeposit, Client: 1, Seq: 4, From: "a", Amount: 1000})
	for i := 0; i < 3; i++ {
		if got := apply(t, m, tr)[0]; got != first {
			t.Fatalf("retry %d: %+v, want the first result %+v", i, got, first)
		}
	}
	if b := m.Balances(); b["a"] != 1030 || b["b"] != 70 {
		t.Fatalf("balances after retries %v, want a=1030 b=70", b)
	}
	// Once the client moved on, a delayed copy of an older command is stale.
	apply(t, m, Command{Op: OpBalance, Client: 2, Seq: 2, From: "a"})
	if got := apply(t, m, tr)[0]; got.Code != CodeStale {
		t.Fatalf("old seq: %+v, want stale", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := enc(t, Command{Op: OpTransfer, Client: 1, Seq: 1, From: "a", To: "b", Amount: 5})
	var c Command
	if err := c.Decode(good); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
		"op":        append([]byte{9}, good[1:]...),
		"client 0":  append(append([]byte{good[0]}, make([]byte, 8)...), good[9:]...),
	}
	for name, b := range cases {
		if err := c.Decode(b); !errors.Is(err, ErrBadCommand) {
			t.Errorf("%s: err %v, want ErrBadCommand", name, err)
		}
	}
	m := NewMachine()
	if r := m.Apply(1, []byte{1, 2, 3}); r.Code != CodeBadCommand {
		t.Fatalf("garbage applied as %+v", r)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	m := NewMachine()
	apply(t, m,
		Command{Op: OpOpen, Client: 1, Seq: 1, From: "alice"},
		Command{Op: OpOpen, Client: 1, Seq: 2, From: "bob"},
		Command{Op: OpDeposit, Client: 2, Seq: 1, From: "alice", Amount: 500},
		Command{Op: OpTransfer, Client: 3, Seq: 1, From: "alice", To: "bob", Amount: 123},
	)
	var buf bytes.Buffer
	if err := m.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	r := NewMachine()
	if err := r.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if r.Hash() != m.Hash() || r.Applied() != m.Applied() {
		t.Fatalf("restored hash or slot differs")
	}
	// The sessions came along: the retry is still deduplicated.
	tr := Command{Op: OpTransfer, Client: 3, Seq: 1, From: "alice", To: "bob", Amount: 123}
	if got := apply(t, r, tr)[0]; got != (Result{Code: CodeOK, Balance: 377}) || r.Balances()["bob"] != 123 {
		t.Fatalf("retry after restore: %+v, bob %d", got, r.Balances()["bob"])
	}
	// Every single-byte corruption is refused and leaves the machine as it was.
	before := r.Hash()
	for i := range buf.Len() {
		b := bytes.Clone(buf.Bytes())
		b[i] ^= 0x40
		if err := r.RestoreBytes(b); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("byte %d flipped: err %v", i, err)
		}
	}
	if r.RestoreBytes(buf.Bytes()[:10]) == nil || r.Hash() != before {
		t.Fatal("a failed restore changed the machine")
	}
}

func TestHashDependsOnState(t *testing.T) {
	a, b := NewMachine(), NewMachine()
	cmds := []Command{
		{Op: OpOpen, Client: 1, Seq: 1, From: "x"},
		{Op: OpOpen, Client: 1, Seq: 2, From: "y"},
		{Op: OpDeposit, Client: 1, Seq: 3, From: "x", Amount: 9},
	}
	apply(t, a, cmds...)
	apply(t, b, cmds...)
	if a.Hash() != b.Hash() {
		t.Fatal("same commands, different hashes")
	}
	apply(t, b, Command{Op: OpTransfer, Client: 1, Seq: 4, From: "x", To: "y", Amount: 1})
	a.Skip(a.Applied() + 1)
	if a.Hash() == b.Hash() {
		t.Fatal("different balances, same hash")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add((&Command{Op: OpTransfer, Client: 1, Seq: 1, From: "a", To: "b", Amount: 5}).AppendEncode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Command
		if c.Decode(b) != nil {
			return
		}
		if got := c.AppendEncode(nil); !bytes.Equal(got, b) {
			t.Fatalf("decode/encode not the identity: %x -> %x", b, got)
		}
	})
}

func FuzzRestore(f *testing.F) {
	m := NewMachine()
	apply(f, m, Command{Op: OpOpen, Client: 1, Seq: 1, From: "a"}, Command{Op: OpDeposit, Client: 1, Seq: 2, From: "a", Amount: 3})
	f.Add(m.AppendSnapshot(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewMachine()
		if r.RestoreBytes(b) != nil {
			return
		}
		if err := r.Check(); err != nil {
			t.Fatalf("restored a ledger breaking its invariant: %v", err)
		}
	})
}
