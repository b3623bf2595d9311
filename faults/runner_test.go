package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeClock advances only when the code under test sleeps.
type fakeClock struct {
	now time.Time
	// cancelAt, if set, cancels the run when the clock reaches it.
	cancelAt time.Time
	cancel   context.CancelFunc
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.now = c.now.Add(d)
	}
	if c.cancel != nil && !c.cancelAt.IsZero() && !c.now.Before(c.cancelAt) {
		c.now = c.cancelAt
		c.cancelAt = time.Time{} // once; what sleeps on regardless sees time go on
		c.cancel()
		return ctx.Err()
	}
	return nil
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeCluster elects the lowest-numbered live node electAfter after the
// leader went down, and logs every action with its virtual time.
type fakeCluster struct {
	clk        *fakeClock
	members    []NodeID
	leader     NodeID
	downSince  time.Time
	electAfter time.Duration
	killed     map[NodeID]bool
	paused     map[NodeID]bool
	nets       map[NodeID]NetSpec
	failNet    map[NodeID]bool // SetNet fails on these
	log        []string
	onSet      func(NodeID, NetSpec) // if set, sees every SetNet that succeeds
	// Reconfigurer: joined[id] is when id joined, catchUp how long it
	// then takes to catch up; gone are the forgotten ids; failRemove
	// makes Remove fail.
	joined     map[NodeID]time.Time
	catchUp    time.Duration
	gone       []NodeID
	failRemove bool
}

func newFakeCluster(clk *fakeClock, n int, leader NodeID) *fakeCluster {
	c := &fakeCluster{clk: clk, leader: leader, electAfter: time.Second,
		killed: map[NodeID]bool{}, paused: map[NodeID]bool{}, nets: map[NodeID]NetSpec{}}
	for i := 1; i <= n; i++ {
		c.members = append(c.members, NodeID(i))
	}
	return c
}

func (c *fakeCluster) logf(format string, args ...any) {
	c.log = append(c.log, fmt.Sprintf("%v ", c.clk.now.Sub(t0))+fmt.Sprintf(format, args...))
}

func (c *fakeCluster) Members() []NodeID { return c.members }

func (c *fakeCluster) up(id NodeID) bool { return !c.killed[id] && !c.paused[id] }

func (c *fakeCluster) Leader(context.Context) (NodeID, error) {
	if c.leader != 0 && c.up(c.leader) {
		return c.leader, nil
	}
	if c.leader != 0 {
		c.leader, c.downSince = 0, c.clk.now
	}
	if c.clk.now.Sub(c.downSince) < c.electAfter {
		return 0, nil
	}
	for _, id := range c.members {
		if c.up(id) {
			c.leader = id
			return id, nil
		}
	}
	return 0, errors.New("no quorum")
}

func (c *fakeCluster) Kill(_ context.Context, id NodeID) error {
	if c.killed[id] {
		return errors.New("not running")
	}
	c.killed[id] = true
	delete(c.nets, id) // the process and its hook are gone
	c.logf("kill %d", id)
	return nil
}

func (c *fakeCluster) Restart(_ context.Context, id NodeID) error {
	if !c.killed[id] {
		return errors.New("already running")
	}
	delete(c.killed, id)
	c.logf("restart %d", id)
	return nil
}

func (c *fakeCluster) Pause(_ context.Context, id NodeID) error {
	if c.paused[id] || c.killed[id] {
		return errors.New("not running")
	}
	c.paused[id] = true
	c.logf("pause %d", id)
	return nil
}

func (c *fakeCluster) Resume(_ context.Context, id NodeID) error {
	if !c.paused[id] {
		return errors.New("not paused")
	}
	delete(c.paused, id)
	c.logf("resume %d", id)
	return nil
}

func (c *fakeCluster) SetNet(_ context.Context, id NodeID, s NetSpec) error {
	if !c.up(id) || c.failNet[id] {
		return fmt.Errorf("node %d does not answer", id)
	}
	if s.IsZero() {
		delete(c.nets, id)
	} else {
		c.nets[id] = s
	}
	c.logf("net %d %v", id, s)
	if c.onSet != nil {
		c.onSet(id, s)
	}
	return nil
}

