package transport

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// eventually polls cond until it holds (bounded by testTimeout). Used only
// for counters that have no notification.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func received(n *testNode, peer uint64) uint64 {
	st, _ := n.p.Stats(peer)
	return st.FramesReceived
}

// sendDropped sends a frame the fault hook must drop. from's Send returns
// true (a lost frame looks sent). If the drop happens at the receiver, it
// waits until the receiver has read (and dropped) the frame, so a later Heal
// cannot let it through.
func sendDropped(t *testing.T, from, to *testNode, body string) {
	t.Helper()
	before := received(to, from.p.cfg.ID)
	send(t, from, to.p.cfg.ID, 1, body)
	if from.p.faults.blockedOut(to.p.cfg.ID) {
		return
	}
	eventually(t, "receiver read the frame", func() bool { return received(to, from.p.cfg.ID) > before })
}

func (f *Faults) blockedOut(to uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.blocked[[2]uint64{f.self, to}]
}

// assertNotReceived: `marker` was sent after `lost` on the same link, and the
// link is in order, so once marker is in, lost would be in if not dropped.
func assertNotReceived(t *testing.T, at *testNode, from uint64, marker, lost string) {
	t.Helper()
	got := at.in.waitFor(t, from, "1:"+marker)
	if slices.Contains(got, "1:"+lost) {
		t.Fatalf("node %d received %q from %d despite the fault: %q", at.p.cfg.ID, lost, from, got)
	}
}

func TestFaultsPartitionAndHeal(t *testing.T) {
	nodes := newCluster(t, 3, nil)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	n1.p.Faults().Partition(2)
	if s := n1.p.Faults().String(); s != "blocked 1->2 2->1" {
		t.Fatalf("Faults = %q", s)
	}
	sendDropped(t, n1, n2, "lost 1->2")
	sendDropped(t, n2, n1, "lost 2->1")
	// Node 3 is not partitioned from anyone.
	send(t, n1, 3, 1, "1->3")
	send(t, n3, 1, 1, "3->1")
	n3.in.waitFor(t, 1, "1:1->3")
	n1.in.waitFor(t, 3, "1:3->1")

	n1.p.Faults().Heal()
	if s := n1.p.Faults().String(); s != "none" {
		t.Fatalf("after Heal, Faults = %q", s)
	}
	send(t, n1, 2, 1, "healed 1->2")
	send(t, n2, 1, 1, "healed 2->1")
	assertNotReceived(t, n2, 1, "healed 1->2", "lost 1->2")
	assertNotReceived(t, n1, 2, "healed 2->1", "lost 2->1")
}

func TestFaultsOneWay(t *testing.T) {
	nodes := newCluster(t, 2, nil)
	n1, n2 := nodes[0], nodes[1]
	n1.p.Faults().OneWay(1, 2) // acts at node 1's send
	n2.p.Faults().OneWay(1, 2) // and again at node 2's receive: harmless
	sendDropped(t, n1, n2, "lost")
	send(t, n2, 1, 1, "back") // the other direction still works
	n1.in.waitFor(t, 2, "1:back")
	n1.p.Faults().Heal()
	n2.p.Faults().Heal()
	send(t, n1, 2, 1, "after")
	assertNotReceived(t, n2, 1, "after", "lost")

	// A one-way cut seen only by the receiver.
	n2.p.Faults().OneWay(1, 2)
	sendDropped(t, n1, n2, "lost at receiver")
	n2.p.Faults().Heal()
	send(t, n1, 2, 1, "after 2")
	assertNotReceived(t, n2, 1, "after 2", "lost at receiver")
}

func TestFaultsDelay(t *testing.T) {
	nodes := newCluster(t, 2, nil)
	n1, n2 := nodes[0], nodes[1]
	const d = 50 * time.Millisecond
	n1.p.Faults().Delay(d, 0)
	start := time.Now()
	send(t, n1, 2, 1, "late")
	n2.in.waitFor(t, 1, "1:late")
	// A lower bound only: the frame may never arrive before its due time.
	if el := time.Since(start); el < d {
		t.Fatalf("delayed frame arrived after %v, before the %v delay", el, d)
	}

	// With jitter, frames still arrive in order.
	n2.in.reset()
	n1.p.Faults().Delay(time.Millisecond, 5*time.Millisecond)
	var want []string
	for i := range 100 {
		want = append(want, fmt.Sprintf("1:j%d", i))
		send(t, n1, 2, 1, fmt.Sprintf("j%d", i))
	}
	if got := n2.in.waitFor(t, 1, "1:j99"); !slices.Equal(got, want) {
		t.Fatalf("jittered frames out of order or lost: %q", got)
	}

	// Heal releases held frames at once and in order, ahead of new ones.
	n2.in.reset()
	n1.p.Faults().Delay(time.Hour, 0)
	want = want[:0]
	for i := range 50 {
		want = append(want, fmt.Sprintf("1:h%d", i))
		send(t, n1, 2, 1, fmt.Sprintf("h%d", i))
	}
	n1.p.Faults().Heal()
	for i := 50; i < 100; i++ {
		want = append(want, fmt.Sprintf("1:h%d", i))
		send(t, n1, 2, 1, fmt.Sprintf("h%d", i))
	}
	if got := n2.in.waitFor(t, 1, "1:h99"); !slices.Equal(got, want) {
		t.Fatalf("frames around Heal out of order or lost: %q", got)
	}
}

// TestFaultsDropRateSeeded: a drop rate drops some frames, and the same seed
// drops the same ones.
func TestFaultsDropRateSeeded(t *testing.T) {
	run := func() []string {
		nodes := newCluster(t, 2, nil)
		n1, n2 := nodes[0], nodes[1]
		n1.p.Faults().DropRate(0.5)
		for i := range 200 {
			send(t, n1, 2, 1, fmt.Sprintf("d%d", i))
		}
		n1.p.Faults().Heal()
		send(t, n1, 2, 1, "end")
		got := n2.in.waitFor(t, 1, "1:end")
		n1.p.Close()
		n2.p.Close()
		return got
	}
	a, b := run(), run()
	if n := len(a) - 1; n == 0 || n == 200 {
		t.Fatalf("DropRate(0.5) delivered %d of 200 frames", n)
	}
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different drops:\n%s\n%s", strings.Join(a, " "), strings.Join(b, " "))
	}
}
