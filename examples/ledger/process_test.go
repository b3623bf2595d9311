package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/examples/ledger/client"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
	"github.com/mpaxos/mpaxos/node"
)

// runMainEnv set to 1 makes the test binary run the command's main with its
// arguments instead of the tests, so the process test needs no go build.
const runMainEnv = "LEDGER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// procCluster is three ledger processes, as README.md runs them by hand.
type procCluster struct {
	t             *testing.T
	bin           string
	args          [][]string
	client, admin []string
	procs         []*exec.Cmd
}

func newProcCluster(t *testing.T) *procCluster {
	if testing.Short() {
		t.Skip("runs three ledger processes")
	}
	bin, err := os.Executable() // the test binary, which runs main in a child (TestMain)
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 9)
	var peers []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("%d=127.0.0.1:%d", i+1, ports[i]))
	}
	c := &procCluster{t: t, bin: bin, procs: make([]*exec.Cmd, 3)}
	dir := t.TempDir()
	for i := range 3 {
		c.client = append(c.client, fmt.Sprintf("127.0.0.1:%d", ports[3+i]))
		c.admin = append(c.admin, fmt.Sprintf("127.0.0.1:%d", ports[6+i]))
		c.args = append(c.args, []string{
			"-id", fmt.Sprint(i + 1), "-peers", strings.Join(peers, ","),
			"-client", c.client[i], "-admin", c.admin[i],
			"-dir", filepath.Join(dir, fmt.Sprint(i+1)), "-snapshot-every", "30",
		})
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.procs {
			c.kill(i)
		}
	})
	return c
}

func (c *procCluster) start(i int) {
	cmd := exec.Command(c.bin, c.args[i]...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.procs[i] = cmd
}

// kill stops process i with SIGKILL: no shutdown of any kind.
func (c *procCluster) kill(i int) {
	if p := c.procs[i]; p != nil {
		p.Process.Signal(syscall.SIGKILL)
		p.Wait()
		c.procs[i] = nil
	}
}

// status reads process i's /status; false while it does not answer.
func (c *procCluster) status(i int) (node.Status, bool) {
	r, err := http.Get("http://" + c.admin[i] + "/status")
	if err != nil {
		return node.Status{}, false
	}
	defer r.Body.Close()
	var st node.Status
	return st, json.NewDecoder(r.Body).Decode(&st) == nil
}

// leader waits for a process that leads and returns its index.
func (c *procCluster) leader() int {
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		for i := range c.procs {
			if st, ok := c.status(i); ok && c.procs[i] != nil && st.Role == "leader" {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no leader within %v", bound)
	return -1
}

func (c *procCluster) hash(i int) (node.HashReport, bool) {
	r, err := http.Get("http://" + c.admin[i] + "/hash")
	if err != nil {
		return node.HashReport{}, false
	}
	defer r.Body.Close()
	var h node.HashReport
	return h, json.NewDecoder(r.Body).Decode(&h) == nil
}

// TestProcessKillLeader: three ledger processes; two clients transfer while
// the leader is killed with SIGKILL and started again from its store. Every
// balance is then the deposits plus exactly the acknowledged transfers, and
// the three processes report the same state hash.
func TestProcessKillLeader(t *testing.T) {
	c := newProcCluster(t)
	c.leader()
	cl, err := client.Dial(c.client)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*bound)
	defer cancel()
	accounts := []string{"a", "b", "c", "d"}
	setup := cl.Session()
	want := map[string]int64{}
	for _, a := range accounts {
		if _, err := setup.Open(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := setup.Deposit(ctx, a, 500); err != nil {
			t.Fatal(err)
		}
		want[a] = 500
	}
	var mu sync.Mutex
	uncertain := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			s := cl.Session()
			for {
				select {
				case <-stop:
					return
				default:
				}
				from, to, amount := accounts[rng.IntN(4)], accounts[rng.IntN(4)], int64(1+rng.IntN(20))
				r, err := s.Transfer(ctx, from, to, amount)
				mu.Lock()
				if err != nil {
					uncertain++
				} else if r.Code == ledger.CodeOK {
					want[from] -= amount
					want[to] += amount
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	l := c.leader()
	c.kill(l)
	time.Sleep(time.Second)
	c.start(l)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if uncertain > 0 {
		t.Fatalf("%d transfers without an answer", uncertain)
	}
	for _, a := range accounts {
		if r, err := setup.Balance(ctx, a); err != nil || r.Balance != want[a] {
			t.Errorf("balance of %s: %+v %v, want %d", a, r, err, want[a])
		}
	}
	deadline := time.Now().Add(bound)
	for {
		h0, ok0 := c.hash(0)
		h1, ok1 := c.hash(1)
		h2, ok2 := c.hash(2)
		if ok0 && ok1 && ok2 && h0.Applied == h1.Applied && h1.Applied == h2.Applied && h0.Hash == h1.Hash && h1.Hash == h2.Hash {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes differ: %+v %+v %+v", h0, h1, h2)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
