package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/examples/ledger/client"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
)

const (
	accounts = 10
	initial  = 1_000_000 // cents per account, far more than the transfers can drain
)

func account(i int) string { return fmt.Sprintf("acct%d", i) }

// mustOK returns a function taking a client call's results that fails t
// unless the call succeeded: mustOK(t, "open")(cl.Open(ctx, "a")).
func mustOK(t testing.TB, what string) func(ledger.Result, error) ledger.Result {
	return func(r ledger.Result, err error) ledger.Result {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if r.Code != ledger.CodeOK {
			t.Fatalf("%s: %v", what, r.Code)
		}
		return r
	}
}

func setupAccounts(ctx context.Context, t testing.TB, cl *client.Client) {
	for i := range accounts {
		mustOK(t, "open")(cl.Open(ctx, account(i)))
		mustOK(t, "deposit")(cl.Deposit(ctx, account(i), initial))
	}
}

type transfer struct {
	from, to int
	amount   int64
}

// TestRetryAfterLeaderChangeExecutesOnce: a transfer acknowledged by one
// leader and sent again (its answer lost, say) after that leader died, to
// another replica, returns the first answer and moves the money once. It
// fails when the ledger's session check is removed: the retry then runs
// again, and bob ends with 140.
func TestRetryAfterLeaderChangeExecutesOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newCluster(t, 3, 10000)
	old := c.waitLeader(ctx)
	cl := client.New(c.addrs())
	mustOK(t, "open alice")(cl.Open(ctx, "alice"))
	mustOK(t, "open bob")(cl.Open(ctx, "bob"))
	mustOK(t, "deposit")(cl.Deposit(ctx, "alice", 1000))
	first := mustOK(t, "transfer")(cl.Transfer(ctx, "alice", "bob", 70))

	c.stop(old)
	c.waitLeader(ctx)
	// Start the retry at a replica that is up: it redirects to the new
	// leader, which proposes the transfer again.
	at := int(old) % len(c.ids) // the replica after old, 0-based
	got, err := cl.Resend(ctx, at)
	if err != nil || got != first {
		t.Fatalf("retry after the leader change: %+v, %v; want the first answer %+v", got, err, first)
	}
	if b := mustOK(t, "balance bob")(cl.Balance(ctx, "bob")); b.Balance != 70 {
		t.Fatalf("bob has %d after one transfer of 70 and its retry, want 70", b.Balance)
	}
	c.start(old)
	for id, s := range c.converge(ctx) {
		if s.Invariant != nil || s.Balances["alice"] != 930 || s.Balances["bob"] != 70 {
			t.Fatalf("replica %d: %v, balances %v", id, s.Invariant, s.Balances)
		}
	}
}

// TestLedgerUnderFaults is the end-to-end check, with 3 and with 5
// replicas: concurrent transfers between 10 accounts from several clients,
// the leader killed and restarted from its store, then the next leader
// partitioned away and healed, then 2% of every replica's peer frames
// dropped. Clients also resend some acknowledged transfers (a lost answer)
// to a random replica. Afterwards every replica holds the same state (hash),
// the invariant holds on each, and each balance is exactly the deposits
// plus every acknowledged transfer applied once.
func TestLedgerUnderFaults(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) { testLedgerUnderFaults(t, n) })
	}
}

