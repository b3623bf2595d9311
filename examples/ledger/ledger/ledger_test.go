package ledger

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mpaxos/mpaxos/sm"
)

// replica is a Machine behind the runtime's session table, as a node runs
// it; each client numbers its commands from 1.
type replica struct {
	m    *Machine
	a    *sm.Applier
	seqs map[uint64]uint64
	slot uint64
}

func newReplica(t testing.TB) *replica {
	m := NewMachine()
	a, err := sm.NewApplier(m, sm.DefaultSessionTTL)
	if err != nil {
		t.Fatal(err)
	}
	return &replica{m: m, a: a, seqs: map[uint64]uint64{}}
}

// do applies c as client cl's next command at the next slot.
func (r *replica) do(t testing.TB, cl uint64, c Command) Result {
	t.Helper()
	r.seqs[cl]++
	return r.at(t, cl, r.seqs[cl], c)
}

// at applies c as client cl's command seq (a retry when seq was applied).
func (r *replica) at(t testing.TB, cl, seq uint64, c Command) Result {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("%+v: %v", c, err)
	}
	r.slot++
	_, res, _, err := r.a.Apply(r.slot, c.Encode(cl, cl*7, seq))
	if err != nil || res.Status != sm.StatusOK {
		t.Fatalf("%+v: %v %v", c, res.Status, err)
	}
	out, err := DecodeResult(res.Value)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestApply(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
		want Result
	}{
		{"open a", Command{Op: OpOpen, From: "a"}, Result{Code: CodeOK}},
		{"open a again", Command{Op: OpOpen, From: "a"}, Result{Code: CodeExists}},
		{"open b", Command{Op: OpOpen, From: "b"}, Result{Code: CodeOK}},
		{"deposit to nobody", Command{Op: OpDeposit, From: "zz", Amount: 5}, Result{Code: CodeNoAccount}},
		{"deposit", Command{Op: OpDeposit, From: "a", Amount: 100}, Result{Code: CodeOK, Balance: 100}},
		{"overdraw", Command{Op: OpTransfer, From: "a", To: "b", Amount: 101}, Result{Code: CodeInsufficient}},
		{"to nobody", Command{Op: OpTransfer, From: "a", To: "zz", Amount: 1}, Result{Code: CodeNoAccount}},
		{"to self", Command{Op: OpTransfer, From: "a", To: "a", Amount: 1}, Result{Code: CodeSameAccount}},
		{"transfer", Command{Op: OpTransfer, From: "a", To: "b", Amount: 60}, Result{Code: CodeOK, Balance: 40}},
		{"balance b", Command{Op: OpBalance, From: "b"}, Result{Code: CodeOK, Balance: 60}},
		{"balance nobody", Command{Op: OpBalance, From: "zz"}, Result{Code: CodeNoAccount}},
		{"exact overdraw", Command{Op: OpTransfer, From: "a", To: "b", Amount: 40}, Result{Code: CodeOK, Balance: 0}},
	}
	r := newReplica(t)
	for _, tt := range tests {
		if got := r.do(t, 7, tt.cmd); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
		if err := r.m.Check(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	if got := r.m.Balances(); got["a"] != 0 || got["b"] != 100 || r.m.Deposits() != 100 {
		t.Fatalf("balances %v deposits %d", got, r.m.Deposits())
	}
	q := Command{Op: OpBalance, From: "b"}
	if res := r.m.Query(nil, q.Encode(0, 0, 0)); res.Status != sm.StatusOK || !bytes.Equal(res.Value, Result{Code: CodeOK, Balance: 100}.appendTo(nil)) {
		t.Fatalf("query: %v %x", res.Status, res.Value)
	}
}

// A retried transfer (same client and seq) comes back with the first
// result and moves no money again, even when other clients' commands ran
// in between and would change its outcome: the runtime's sessions, which
// this machine does not implement.
func TestRetryExecutesOnce(t *testing.T) {
	r := newReplica(t)
	r.do(t, 1, Command{Op: OpOpen, From: "a"})
	r.do(t, 1, Command{Op: OpOpen, From: "b"})
	r.do(t, 1, Command{Op: OpDeposit, From: "a", Amount: 100})
	pay := Command{Op: OpTransfer, From: "a", To: "b", Amount: 70}
	first := r.at(t, 2, 1, pay)
	r.do(t, 3, Command{Op: OpDeposit, From: "a", Amount: 50})
	again := r.at(t, 2, 1, pay)
	if first != again || first.Balance != 30 || r.m.Balances()["b"] != 70 {
		t.Fatalf("first %+v, retry %+v, b %d", first, again, r.m.Balances()["b"])
	}
}

func TestCheck(t *testing.T) {
	bal := Command{Op: OpBalance, From: "a"}
	if info, err := Check(bal.Encode(1, 2, 3), 1); err != nil || !info.ReadOnly || string(info.Header.Key) != "a" {
		t.Fatalf("balance: %+v %v", info, err)
	}
	// "{x}a" and "{x}b" hash alike (their tag), "a" and "b" not, over 8 groups.
	same := Command{Op: OpTransfer, From: "{x}a", To: "{x}b", Amount: 1}
	if info, err := Check(same.Encode(1, 2, 3), 8); err != nil || info.CrossGroup || info.ReadOnly {
		t.Fatalf("same group: %+v %v", info, err)
	}
	cross := Command{Op: OpTransfer, From: "a", To: "b", Amount: 1}
	if info, _ := Check(cross.Encode(1, 2, 3), 8); !info.CrossGroup {
		t.Fatal("a transfer across groups passed")
	}
	if info, _ := Check(cross.Encode(1, 2, 3), 1); info.CrossGroup {
		t.Fatal("one group, yet cross-group")
	}
	good := cross.Encode(1, 2, 3)
	for _, b := range [][]byte{good[:len(good)-1], append(bytes.Clone(good), 0), {1, 2}} {
		if _, err := Check(b, 1); err == nil {
			t.Fatalf("accepted %x", b)
		}
	}
	bad := []Command{
		{Op: OpDeposit, From: "a"},
		{Op: OpOpen, From: ""},
		{Op: OpOpen, From: "a", To: "b"},
		{Op: OpOpen, From: "a", Amount: 1},
		{Op: 3, From: "a"},
	}
	for _, c := range bad {
		if _, err := Check(c.Encode(1, 2, 3), 1); !errors.Is(err, ErrBadCommand) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	r := newReplica(t)
	r.do(t, 1, Command{Op: OpOpen, From: "a"})
	r.do(t, 1, Command{Op: OpOpen, From: "b"})
	r.do(t, 1, Command{Op: OpDeposit, From: "a", Amount: 100})
	r.do(t, 2, Command{Op: OpTransfer, From: "a", To: "b", Amount: 30})
	snap, err := r.a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	c := newReplica(t)
	if err := c.a.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if c.a.Hash() != r.a.Hash() || c.m.Balances()["b"] != 30 {
		t.Fatal("restored state differs")
	}
	for i := range len(snap) {
		if err := c.a.Restore(snap[:i]); !errors.Is(err, sm.ErrCorruptSnapshot) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
	raw := r.m.AppendSnapshot(nil)
	raw[5] ^= 1
	if err := NewMachine().Restore(bytes.NewReader(raw)); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("damaged: %v", err)
	}
}

func FuzzCheck(f *testing.F) {
	c := Command{Op: OpTransfer, From: "a", To: "b", Amount: 5}
	f.Add(c.Encode(1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := Check(b, 4); err != nil {
			return
		}
		m := NewMachine()
		if res := m.Apply(1, b); res.Status != sm.StatusOK {
			t.Fatalf("Check passed, Apply refused: %v", res.Status)
		}
	})
}

func FuzzRestore(f *testing.F) {
	m := NewMachine()
	m.accounts["a"] = new(int64)
	f.Add(m.AppendSnapshot(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := NewMachine()
		if err := m.Restore(bytes.NewReader(b)); err != nil {
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatal(err)
			}
			return
		}
		if !bytes.Equal(m.AppendSnapshot(nil), b) {
			t.Fatal("not canonical")
		}
	})
}
