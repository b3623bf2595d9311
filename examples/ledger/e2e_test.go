package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/examples/ledger/client"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
	"github.com/mpaxos/mpaxos/internal/testnet"
	"github.com/mpaxos/mpaxos/node"
)

// bound bounds every wait: a cluster that never gets there fails the test
// instead of hanging it. No result depends on it.
const bound = 30 * time.Second

// freePorts picks n loopback ports below the ephemeral range (testnet).
func freePorts(t *testing.T, n int) []int { return testnet.FreePorts(t, n) }

type cluster struct {
	t     *testing.T
	cfgs  []node.Config
	nodes []*node.Node
}

func newCluster(t *testing.T, size, groups int) *cluster {
	ports := freePorts(t, 3*size)
	peers := map[engine.NodeID]string{}
	for i := range size {
		peers[engine.NodeID(i+1)] = fmt.Sprintf("127.0.0.1:%d", ports[3*i])
	}
	c := &cluster{t: t}
	dir := t.TempDir()
	for i := range size {
		cfg, err := config([]string{
			"-id", fmt.Sprint(i + 1), "-peers", fmt.Sprint(peersFlag(peers)),
			"-client", fmt.Sprintf("127.0.0.1:%d", ports[3*i+1]),
			"-admin", fmt.Sprintf("127.0.0.1:%d", ports[3*i+2]),
			"-dir", filepath.Join(dir, fmt.Sprint(i+1)),
			"-groups", fmt.Sprint(groups), "-snapshot-every", "40",
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		cfg.MemTable = 4 << 20
		cfg.Seed = int64(i + 1)
		c.cfgs = append(c.cfgs, cfg)
		c.nodes = append(c.nodes, nil)
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
		}
	})
	return c
}

func peersFlag(p map[engine.NodeID]string) string {
	s := ""
	for id := 1; id <= len(p); id++ {
		if s != "" {
			s += ","
		}
		s += fmt.Sprintf("%d=%s", id, p[engine.NodeID(id)])
	}
	return s
}

func (c *cluster) start(i int) {
	n, err := node.Start(c.cfgs[i])
	if err != nil {
		c.t.Fatalf("starting node %d: %v", i+1, err)
	}
	c.nodes[i] = n
}

func (c *cluster) stop(i int) {
	if c.nodes[i] != nil {
		c.nodes[i].Close()
		c.nodes[i] = nil
	}
}

// leader returns the index of group g's leader, waiting for one.
func (c *cluster) leader(g int) int {
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		for i, n := range c.nodes {
			if n != nil {
				if gs := n.Status().GroupStatus; g < len(gs) && gs[g].Role == "leader" {
					return i
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no leader of group %d within %v", g, bound)
	return -1
}

// hashes returns every node's (applied, hash) of group g from GET /hash.
func (c *cluster) hashes(g int) (applied, hash []uint64) {
	for _, cfg := range c.cfgs {
		r, err := http.Get(fmt.Sprintf("http://%s/hash?group=%d", cfg.AdminAddr, g))
		if err != nil {
			c.t.Fatal(err)
		}
		var rep node.HashReport
		err = json.NewDecoder(r.Body).Decode(&rep)
		r.Body.Close()
		if err != nil {
			c.t.Fatal(err)
		}
		applied, hash = append(applied, rep.Applied), append(hash, rep.Hash)
	}
	return applied, hash
}

func (c *cluster) clientAddrs() []string {
	var out []string
	for _, cfg := range c.cfgs {
		out = append(out, cfg.ClientAddr)
	}
	return out
}

// TestLedgerUnderFaults: three nodes of the real runtime run the ledger
// in two Paxos groups (accounts tagged {a} and {b}, one group each), four
// clients transfer between accounts of a tag while the leader of group 0
// is stopped and restarted from its store, then the next one is cut off
// from the others and healed. Then: every node has the same state in each
// group (the runtime's hash: ledger and sessions), and every balance is the
// deposits plus exactly the acknowledged transfers, each once.
func TestLedgerUnderFaults(t *testing.T) {
	const groups, perTag, start = 2, 5, 1000
	c := newCluster(t, 3, groups)
	cl, err := client.Dial(c.clientAddrs())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*bound)
	defer cancel()
	var accounts []string
	for _, tag := range []string{"{a}", "{b}"} {
		for i := range perTag {
			accounts = append(accounts, fmt.Sprintf("%s%d", tag, i))
		}
	}
	setup := cl.Session()
	for _, a := range accounts {
		if r, err := setup.Open(ctx, a); err != nil || r.Code != ledger.CodeOK {
			t.Fatalf("open %s: %+v %v", a, r, err)
		}
		if r, err := setup.Deposit(ctx, a, start); err != nil || r.Code != ledger.CodeOK {
			t.Fatalf("deposit %s: %+v %v", a, r, err)
		}
	}

	want := map[string]int64{}
	for _, a := range accounts {
		want[a] = start
	}
	var mu sync.Mutex
	uncertain, acked := 0, 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			s := cl.Session()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tag := rng.IntN(2) * perTag
				from, to := accounts[tag+rng.IntN(perTag)], accounts[tag+rng.IntN(perTag)]
				amount := int64(1 + rng.IntN(50))
				r, err := s.Transfer(ctx, from, to, amount)
				mu.Lock()
				switch {
				case err != nil:
					uncertain++
				case r.Code == ledger.CodeOK:
					want[from] -= amount
					want[to] += amount
					acked++
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	l := c.leader(0)
	c.stop(l)
	time.Sleep(time.Second)
	c.start(l)
	time.Sleep(500 * time.Millisecond)
	l = c.leader(0)
	var others []uint16
	for i := range c.nodes {
		if i != l {
			others = append(others, uint16(i+1))
		}
	}
	if err := c.nodes[l].SetFaults(node.FaultSpec{Isolate: others}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := c.nodes[l].SetFaults(node.FaultSpec{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if uncertain > 0 {
		t.Fatalf("%d transfers ended without an answer within %v", uncertain, 4*bound)
	}
	if acked < 20 {
		t.Fatalf("only %d transfers acknowledged", acked)
	}

	// Every balance, read linearizably, is what the acknowledged
	// transfers made it, and they sum to the deposits.
	var sum int64
	for _, a := range accounts {
		r, err := setup.Balance(ctx, a)
		if err != nil || r.Code != ledger.CodeOK || r.Balance != want[a] {
			t.Errorf("balance of %s: %+v %v, want %d", a, r, err, want[a])
		}
		sum += r.Balance
	}
	if sum != int64(len(accounts))*start {
		t.Errorf("balances sum to %d, deposits to %d", sum, len(accounts)*start)
	}
	// Every node reaches the same state in each group.
	for g := range groups {
		deadline := time.Now().Add(bound)
		for {
			applied, hash := c.hashes(g)
			if applied[0] == applied[1] && applied[1] == applied[2] && hash[0] == hash[1] && hash[1] == hash[2] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("group %d: nodes differ: applied %v hash %x", g, applied, hash)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("%d transfers acknowledged", acked)
}