func run(t *testing.T, sched string, c *fakeCluster) (*Runner, error) {
	t.Helper()
	r, err := NewRunner(RunnerConfig{Clock: c.clk, LeaderWait: 5 * time.Second, LeaderPoll: 100 * time.Millisecond, ActionTimeout: time.Second},
		MustParse(sched), c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.clk.cancel = cancel
	return r, r.Run(ctx, t0)
}

func wantLog(t *testing.T, c *fakeCluster, want ...string) {
	t.Helper()
	if got := strings.Join(c.log, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("actions:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestRunnerTimedFaults(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 3, 1)
	r, err := run(t, "kill-leader@10s+5s,isolate=3@20s+5s,delay=5ms~1ms@30s+2s,drop=10%@31s+2s,pause-follower@40s+3s,oneway=leader>follower@50s+1s", c)
	if err != nil {
		t.Fatal(err)
	}
	wantLog(t, c,
		"10s kill 1",
		"15s restart 1",
		"20s net 1 block [3] delay 0s~0s loss 0",
		"20s net 2 block [3] delay 0s~0s loss 0",
		"20s net 3 block [1 2] delay 0s~0s loss 0",
		"25s net 1 healthy",
		"25s net 2 healthy",
		"25s net 3 healthy",
		"30s net 1 block [] delay 5ms~1ms loss 0",
		"30s net 2 block [] delay 5ms~1ms loss 0",
		"30s net 3 block [] delay 5ms~1ms loss 0",
		"31s net 1 block [] delay 5ms~1ms loss 0.1",
		"31s net 2 block [] delay 5ms~1ms loss 0.1",
		"31s net 3 block [] delay 5ms~1ms loss 0.1",
		"32s net 1 block [] delay 0s~0s loss 0.1",
		"32s net 2 block [] delay 0s~0s loss 0.1",
		"32s net 3 block [] delay 0s~0s loss 0.1",
		"33s net 1 healthy",
		"33s net 2 healthy",
		"33s net 3 healthy",
		// Nobody asked who leads while 1 was down, so the fake
		// cluster kept it as leader; the follower is 2.
		"40s pause 2",
		"43s resume 2",
		"50s net 1 block [2] delay 0s~0s loss 0",
		"51s net 1 healthy",
	)
	recs := r.Records()
	wantWin := [][2]time.Duration{{10, 15}, {20, 25}, {30, 32}, {31, 33}, {40, 43}, {50, 51}}
	wantTargets := [][]NodeID{{1}, {3}, {1, 2, 3}, {1, 2, 3}, {2}, {1, 2}}
	for i, rec := range recs {
		if !rec.Fired || !rec.Healed || rec.Err != nil {
			t.Fatalf("record %d: %v", i, rec)
		}
		if rec.Start != wantWin[i][0]*time.Second || rec.End != wantWin[i][1]*time.Second {
			t.Errorf("record %d window [%v, %v], want %v s", i, rec.Start, rec.End, wantWin[i])
		}
		if !slices.Equal(rec.Targets, wantTargets[i]) {
			t.Errorf("record %d targets %v, want %v", i, rec.Targets, wantTargets[i])
		}
	}
	if len(r.Active()) != 0 {
		t.Fatalf("active after run: %v", r.Active())
	}
	ws := Windows(recs, time.Minute)
	if len(ws) != 6 || ws[0].Label != "kill-leader@10s+5s" || ws[0].End != 15*time.Second {
		t.Fatalf("windows %v", ws)
	}
}

func TestRunnerOpenEnded(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 3, 1)
	r, err := run(t, "kill=2@1s,isolate=1@2s,restart@3s,heal@4s,pause=3@5s", c)
	if err != nil {
		t.Fatal(err)
	}
	wantLog(t, c,
		"1s kill 2",
		// Node 2 is down: it gets its setting when it is back.
		"2s net 1 block [2 3] delay 0s~0s loss 0",
		"2s net 3 block [1] delay 0s~0s loss 0",
		"3s restart 2",
		"3s net 2 block [1] delay 0s~0s loss 0",
		"4s net 1 healthy",
		"4s net 2 healthy",
		"4s net 3 healthy",
		"5s pause 3",
	)
	if a := r.Active(); len(a) != 1 || !strings.Contains(a[0], "pause=3") {
		t.Fatalf("active %v", a)
	}
	if err := r.HealAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.log[len(c.log)-1] != "5s resume 3" || len(r.Active()) != 0 {
		t.Fatalf("HealAll: %v, active %v", c.log, r.Active())
	}
	recs := r.Records()
	if recs[0].End != 3*time.Second || recs[1].End != 4*time.Second || recs[2].Start != 3*time.Second || recs[2].End != recs[2].Start {
		t.Fatalf("records %v", recs)
	}
	if len(Windows(recs, 10*time.Second)) != 3 {
		t.Fatalf("windows %v", Windows(recs, 10*time.Second))
	}
}

func TestRunnerSplit(t *testing.T) {
	for _, tt := range []struct {
		sched string
		side  []NodeID
		log   []string
	}{
		{"split=minority@1s+1s", []NodeID{1, 3}, []string{
			"1s net 1 block [2 4 5] delay 0s~0s loss 0",
			"1s net 2 block [1 3] delay 0s~0s loss 0",
			"1s net 3 block [2 4 5] delay 0s~0s loss 0",
			"1s net 4 block [1 3] delay 0s~0s loss 0",
			"1s net 5 block [1 3] delay 0s~0s loss 0",
		}},
		{"split=majority@1s+1s", []NodeID{1, 2, 3}, []string{
			"1s net 1 block [4 5] delay 0s~0s loss 0",
			"1s net 2 block [4 5] delay 0s~0s loss 0",
			"1s net 3 block [4 5] delay 0s~0s loss 0",
			"1s net 4 block [1 2 3] delay 0s~0s loss 0",
			"1s net 5 block [1 2 3] delay 0s~0s loss 0",
		}},
	} {
		t.Run(tt.sched, func(t *testing.T) {
			clk := &fakeClock{now: t0}
			c := newFakeCluster(clk, 5, 3)
			r, err := run(t, tt.sched, c)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Records()[0].Targets; !slices.Equal(got, tt.side) {
				t.Fatalf("leader's side %v, want %v", got, tt.side)
			}
			wantLog(t, c, append(tt.log, "2s net 1 healthy", "2s net 2 healthy", "2s net 3 healthy", "2s net 4 healthy", "2s net 5 healthy")...)
		})
	}
}

func TestRunnerWaitsForLeader(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 3, 1)
	// The second kill fires while the election (1 s) is under way.
	r, err := run(t, "kill-leader@1s+10s,kill-leader@1200ms+10s", c)
	if err != nil {
		t.Fatal(err)
	}
	wantLog(t, c, "1s kill 1", "2.2s kill 2", "11s restart 1", "12.2s restart 2")
	if recs := r.Records(); recs[1].Start != 2200*time.Millisecond {
		t.Fatalf("second kill took effect at %v", recs[1].Start)
	}
}

func TestRunnerErrors(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 3, 1)
	c.electAfter = time.Hour // nobody takes over
	r, err := run(t, "kill-leader@1s,kill-leader@2s+1s,restart=2@3s,kill=3@4s+1s,pause-leader@10s,pause=3@11s+1s", c)
	if err != nil {
		t.Fatal(err)
	}
	recs := r.Records()
	if !errors.Is(recs[1].Err, ErrNoLeader) || recs[1].Fired {
		t.Fatalf("kill without a leader: %v", recs[1])
	}
	// The wait was bounded by LeaderWait (5 s), then the run went on.
	if recs[1].Start != 7*time.Second {
		t.Fatalf("gave up at %v", recs[1].Start)
	}
	if !errors.Is(recs[2].Err, ErrNoTarget) {
		t.Fatalf("restart of a live node: %v", recs[2])
	}
	if !recs[3].Fired || !recs[3].Healed {
		t.Fatalf("later events did not run: %v", recs[3])
	}
	// Still no leader for the pause at 10 s; the pause due at 11 s fires
	// late, when the wait gave up at 15 s, and lasts its full second.
	if !errors.Is(recs[4].Err, ErrNoLeader) || !recs[5].Fired {
		t.Fatalf("pauses: %v / %v", recs[4], recs[5])
	}
	wantLog(t, c, "1s kill 1", "7s kill 3", "8s restart 3", "15s pause 3", "16s resume 3")
}

