package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/examples/ledger/client"
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
	t     *testing.T
	bin   string
	args  [][]string
	http  []string
	procs []*exec.Cmd
}

// freePorts returns n loopback addresses that were free a moment ago.
func freePorts(t *testing.T, n int) []string {
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func newProcCluster(t *testing.T) *procCluster {
	if testing.Short() {
		t.Skip("builds and runs the ledger binary")
	}
	bin, err := os.Executable() // the test binary, which runs main in a child (TestMain)
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 6)
	var peers, https []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("%d=%s", i+1, ports[i]))
		https = append(https, fmt.Sprintf("%d=%s", i+1, ports[3+i]))
	}
	c := &procCluster{t: t, bin: bin, http: ports[3:], procs: make([]*exec.Cmd, 3)}
	for i := range 3 {
		c.args = append(c.args, []string{
			"-id", fmt.Sprint(i + 1), "-peers", strings.Join(peers, ","), "-http", strings.Join(https, ","),
			"-dir", filepath.Join(t.TempDir(), "store"), "-snapshot-every", "30", "-election-ticks", "10",
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
	cmd.Stderr = os.Stderr
	if !testing.Verbose() {
		cmd.Stderr = nil
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.procs[i] = cmd
}

// kill ends process i with SIGKILL: no Close, no flush, a crash.
func (c *procCluster) kill(i int) {
	if p := c.procs[i]; p != nil {
		p.Process.Signal(syscall.SIGKILL)
		p.Wait()
		c.procs[i] = nil
	}
}

type procStatus struct {
	Role    string `json:"role"`
	Applied uint64 `json:"applied"`
	Hash    string `json:"hash"`
	Check   string `json:"check"`
}

func (c *procCluster) status(i int) (procStatus, error) {
	var s procStatus
	hc := http.Client{Timeout: time.Second}
	resp, err := hc.Get("http://" + c.http[i] + "/status")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func (c *procCluster) leader(ctx context.Context) int {
	c.t.Helper()
	leader := -1
	err := poll(ctx, func() error {
		for i := range c.procs {
			if c.procs[i] == nil {
				continue
			}
			if s, err := c.status(i); err == nil && s.Role == "leader" {
				leader = i
				return nil
			}
		}
		return errors.New("no leader")
	})
	if err != nil {
		c.t.Fatalf("waiting for a leader: %v", err)
	}
	return leader
}

// TestProcessKillLeader runs the command as three processes, SIGKILLs the
// leader in the middle of transfers, restarts it on the same store, and
// checks that the replicas agree (hash), hold the invariant, and that
// every acknowledged transfer is in the balances exactly once.
func TestProcessKillLeader(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c := newProcCluster(t)
	c.leader(ctx)
	cl := client.New(c.http)
	setupAccounts(ctx, t, cl)
	want := map[string]int64{}
	for i := range accounts {
		want[account(i)] = initial
	}
	tr := func(n int) {
		for k := range n {
			from, to := k%accounts, (k*7+3)%accounts
			if from == to {
				to = (to + 1) % accounts
			}
			amount := int64(1 + k%50)
			mustOK(t, "transfer")(cl.Transfer(ctx, account(from), account(to), amount))
			want[account(from)] -= amount
			want[account(to)] += amount
		}
	}
	tr(40)
	killed := c.leader(ctx)
	c.kill(killed)
	tr(40)
	c.start(killed)
	tr(40)

	err := poll(ctx, func() error {
		var first procStatus
		for i := range c.procs {
			s, err := c.status(i)
			if err != nil {
				return err
			}
			if s.Check != "ok" {
				return fmt.Errorf("replica %d: %s", i+1, s.Check)
			}
			if i == 0 {
				first = s
			} else if s.Applied != first.Applied || s.Hash != first.Hash {
				return fmt.Errorf("replica %d at slot %d hash %.8s, replica 1 at %d hash %.8s", i+1, s.Applied, s.Hash, first.Applied, first.Hash)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("replicas did not converge: %v", err)
	}
	for a, b := range want {
		if r := mustOK(t, "balance")(cl.Balance(ctx, a)); r.Balance != b {
			t.Errorf("%s has %d, want %d", a, r.Balance, b)
		}
	}
}
