package kv

import (
	"testing"
)

func owned(c Command, token uint64) Command {
	c.Token = token
	return c
}

// TestForgedSessionRefused attacks the state machine the way a forger
// can: a client that knows another's ClientID sends a command in that session
// with a huge Seq. It must be refused without touching the session, so the
// owner's next commands execute, and it must not read the owner's stored
// reply either.
func TestForgedSessionRefused(t *testing.T) {
	const victim, mine, forged = 42, 0xa11ce, 0xbad
	m := newMachine(t, 1000)
	if res, dup := m.Apply(1, owned(get(victim, 1, "secret"), mine)); res.Status != StatusNotFound || dup {
		t.Fatalf("owner's first command: %v dup=%v", res.Status, dup)
	}
	m.Apply(1, put(0, 0, "secret", "s3cr3t"))
	if res, _ := m.Apply(2, owned(get(victim, 2, "secret"), mine)); string(res.Value) != "s3cr3t" {
		t.Fatalf("owner's get: %v %q", res.Status, res.Value)
	}
	// The forgery: Seq 2^40, and a replay of the owner's last Seq.
	for _, cmd := range []Command{
		owned(put(victim, 1<<40, "k", "forged"), forged),
		owned(get(victim, 2, "secret"), forged),
		owned(get(victim, 2, "secret"), 0),
	} {
		res, dup := m.Apply(3, cmd)
		if res.Status != StatusNotOwner || !dup || res.Value != nil {
			t.Fatalf("forged seq %d token %#x: %v %q dup=%v, want not-owner, nothing executed",
				cmd.Seq, cmd.Token, res.Status, res.Value, dup)
		}
	}
	if _, ok := m.Get([]byte("k")); ok {
		t.Fatal("the forged put executed")
	}
	for seq := uint64(3); seq <= 5; seq++ {
		v := string(rune('a' + seq))
		if res, dup := m.Apply(4, owned(put(victim, seq, "k", v), mine)); res.Status != StatusOK || dup {
			t.Fatalf("owner's put seq %d after the forgery: %v dup=%v", seq, res.Status, dup)
		}
		if got, _ := m.Get([]byte("k")); string(got) != v {
			t.Fatalf("owner's put seq %d: k = %q, want %q", seq, got, v)
		}
	}
	// A snapshot carries the token: a restored replica refuses the forger
	// and serves the owner's retry from the session.
	r := newMachine(t, 1000)
	if err := r.Restore(m.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if res, _ := r.Apply(5, owned(put(victim, 6, "k", "forged"), forged)); res.Status != StatusNotOwner {
		t.Fatalf("forgery after restore: %v", res.Status)
	}
	if res, dup := r.Apply(5, owned(put(victim, 5, "k", "f"), mine)); res.Status != StatusOK || !dup {
		t.Fatalf("owner's retry after restore: %v dup=%v", res.Status, dup)
	}
}

// Forged commands do not keep a session alive, and once it expired the
// next command registers its own token: the old owner is then refused
// (loudly), never silently merged into the new session.
func TestExpiredSessionReregisters(t *testing.T) {
	m := newMachine(t, 10)
	m.Apply(1, owned(put(7, 1, "k", "a"), 1))
	for slot := uint64(2); slot <= 10; slot++ {
		m.Apply(slot, owned(put(7, 100+slot, "k", "x"), 2)) // refused, and no renewal
	}
	if res, dup := m.Apply(11, owned(put(7, 1, "k", "b"), 2)); res.Status != StatusOK || dup {
		t.Fatalf("first command after expiry: %v dup=%v, want a new session", res.Status, dup)
	}
	if res, _ := m.Apply(11, owned(put(7, 2, "k", "c"), 1)); res.Status != StatusNotOwner {
		t.Fatalf("old owner after re-registration: %v, want not-owner", res.Status)
	}
}

// The token is part of the state every replica must agree on.
func TestHashCoversToken(t *testing.T) {
	a, b := newMachine(t, 100), newMachine(t, 100)
	a.Apply(1, owned(put(5, 1, "k", "v"), 1))
	b.Apply(1, owned(put(5, 1, "k", "v"), 2))
	if a.Hash() == b.Hash() {
		t.Fatal("sessions that differ only in their token hash alike")
	}
}