func testLedgerUnderFaults(t *testing.T, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c := newCluster(t, n, 40) // snapshot often: the restarted replica catches up from one
	c.waitLeader(ctx)
	setupAccounts(ctx, t, client.New(c.addrs()))

	const workers = 4
	var (
		acked    atomic.Int64
		progress = make(chan struct{}, 1)
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     []transfer
		resent   atomic.Int64
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			cl := client.New(c.addrs())
			for {
				select {
				case <-stop:
					return
				default:
				}
				tr := transfer{from: rng.IntN(accounts), amount: 1 + rng.Int64N(100)}
				tr.to = (tr.from + 1 + rng.IntN(accounts-1)) % accounts
				res, err := cl.Transfer(ctx, account(tr.from), account(tr.to), tr.amount)
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				if res.Code != ledger.CodeOK {
					t.Errorf("worker %d: transfer %+v refused: %v", w, tr, res.Code)
					return
				}
				mu.Lock()
				done = append(done, tr)
				mu.Unlock()
				if rng.IntN(5) == 0 {
					again, err := cl.Resend(ctx, rng.IntN(len(c.ids)))
					if err != nil || again != res {
						t.Errorf("worker %d: resent transfer answered %+v, %v; first %+v", w, again, err, res)
						return
					}
					resent.Add(1)
				}
				acked.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}()
	}
	exited := make(chan struct{}) // every worker returned
	go func() {
		wg.Wait()
		close(exited)
	}()
	// waitAcked waits for n more acknowledged transfers.
	waitAcked := func(n int64, during string) {
		t.Helper()
		target := acked.Load() + n
		for acked.Load() < target {
			select {
			case <-progress:
			case <-exited:
				t.Fatalf("%s: the workers stopped after %d transfers", during, acked.Load())
			case <-ctx.Done():
				t.Fatalf("%s: %d of %d transfers acknowledged: %v", during, acked.Load(), target, ctx.Err())
			}
		}
	}
	finish := func() {
		close(stop)
		<-exited
	}
	defer func() {
		select {
		case <-stop:
		default:
			finish()
		}
	}()

	waitAcked(60, "before faults")
	killed := c.waitLeader(ctx)
	c.stop(killed)
	waitAcked(60, "leader killed")
	c.start(killed)
	waitAcked(60, "killed leader restarted")

	cut := c.waitLeader(ctx)
	var others []uint64
	for _, id := range c.ids {
		if id != cut {
			others = append(others, uint64(id))
		}
	}
	c.reps[cut].Faults().Partition(others...)
	waitAcked(60, "leader partitioned")
	c.reps[cut].Faults().Heal()
	waitAcked(60, "partition healed")
	for _, id := range c.ids {
		c.reps[id].Faults().DropRate(0.02)
	}
	waitAcked(60, "2% of peer frames dropped")
	for _, id := range c.ids {
		c.reps[id].Faults().Heal()
	}
	finish()
	if t.Failed() {
		return
	}

	want := map[string]int64{}
	for i := range accounts {
		want[account(i)] = initial
	}
	for _, tr := range done {
		want[account(tr.from)] -= tr.amount
		want[account(tr.to)] += tr.amount
	}
	states := c.converge(ctx)
	if len(states) != len(c.ids) {
		t.Fatalf("%d replicas running, want %d", len(states), len(c.ids))
	}
	for id, s := range states {
		if s.Invariant != nil {
			t.Errorf("replica %d: %v", id, s.Invariant)
		}
		if s.Deposits != accounts*initial {
			t.Errorf("replica %d: deposits %d, want %d", id, s.Deposits, accounts*initial)
		}
		for a, b := range want {
			if s.Balances[a] != b {
				t.Errorf("replica %d: %s has %d, want %d (every acknowledged transfer once)", id, a, s.Balances[a], b)
			}
		}
	}
	// A read through the log agrees with what the replicas hold.
	cl := client.New(c.addrs())
	for a, b := range want {
		if r := mustOK(t, "balance")(cl.Balance(ctx, a)); r.Balance != b {
			t.Errorf("balance of %s through the log: %d, want %d", a, r.Balance, b)
		}
	}
	taken, installed := 0, 0
	for _, s := range states {
		taken += s.SnapshotsTaken
		installed += s.SnapshotsInstalled
	}
	t.Logf("%d transfers acknowledged, %d resent; killed leader %d, partitioned leader %d; snapshots taken %d, installed %d; %d slots applied",
		len(done), resent.Load(), killed, cut, taken, installed, states[c.ids[0]].Applied)
	if taken == 0 {
		t.Errorf("no snapshot taken in %d slots with SnapshotEvery %d", states[c.ids[0]].Applied, c.snapEvery)
	}
	// While it was down the others snapshotted and compacted past its log,
	// so it could only catch up from a snapshot.
	if states[killed].SnapshotsInstalled == 0 {
		t.Errorf("the restarted replica %d installed no snapshot", killed)
	}
}

// TestPartitionedLeaderAcknowledgesNothing: a leader cut off from the
// others acknowledges no write (its client, which knows only it, gets no
// answer), while the majority elects a leader and goes on; after the heal
// the replicas agree, and the unanswered transfer ran at most once.
func TestPartitionedLeaderAcknowledgesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newCluster(t, 3, 10000)
	cut := c.waitLeader(ctx)
	cl := client.New(c.addrs())
	mustOK(t, "open a")(cl.Open(ctx, "a"))
	mustOK(t, "open b")(cl.Open(ctx, "b"))
	mustOK(t, "deposit")(cl.Deposit(ctx, "a", 10000))

	var others []uint64
	var majority []string
	for _, id := range c.ids {
		if id != cut {
			others = append(others, uint64(id))
			majority = append(majority, c.httpAddr[id])
		}
	}
	c.reps[cut].Faults().Partition(others...)
	lone := client.New([]string{c.httpAddr[cut]})
	short, cancelShort := context.WithTimeout(ctx, 1500*time.Millisecond)
	res, err := lone.Transfer(short, "a", "b", 7777)
	cancelShort()
	if err == nil {
		t.Fatalf("the partitioned leader answered a transfer: %+v", res)
	}
	// The majority side elects a leader of its own and commits.
	side := client.New(majority)
	mustOK(t, "transfer on the majority side")(side.Transfer(ctx, "a", "b", 100))
	c.reps[cut].Faults().Heal()

	for id, s := range c.converge(ctx) {
		a, b := s.Balances["a"], s.Balances["b"]
		ok := (a == 9900 && b == 100) || (a == 2123 && b == 7877)
		if s.Invariant != nil || !ok {
			t.Fatalf("replica %d: %v, a=%d b=%d: want the majority's transfer, and the unanswered one at most once", id, s.Invariant, a, b)
		}
	}
}