func TestRunnerKillPausedNode(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 3, 1)
	// The follower chosen for the kill is not the paused node 2.
	r, err := run(t, "pause=2@1s+10s,kill-follower@2s+1s,kill=2@20s+1s", c)
	if err != nil {
		t.Fatal(err)
	}
	recs := r.Records()
	if !slices.Equal(recs[1].Targets, []NodeID{3}) || recs[1].Err != nil {
		t.Fatalf("kill-follower: %v", recs[1])
	}
	wantLog(t, c, "1s pause 2", "2s kill 3", "3s restart 3", "11s resume 2", "20s kill 2", "21s restart 2")
}

func TestRunnerCancel(t *testing.T) {
	clk := &fakeClock{now: t0, cancelAt: t0.Add(12 * time.Second)}
	c := newFakeCluster(clk, 3, 1)
	r, err := run(t, "kill=2@10s+5s,delay=1ms@11s,kill=3@20s", c)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if recs := r.Records(); recs[2].Fired || recs[0].Healed {
		t.Fatalf("ran past the cancel: %v", recs)
	}
	if err := r.HealAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.killed[2] || len(c.nets) != 0 {
		t.Fatalf("not healed: killed %v nets %v", c.killed, c.nets)
	}
	for _, rec := range r.Records()[:2] {
		if !rec.Healed || rec.End != 12*time.Second {
			t.Fatalf("record %v", rec)
		}
	}
}

