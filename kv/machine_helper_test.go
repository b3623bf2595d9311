package kv

import (
	"testing"

	"github.com/mpaxos/mpaxos/sm"
)

// testMachine is a Machine behind the runtime's session table, as a node
// runs it: the tests of this package drive it with Commands and read back
// Results, sessions and snapshots of both.
type testMachine struct {
	*Machine
	a   *sm.Applier
	buf []byte
}

func newMachine(t testing.TB, ttl uint64) *testMachine {
	t.Helper()
	m := NewMachine()
	a, err := sm.NewApplier(m, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return &testMachine{Machine: m, a: a}
}

// Apply encodes c and applies it through the session table; dup reports
// a command the table answered without running it.
func (m *testMachine) Apply(slot uint64, c Command) (Result, bool) {
	m.buf = AppendCommand(m.buf[:0], &c)
	_, res, dup, err := m.a.Apply(slot, m.buf)
	if err != nil {
		panic(err)
	}
	return res, dup
}

// Snapshot returns the group snapshot: sessions and keys.
func (m *testMachine) Snapshot() []byte {
	b, err := m.a.Snapshot()
	if err != nil {
		panic(err)
	}
	return b
}

// Restore restores a group snapshot (Snapshot's, or kv's version 2).
func (m *testMachine) Restore(b []byte) error { return m.a.Restore(b) }

// Hash covers keys and sessions.
func (m *testMachine) Hash() uint64 { return m.a.Hash() }

// Sessions is the number of sessions the table holds.
func (m *testMachine) Sessions() int { return m.a.Sessions().Len() }
