package engine

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

// Addresses given with changes are chosen with the configuration: every
// member's Ready.Membership carries them, a removed member's address goes
// with it, and a later change keeps the ones it does not replace.
func TestConfChangeCarriesAddrs(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	c.change(ConfChange{Type: AddLearner, Node: 4, Addrs: map[NodeID]string{4: "h4:7004", 1: "h1:7001", 9: "ignored"}})
	want := map[NodeID]string{1: "h1:7001", 4: "h4:7004"}
	for _, id := range []NodeID{1, 2, 3} {
		got := c.confs[id][len(c.confs[id])-1]
		if !got.IsLearner(4) || !maps.Equal(got.Addrs, want) {
			t.Fatalf("node %d: configuration %v addresses %v, want learner 4 and %v", id, got, got.Addrs, want)
		}
	}
	c.start(4, []NodeID{1, 2, 3}, []NodeID{4})
	c.tick(2)
	c.change(ConfChange{Type: Promote, Node: 4})
	c.change(ConfChange{Type: Remove, Node: 1, Addrs: map[NodeID]string{2: "h2:7002"}})
	c.tick(3 * c.cfgs[1].ElectionTicks)
	want = map[NodeID]string{2: "h2:7002", 4: "h4:7004"}
	if got := c.engs[2].Status().Membership; !maps.Equal(got.Addrs, want) || got.Contains(1) {
		t.Fatalf("after removing node 1: %v addresses %v, want %v", got, got.Addrs, want)
	}
	// A restart rebuilds them from the log.
	c.restart(3)
	if got := c.engs[3].Status().Membership; !maps.Equal(got.Addrs, want) {
		t.Fatalf("restarted node 3: addresses %v, want %v", got.Addrs, want)
	}
}

// An address the encoding cannot hold is refused, changing nothing.
func TestConfChangeAddrTooLong(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	l := c.engs[c.leader()]
	err := l.ProposeConfChange(ConfChange{Type: AddLearner, Node: 4, Addrs: map[NodeID]string{4: strings.Repeat("x", maxAddr+1)}})
	if !errors.Is(err, ErrInvalidConfChange) || !l.Status().PendingConf.IsZero() {
		t.Fatalf("a %d-byte address: %v, pending %v", maxAddr+1, err, l.Status().PendingConf)
	}
}

// The encoding without addresses is the one written before they existed:
// old bytes decode (with no addresses), a membership without addresses
// encodes to them still, and one with addresses round-trips, on its own
// and inside a snapshot message.
func TestMembershipAddrsEncoding(t *testing.T) {
	old := []byte{3, 1, 1, 0, 2, 0, 4, 0, 7, 0} // voters 1 2 4, learner 7
	m, err := ParseMembership(old)
	if err != nil || m.Addrs != nil || !m.Equal(ms([]NodeID{1, 2, 4}, []NodeID{7})) {
		t.Fatalf("old form: %v %v %v", m, m.Addrs, err)
	}
	if b, _ := m.MarshalBinary(); string(b) != string(old) {
		t.Fatalf("re-encoded without addresses as %v, want the old form %v", b, old)
	}
	m.Addrs = map[NodeID]string{7: "10.0.0.7:7000", 1: "a"}
	b, err := m.MarshalBinary()
	if err != nil || len(b) != m.encodedSize() {
		t.Fatalf("MarshalBinary: %d bytes (size %d), %v", len(b), m.encodedSize(), err)
	}
	if got, err := ParseMembership(b); err != nil || !got.Equal(m) {
		t.Fatalf("round trip: %v %v %v", got, got.Addrs, err)
	}
	msg := Message{Type: MsgSnapshot, From: 1, Ballot: MakeBallot(1, 1), Slot: 1, Snapshot: &Snapshot{Slot: 9, Data: []byte("sm"), Membership: m}}
	enc := msg.MarshalAppend(nil)
	var got Message
	if err := got.Unmarshal(enc); err != nil || len(enc) != msg.Size() || !got.Snapshot.Membership.Equal(m) {
		t.Fatalf("in a snapshot message: %v (%d bytes, size %d), %v", got.Snapshot, len(enc), msg.Size(), err)
	}
	bad := map[string][]byte{
		"no addresses listed":  append(old[:len(old):len(old)], 0),
		"truncated address":    append(old[:len(old):len(old)], 1, 1, 0, 5, 'a'),
		"address of no member": append(old[:len(old):len(old)], 1, 3, 0, 1, 'a'),
		"empty address":        append(old[:len(old):len(old)], 1, 1, 0, 0),
		"ids out of order":     append(old[:len(old):len(old)], 2, 2, 0, 1, 'a', 1, 0, 1, 'b'),
		"trailing bytes":       append(old[:len(old):len(old)], 1, 1, 0, 1, 'a', 0),
	}
	for name, b := range bad {
		if _, err := ParseMembership(b); !errors.Is(err, ErrCorruptMembership) {
			t.Errorf("%s: %v, want ErrCorruptMembership", name, err)
		}
	}
}
