package engine

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// Membership changes under faults. A run of TestSimMembership is a TestSim
// run (crashes, partitions, loss, pauses, hand-offs, reads, snapshots)
// that also works through a plan of changes while the faults go on:
// a group of 3 grows to 5 (add a learner, wait until it may be promoted,
// promote it; twice) and shrinks back to 3 (remove two voters, the leader
// as likely as any); a group of 5 shrinks to 3 and grows to 5 with new
// ids. The simulated runtime starts a node when its AddLearner is
// proposed, with the configuration it is added to, and stops a removed
// node 0..100 ticks after a majority of the new configuration durably
// committed its removal (until then it runs on, and may not know it is removed). An eager third of the seeds proposes the plan's next
// change while one is still in flight.
//
// The checker judges each slot by the configuration in force at it (the
// chosen changes below it), so "chosen", agreement and durability hold
// across configurations; clients' linearizability and exactly-once are
// checked as in TestSim. After the faults, the minority cut off is a
// minority of the final configuration's voters, and convergence is that
// of its members.

var (
	simMemberSeeds = flag.Int("sim.memberseeds", 300, "number of seeds TestSimMembership runs")
	simFullTrace   = flag.Bool("sim.fulltrace", false, "with -sim.trace, print a failing membership seed's whole trace, not its last 400 events")
)

// optionsForMemberSeed is optionsForSeed with 3 or 5 initial voters, two
// spare ids and a plan of changes.
func optionsForMemberSeed(seed uint64) simOptions {
	o := optionsForSeed(seed)
	o.nodes = []int{3, 5}[seed%2]
	o.slots = o.nodes + 2
	o.members = true
	o.eager = seed%3 == 0
	o.faultTicks = 600 + int(seed%300)
	if o.slowDisk > NodeID(o.slots) {
		o.slowDisk = 0
	}
	if o.rates != nil {
		for len(o.rates) < o.slots {
			o.rates = append(o.rates, 1-o.drift/2)
		}
	}
	return o
}

// memberPlan is the changes a run works through, in order; a Remove of
// node 0 removes a voter drawn when the step comes up.
func memberPlan(nodes int) []ConfChange {
	if nodes == 3 {
		return []ConfChange{{Type: AddLearner, Node: 4}, {Type: Promote, Node: 4}, {Type: AddLearner, Node: 5}, {Type: Promote, Node: 5}, {Type: Remove, Node: 0}, {Type: Remove, Node: 0}}
	}
	return []ConfChange{{Type: Remove, Node: 0}, {Type: Remove, Node: 0}, {Type: AddLearner, Node: 6}, {Type: Promote, Node: 6}, {Type: AddLearner, Node: 7}, {Type: Promote, Node: 7}}
}

// simMembers is a run's progress through its plan.
type simMembers struct {
	r       *rand.Rand
	plan    []ConfChange
	step    int // the first change not yet chosen
	changes int // changes chosen
}

// reflects reports whether m already holds the change cc makes.
func reflects(m Membership, cc ConfChange) bool {
	switch cc.Type {
	case AddLearner:
		return m.Contains(cc.Node)
	case Promote:
		return m.IsVoter(cc.Node)
	}
	return cc.Node != 0 && !m.Contains(cc.Node)
}

// latestConf is the configuration in force at the end of the applied log.
func (s *sim) latestConf() Membership { return s.chk.confs[len(s.chk.confs)-1].m }