func TestRunnerChecksMembers(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 3, 1)
	if _, err := run(t, "kill=9@1s", c); !errors.Is(err, ErrSchedule) {
		t.Fatalf("err %v", err)
	}
	if len(c.log) != 0 {
		t.Fatalf("acted: %v", c.log)
	}
	if _, err := NewRunner(RunnerConfig{}, nil, c); !errors.Is(err, ErrConfig) {
		t.Fatalf("zero config: %v", err)
	}
}

func TestRunnerPartialNetFault(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 3, 1)
	c.failNet = map[NodeID]bool{2: true}
	r, err := run(t, "drop=5%@1s+1s", c)
	if err != nil {
		t.Fatal(err)
	}
	rec := r.Records()[0]
	// In effect on nodes 1 and 3: fired, with the error, and healed.
	if !rec.Fired || !rec.Healed || rec.Err == nil || !strings.Contains(rec.Err.Error(), "node 2") {
		t.Fatalf("%v", rec)
	}
	wantLog(t, c, "1s net 1 block [] delay 0s~0s loss 0.05", "1s net 3 block [] delay 0s~0s loss 0.05",
		"2s net 1 healthy", "2s net 3 healthy")
}

// TestRunnerRealClock plays a schedule of milliseconds on the wall clock;
// it asserts the order of actions only, never their timing.
func TestRunnerRealClock(t *testing.T) {
	clk := &fakeClock{now: t0} // only for the fake cluster's log
	c := newFakeCluster(clk, 3, 1)
	r, err := NewRunner(RunnerConfig{LeaderWait: time.Second, LeaderPoll: time.Millisecond, ActionTimeout: time.Second},
		MustParse("isolate=3@1ms+1ms"), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, rec := range r.Records() {
		if !rec.Fired || !rec.Healed || rec.End < rec.Start || rec.Err != nil {
			t.Fatalf("%v", rec)
		}
	}
	wantLog(t, c, "0s net 1 block [3] delay 0s~0s loss 0", "0s net 2 block [3] delay 0s~0s loss 0",
		"0s net 3 block [1 2] delay 0s~0s loss 0", "0s net 1 healthy", "0s net 2 healthy", "0s net 3 healthy")
	// Cancelled before anything is due.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r2, _ := NewRunner(DefaultRunnerConfig(), MustParse("kill=1@1h"), c)
	if err := r2.Run(ctx, time.Now()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestNetSpecJSON(t *testing.T) {
	for _, s := range []NetSpec{{}, {Block: []NodeID{2, 3}, Delay: 5 * time.Millisecond, Jitter: time.Millisecond, Loss: 0.02}} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back NetSpec
		if err := json.Unmarshal(b, &back); err != nil || !back.Equal(s) {
			t.Fatalf("%s -> %v (%v)", b, back, err)
		}
		if s.IsZero() && string(b) != "{}" {
			t.Fatalf("healthy is %s", b)
		}
	}
}

// The fake cluster is a Reconfigurer: a joined node takes the next id and
// catches up catchUp after it joined.
func (c *fakeCluster) Wipe(_ context.Context, id NodeID) error {
	if !c.killed[id] {
		return errors.New("wipe of a running node")
	}
	c.logf("wipe %d", id)
	return nil
}

func (c *fakeCluster) Join(context.Context) (NodeID, error) {
	id := slices.Max(append(slices.Clone(c.members), c.gone...)) + 1
	c.members = append(c.members, id)
	c.clk.now = c.clk.now.Add(500 * time.Millisecond) // a process starting
	if c.joined == nil {
		c.joined = map[NodeID]time.Time{}
	}
	c.joined[id] = c.clk.now
	c.logf("join %d", id)
	return id, nil
}

func (c *fakeCluster) CaughtUp(_ context.Context, id NodeID) (bool, error) {
	return c.clk.now.Sub(c.joined[id]) >= c.catchUp, nil
}

func (c *fakeCluster) Promote(_ context.Context, id NodeID) error {
	c.logf("promote %d", id)
	return nil
}

func (c *fakeCluster) Remove(_ context.Context, id NodeID) error {
	if c.failRemove {
		return errors.New("409 quorum lost")
	}
	if c.leader == id {
		c.leader, c.downSince = 0, c.clk.now // hands off: a new leader
	}
	c.logf("remove %d", id)
	return nil
}

func (c *fakeCluster) Forget(_ context.Context, id NodeID) error {
	c.members = slices.DeleteFunc(c.members, func(m NodeID) bool { return m == id })
	c.gone = append(c.gone, id)
	delete(c.killed, id)
	c.logf("forget %d", id)
	return nil
}

// TestRunnerReplace: replace=2 and then replace of the leader, each step
// in order with its time, the replaced nodes gone from the members and
// never restarted by HealAll, the joined ones (6, 7) in.
func TestRunnerReplace(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 5, 1)
	c.catchUp = 2 * time.Second
	r, err := run(t, "replace=2@5s,replace=leader@15s,isolate=6@25s+1s", c)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.HealAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantLog(t, c,
		"5s kill 2",
		"5s wipe 2",
		"5.5s join 6",
		// Polled every 100 ms from 5.5s: caught up at 7.5s.
		"7.5s promote 6",
		"7.5s remove 2",
		"7.5s forget 2",
		"15s kill 1",
		"15s wipe 1",
		"15.5s join 7",
		"17.5s promote 7",
		"17.5s remove 1",
		"17.5s forget 1",
		"25s net 3 block [6] delay 0s~0s loss 0",
		"25s net 4 block [6] delay 0s~0s loss 0",
		"25s net 5 block [6] delay 0s~0s loss 0",
		"25s net 6 block [3 4 5 7] delay 0s~0s loss 0",
		"25s net 7 block [6] delay 0s~0s loss 0",
		"26s net 3 healthy",
		"26s net 4 healthy",
		"26s net 5 healthy",
		"26s net 6 healthy",
		"26s net 7 healthy",
	)
	if got := slices.Sorted(slices.Values(c.members)); !slices.Equal(got, []NodeID{3, 4, 5, 6, 7}) {
		t.Errorf("members %v, want [3 4 5 6 7]", got)
	}
	recs := r.Records()
	want := []string{
		"replace=2@5s on [2 6] from 5s to 7.5s (killed 2 at 5s, learner added 6 at 5.5s, caught up 6 at 7.5s, promoted 6 at 7.5s, removed 2 at 7.5s)",
		"replace=leader@15s on [1 7] from 15s to 17.5s (killed 1 at 15s, learner added 7 at 15.5s, caught up 7 at 17.5s, promoted 7 at 17.5s, removed 1 at 17.5s)",
	}
	for i, w := range want {
		if got := recs[i].String(); got != w {
			t.Errorf("record %d:\n%s\nwant\n%s", i, got, w)
		}
	}
	ws := Windows(recs, 30*time.Second)
	if len(ws) != 3 || ws[0].Start != 5*time.Second || ws[0].End != 7500*time.Millisecond {
		t.Errorf("windows %+v", ws)
	}
}

// TestRunnerReplaceOutlastsRun: a replace still catching up when the run
// ends (its context cancelled) is finished, not left with its old node
// killed and wiped and its learner never promoted.
func TestRunnerReplaceOutlastsRun(t *testing.T) {
	clk := &fakeClock{now: t0, cancelAt: t0.Add(6 * time.Second)}
	c := newFakeCluster(clk, 3, 1)
	c.catchUp = 2 * time.Second
	r, err := run(t, "replace=2@5s", c)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	wantLog(t, c, "5s kill 2", "5s wipe 2", "5.5s join 4", "7.5s promote 4", "7.5s remove 2", "7.5s forget 2")
	if rec := r.Records()[0]; rec.Err != nil || !rec.Healed || len(rec.Steps) != 5 {
		t.Fatalf("replace: %v", rec)
	}
}

// TestRunnerAddRemove: add joins and promotes the next id; remove of the
// leader takes it out and stops it, and the next event aimed at the leader
// waits for the new one.
func TestRunnerAddRemove(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 3, 1)
	r, err := run(t, "add@1s,remove=leader@5s,kill-leader@6s+1s", c)
	if err != nil {
		t.Fatal(err)
	}
	wantLog(t, c,
		"1.5s join 4",
		"1.5s promote 4",
		"5s remove 1",
		"5s forget 1",
		// The fake elects the lowest live member a second after the
		// leader went: 2, at 6s.
		"6s kill 2",
		"7s restart 2",
	)
	recs := r.Records()
	if s := recs[1].String(); s != "remove=leader@5s on [1] from 5s to 5s (removed 1 at 5s, stopped 1 at 5s)" {
		t.Errorf("remove: %s", s)
	}
}