// changeMembers now and then asks the leader for the plan's next change.
func (s *sim) changeMembers() {
	mb := &s.mb
	if mb.plan == nil {
		mb.r = rand.New(rand.NewPCG(s.seed, 0x3e3be5))
		mb.plan = memberPlan(s.o.nodes)
	}
	for mb.step < len(mb.plan) && reflects(s.latestConf(), mb.plan[mb.step]) {
		mb.step++
		mb.changes++
	}
	if mb.step == len(mb.plan) || mb.r.IntN(10) != 0 {
		return
	}
	var l *simNode
	for _, n := range s.nodes {
		if n.up && !s.paused(n) && n.eng.Status().Role == RoleLeader && (l == nil || n.eng.Status().Ballot > l.eng.Status().Ballot) {
			l = n
		}
	}
	if l == nil {
		return
	}
	st := l.eng.Status()
	view, i := st.Membership, mb.step
	if !st.PendingConf.IsZero() {
		if !s.o.eager {
			return
		}
		view = st.PendingConf
		for i < len(mb.plan) && reflects(view, mb.plan[i]) {
			i++
		}
		if i == len(mb.plan) {
			return
		}
	}
	cc := mb.plan[i]
	if cc.Type == Remove && cc.Node == 0 {
		cc.Node = view.Voters[mb.r.IntN(len(view.Voters))]
		mb.plan[i] = cc
	}
	err := l.eng.ProposeConfChange(cc)
	s.tracef("node %d: %v %d (membership %v, pending %v): %v", l.id, cc.Type, cc.Node, st.Membership, st.PendingConf, err)
	if err == nil && cc.Type == AddLearner {
		if n := s.nodes[cc.Node-1]; n.out && !n.up {
			n.out = false
			n.join = newMembership(view.Voters, append(append([]NodeID(nil), view.Learners...), cc.Node))
			s.start(n)
		}
	}
}

// confApplied: n applied a membership change.
func (s *sim) confApplied(n *simNode, en *Entry) {
	m, err := ParseMembership(en.Data)
	if err != nil {
		s.chk.fail("node %d: slot %d: %v", n.id, en.Slot, err)
		return
	}
	n.conf = m
}

// stopRemoved is the runtime's part of a removal: a node that was a
// member and is no longer one in the chosen configuration is stopped for
// good 0..100 ticks after a majority of the new configuration's voters
// hold the change durably committed. Stopped earlier, it could leave the others unable
// to elect anyone: one that has not learnt the change is chosen still
// needs a majority of the old configuration, the removed node included
// (doc.go, "Membership").
func (s *sim) stopRemoved() {
	latest := s.latestConf()
	at := s.chk.confs[len(s.chk.confs)-1].slot
	learnt := 0
	for _, id := range latest.Voters {
		// Durably: a commit index applied but not yet synced is lost
		// in a crash.
		if st := s.nodes[id-1].st; max(st.hardState().Commit, st.snapshot().Slot) >= at {
			learnt++
		}
	}
	if learnt < latest.Quorum() {
		return
	}
	for _, n := range s.nodes {
		if n.out {
			continue
		}
		if latest.Contains(n.id) {
			n.stopAt = 0
			continue
		}
		if !s.wasMember(n.id) {
			continue
		}
		if n.stopAt == 0 {
			n.stopAt = s.now + s.mbRand().IntN(101)
		}
		if s.now >= n.stopAt {
			s.tracef("node %d stopped: removed", n.id)
			if n.up {
				s.crash(n)
			}
			n.out = true
		}
	}
}

func (s *sim) mbRand() *rand.Rand {
	if s.mb.r == nil {
		s.mb.r = rand.New(rand.NewPCG(s.seed, 0x3e3be5))
		s.mb.plan = memberPlan(s.o.nodes)
	}
	return s.mb.r
}

// wasMember reports whether some chosen configuration named id.
func (s *sim) wasMember(id NodeID) bool {
	for _, c := range s.chk.confs {
		if c.m.Contains(id) {
			return true
		}
	}
	return false
}

// memberIDs are the final configuration's members that run.
func (s *sim) memberIDs() []NodeID {
	latest := s.latestConf()
	var ids []NodeID
	for _, n := range s.nodes {
		if !n.out && latest.Contains(n.id) {
			ids = append(ids, n.id)
		}
	}
	return ids
}

// cutCandidates returns the running voters of every configuration that
// is in force, at the end of the log or at some node that has not learnt
// the latest change yet, or may come into force (a change in some node's
// log above its commit index), and the smallest number of voters among
// them: while a change is not known everywhere, only a minority of both
// sides of it may fail.
func (s *sim) cutCandidates() ([]NodeID, int) {
	confs := []Membership{s.latestConf()}
	for _, n := range s.nodes {
		if !n.up || !s.latestConf().Contains(n.id) {
			continue
		}
		e := n.eng
		confs = append(confs, e.conf)
		for sl := max(e.commit+1, e.log.start); sl <= e.log.last(); sl++ {
			if en := e.log.get(sl); en != nil && en.Type == EntryConfChange {
				if m, err := ParseMembership(en.Data); err == nil {
					confs = append(confs, m)
				}
			}
		}
	}
	size := len(confs[0].Voters)
	var voters []NodeID
	for _, id := range s.memberIDs() {
		in := true
		for _, m := range confs {
			size = min(size, len(m.Voters))
			in = in && m.IsVoter(id)
		}
		if in {
			voters = append(voters, id)
		}
	}
	return voters, size
}

func runMemberSeed(t testing.TB, seed uint64) error {
	_, err := playMemberSeed(t, seed)
	return err
}

func playMemberSeed(t testing.TB, seed uint64) (*sim, error) {
	o := optionsForMemberSeed(seed)
	s := newSim(t, seed, o, *simTrace)
	err := s.run()
	if err != nil && *simTrace {
		tail := s.trace[max(0, len(s.trace)-400):]
		if *simFullTrace {
			tail = s.trace
		}
		for _, l := range tail {
			t.Log(l)
		}
	}
	return s, err
}

// TestSimMembership runs -sim.memberseeds seeds of membership changes
// under faults (or only -sim.seed), and asserts that the plans got
// through: most runs make all their changes during the faults.
func TestSimMembership(t *testing.T) {
	seeds := make([]uint64, 0, *simMemberSeeds)
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for i := range uint64(*simMemberSeeds) {
			seeds = append(seeds, *simFirst+i)
		}
	}
	start := time.Now()
	failed, changes, complete := 0, 0, 0
	for _, seed := range seeds {
		s, err := playMemberSeed(t, seed)
		if err != nil {
			failed++
			msg := fmt.Sprintf("seed %d (%+v): %v\nreplay: go test -tags invariants -run 'TestSimMembership$' ./engine/ -sim.seed=%d -sim.trace", seed, optionsForMemberSeed(seed), err, seed)
			fmt.Fprintf(os.Stderr, "FAIL %s\n", firstLine(msg))
			t.Errorf("%s", msg)
			if failed >= 5 {
				t.Fatal("stopping after 5 failing seeds")
			}
			continue
		}
		changes += s.mb.changes
		if s.mb.step == len(s.mb.plan) && len(s.mb.plan) > 0 {
			complete++
		}
	}
	t.Logf("%d seeds in %v: %d changes chosen, %d plans complete", len(seeds), time.Since(start).Round(time.Millisecond), changes, complete)
	if failed == 0 && len(seeds) >= 100 && complete < len(seeds)/2 {
		t.Errorf("only %d of %d runs made every change of their plan", complete, len(seeds))
	}
}

// TestSimMembershipCatchesPlantedBugs: each membership bug (bugs.go) fails
// some seed of TestSimMembership's default count.
func TestSimMembershipCatchesPlantedBugs(t *testing.T) {
	for _, tc := range []struct {
		name string
		bug  *bool
	}{
		{"two changes in flight, each in force when appended", &bugTwoConfChanges},
		{"leader counts the old configuration's voters after a change", &bugConfChangeKeepsOldVoters},
		{"a learner counted in quorums", &bugLearnerVotes},
		{"phase 1 meets only the candidate's own configuration", &bugPhase1OwnConfOnly},
		{"an installed snapshot's configuration ignored", &bugSnapshotDropsMembership},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*tc.bug = true
			defer func() { *tc.bug = false }()
			for seed := uint64(1); seed <= uint64(*simMemberSeeds); seed++ {
				if err := runMemberSeed(t, seed); err != nil {
					t.Logf("caught by seed %d: %v", seed, firstLine(err.Error()))
					return
				}
			}
			t.Fatal("no seed caught the planted bug")
		})
	}
}

// A membership seed replays event for event, as TestSim's do.
func TestSimMembershipDeterministic(t *testing.T) {
	for _, seed := range []uint64{3, 4} {
		var traces [2]string
		for i := range traces {
			s := newSim(t, seed, optionsForMemberSeed(seed), true)
			if err := s.run(); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			if s.mb.changes == 0 {
				t.Fatalf("seed %d made no membership change", seed)
			}
			traces[i] = strings.Join(s.trace, "\n") + fmt.Sprintf("\n%+v %+v", s.stats, s.mb.plan)
		}
		if traces[0] != traces[1] {
			t.Fatalf("seed %d ran differently twice", seed)
		}
	}
}