// TestRunnerMembershipErrors: a failed step ends the change with an error
// naming it; a remove of the last member and a replace of a node the
// schedule killed are refused; a cluster that cannot change its members
// refuses the schedule.
func TestRunnerMembershipErrors(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 3, 1)
	c.failRemove = true
	r, err := run(t, "replace=3@1s,kill=2@5s,replace=2@6s", c)
	if err != nil {
		t.Fatal(err)
	}
	recs := r.Records()
	if e := recs[0].Err; e == nil || !strings.Contains(e.Error(), "removed node 3: 409 quorum lost") || len(recs[0].Steps) != 4 || !recs[0].Healed {
		t.Errorf("failed replace: %v", recs[0])
	}
	if e := recs[2].Err; recs[2].Fired || !errors.Is(e, ErrNoTarget) || !strings.Contains(e.Error(), "node 2 is killed by the schedule") {
		t.Errorf("replace of a killed node: %v", recs[2])
	}

	clk = &fakeClock{now: t0}
	c = newFakeCluster(clk, 1, 1)
	if _, err := run(t, "remove=leader@1s", c); err == nil || !strings.Contains(err.Error(), "would remove the last member") {
		t.Errorf("remove of the last member: %v", err)
	}

	clk = &fakeClock{now: t0}
	plain := struct{ Cluster }{newFakeCluster(clk, 3, 1)}
	rn, err := NewRunner(RunnerConfig{Clock: clk, LeaderWait: time.Second, LeaderPoll: time.Millisecond, ActionTimeout: time.Second},
		MustParse("kill=1@1s+1s,add@2s"), plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := rn.Run(context.Background(), t0); !errors.Is(err, ErrSchedule) || !strings.Contains(err.Error(), `event "add@2s": faults: the cluster cannot change its membership`) {
		t.Errorf("add on a cluster without Reconfigurer: %v", err)
	}
}
