package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/cluster/fakenode"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// The test binary doubles as a fake node and as a fake benchmark parent,
// selected by an environment variable, so the launcher is tested against
// real child processes without cmd/node.
const helperEnv = "BENCHKIT_CLUSTER_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(fakenode.Env) == "node" {
		fakenode.Main(os.Args[1:])
		return
	}
	switch os.Getenv(helperEnv) {
	case "parent":
		fakeParent()
		return
	}
	os.Exit(m.Run())
}

// fakeParent starts a long-running child through StartProc, prints its
// pid and blocks: the test kills this process and checks the child dies.
func fakeParent() {
	p, err := StartProc("sleeper", "sleep", []string{"300"}, os.Getenv("LOG"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(p.Pid())
	select {}
}

func TestFreePortsDistinctAndBindable(t *testing.T) {
	ports, err := FreePorts(12)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p <= 0 {
			t.Fatalf("ports %v", ports)
		}
		seen[p] = true
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
	if err != nil {
		t.Fatalf("picked port not bindable: %v", err)
	}
	l.Close()
}

func TestNodeArgs(t *testing.T) {
	nodes := []*Node{
		{ID: 1, PeerAddr: "127.0.0.1:7001", ClientAddr: "127.0.0.1:8001", AdminAddr: "127.0.0.1:9001", DataDir: "/d/node1"},
		{ID: 2, PeerAddr: "127.0.0.1:7002", ClientAddr: "127.0.0.1:8002", AdminAddr: "127.0.0.1:9002", DataDir: "/d/node2"},
		{ID: 3, PeerAddr: "127.0.0.1:7003", ClientAddr: "127.0.0.1:8003", AdminAddr: "127.0.0.1:9003", DataDir: "/d/node3"},
	}
	cfg := Config{ClusterID: 77, Engine: benchkit.Engine{Sync: true}}
	got := NodeArgs(cfg, nodes, 1)
	want := []string{"-id", "2", "-cluster-id", "77",
		"-peers", "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003",
		"-client-addr", "127.0.0.1:8002", "-admin-addr", "127.0.0.1:9002", "-data", "/d/node2", "-sync=true", "-enable-fault-hook"}
	if !slices.Equal(got, want) {
		t.Fatalf("args\n got %q\nwant %q", got, want)
	}
	cfg.Engine = benchkit.Engine{Sync: false, BatchSize: 64, BatchBytes: 1 << 20, BatchDelay: 200 * time.Microsecond, Pipeline: 16, Null: true}
	got = NodeArgs(cfg, nodes, 0)
	want = append(want[:0:0], "-id", "1", "-cluster-id", "77",
		"-peers", "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003",
		"-client-addr", "127.0.0.1:8001", "-admin-addr", "127.0.0.1:9001", "-data", "/d/node1", "-sync=false", "-enable-fault-hook",
		"-batch-size", "64", "-batch-bytes", "1048576", "-batch-delay", "200µs", "-pipeline", "16", "-null")
	if !slices.Equal(got, want) {
		t.Fatalf("args\n got %q\nwant %q", got, want)
	}
	nodes[2].TLSDir = "/d/tls/node3"
	cfg.AdminTokenFile = "/d/admin-token"
	got = NodeArgs(cfg, nodes, 2)
	i := slices.Index(got, "-enable-fault-hook")
	if want := []string{"-enable-fault-hook", "-admin-token-file", "/d/admin-token", "-tls-dir", "/d/tls/node3", "-client-cert-auth"}; i < 0 || !slices.Equal(got[i:min(len(got), i+len(want))], want) {
		t.Fatalf("args with TLS and a token: %q", got)
	}
}

func TestAgreedLeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		sts  []Status
		n    int
		want uint64
	}{
		{"all agree", []Status{{ID: 1, Role: "leader", Leader: 1}, {ID: 2, Role: "follower", Leader: 1}, {ID: 3, Role: "follower", Leader: 1}}, 3, 1},
		{"majority of five", []Status{{ID: 4, Role: "leader", Leader: 4}, {ID: 1, Leader: 4}, {ID: 2, Leader: 4}, {}, {}}, 5, 4},
		{"leader alone", []Status{{ID: 1, Role: "leader", Leader: 1}, {ID: 2, Role: "candidate"}, {}}, 3, 0},
		{"no leader", []Status{{ID: 1, Role: "candidate"}, {ID: 2, Role: "candidate"}, {ID: 3, Role: "follower"}}, 3, 0},
		{"stale leader outvoted", []Status{{ID: 1, Role: "leader", Leader: 1}, {ID: 2, Role: "leader", Leader: 2}, {ID: 3, Leader: 2}}, 3, 2},
		{"single node", []Status{{ID: 1, Role: "leader", Leader: 1}}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := AgreedLeader(tc.sts, tc.n)
			if got != tc.want || ok != (tc.want != 0) {
				t.Fatalf("got %d %v, want %d", got, ok, tc.want)
			}
		})
	}
}

func TestReportedSettings(t *testing.T) {
	def := adminapi.Settings{Sync: true, BatchSize: 1024, BatchBytes: 1 << 20, BatchDelayNs: 1e6, Batching: "adaptive",
		Pipeline: 64, Groups: 1, ReadMode: "log"}
	nosync := def
	nosync.Sync = false
	for _, tc := range []struct {
		name       string
		sts        []Status
		settings   bool
		durability string
		note       string
	}{
		{"all agree", []Status{{ID: 1, Settings: def}, {ID: 2, Settings: def}, {}}, true, "sync", ""},
		{"nosync", []Status{{ID: 1, Settings: nosync}, {ID: 2, Settings: nosync}}, true, "nosync", ""},
		{"null", []Status{{ID: 1, Null: true, Settings: nosync}}, true, "null", ""},
		{"mixed", []Status{{ID: 1, Settings: def}, {ID: 2, Settings: nosync}}, false, "mixed", "different settings"},
		{"older node", []Status{{ID: 1, Settings: def}, {ID: 2}}, false, "", "node 2 does not report"},
		{"nobody answered", []Status{{}, {}}, false, "", "no node answered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, dur, note := ReportedSettings(tc.sts)
			if (set != nil) != tc.settings || dur != tc.durability || !strings.Contains(note, tc.note) || (tc.note == "") != (note == "") {
				t.Fatalf("got %+v %q %q", set, dur, note)
			}
		})
	}
}

func TestMonitorWaitLeader(t *testing.T) {
	var admins []string
	for id := uint64(1); id <= 3; id++ {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/status" {
				http.NotFound(w, r)
				return
			}
			role := "follower"
			if id == 2 {
				role = "leader"
			}
			fmt.Fprintf(w, `{"id":%d,"role":%q,"leader":2,"commit":5,"applied":5,"extra":[1,2]}`, id, role)
		}))
		t.Cleanup(srv.Close)
		admins = append(admins, strings.TrimPrefix(srv.URL, "http://"))
	}
	m := NewMonitor(admins)
	id, err := m.WaitLeader(context.Background(), nil)
	if err != nil || id != 2 {
		t.Fatalf("leader %d, %v", id, err)
	}
	// A failure reported by check ends the wait.
	m2 := NewMonitor([]string{"127.0.0.1:1"})
	boom := errors.New("node 1 exited")
	if _, err := m2.WaitLeader(context.Background(), func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want %v", err, boom)
	}
}

// groupMembers lists the live (non-zombie) processes in process group pg.
func groupMembers(t *testing.T, pg int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces: split after ')'.
		rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pg {
			pids = append(pids, pid)
		}
	}
	return pids
}

// awaitExit waits (with pidfds, not sleeps) until every pid has exited;
// it fails the test if one is still alive after 10 s.
func awaitExit(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // already gone
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 10000)
		unix.Close(fd)
		if err != nil && !errors.Is(err, unix.EINTR) {
			t.Fatalf("poll pidfd %d: %v", pid, err)
		}
		if n == 0 {
			t.Fatalf("process %d still alive 10s after its stop", pid)
		}
	}
}

// assertGroupGone checks nothing is left of process group pg.
func assertGroupGone(t *testing.T, pg int) {
	t.Helper()
	awaitExit(t, groupMembers(t, pg))
	if left := groupMembers(t, pg); len(left) > 0 {
		t.Fatalf("processes %v of group %d survived", left, pg)
	}
}

func TestProcStopKillsWholeGroup(t *testing.T) {
	dir := t.TempDir()
	// A parent that spawns a grandchild, and one that ignores SIGTERM.
	for _, script := range []string{"sleep 300 & wait", "trap '' TERM; sleep 300 & wait"} {
		p, err := StartProc("sh", "sh", []string{"-c", script}, filepath.Join(dir, "log"))
		if err != nil {
			t.Fatal(err)
		}
		pg := p.Pid()
		p.Stop(200 * time.Millisecond)
		if ok, _ := p.Exited(); !ok {
			t.Fatal("Stop returned before the process exited")
		}
		assertGroupGone(t, pg)
	}
}

func TestChildDiesWithParent(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=parent", "LOG="+filepath.Join(t.TempDir(), "log"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q", line)
	}
	// kill -9 the "benchmark": its node must not survive it.
	cmd.Process.Kill()
	cmd.Wait()
	awaitExit(t, []int{child})
	assertGroupGone(t, child)
}

func fakeCluster(t *testing.T, env ...string) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range append([]string{fakenode.Env + "=node"}, env...) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return Config{Nodes: 3, Binary: exe, Engine: benchkit.Engine{Sync: true, BatchSize: 8},
		StartTimeout: 20 * time.Second, StopGrace: 2 * time.Second}
}

func TestStartWaitsForLeaderAndCloseCleansUp(t *testing.T) {
	cfg := fakeCluster(t)
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := c.Leader(); !ok || id != 1 {
		t.Fatalf("leader %d %v", id, ok)
	}
	if len(c.ClientAddrs()) != 3 || len(c.AdminAddrs()) != 3 {
		t.Fatalf("addrs %v %v", c.ClientAddrs(), c.AdminAddrs())
	}
	for _, n := range c.Nodes() {
		if _, err := os.Stat(n.DataDir); err != nil {
			t.Fatalf("data dir: %v", err)
		}
	}
	dir := c.Dir
	var pgs []int
	for _, n := range c.Nodes() {
		pgs = append(pgs, n.Proc.Pid())
	}
	c.Close()
	c.Close() // idempotent
	for _, pg := range pgs {
		assertGroupGone(t, pg)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s not removed: %v", dir, err)
	}
}

func TestStartFailureLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     []string
		timeout time.Duration
		cancel  bool
		want    string
	}{
		{"a node cannot bind", []string{"FAKE_NODE_FAIL=2"}, 20 * time.Second, false, "address already in use"},
		{"no leader in time", []string{"FAKE_NODE_NO_LEADER=1"}, 300 * time.Millisecond, false, "no leader"},
		{"interrupted while waiting", []string{"FAKE_NODE_NO_LEADER=1"}, 20 * time.Second, true, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fakeCluster(t, tc.env...)
			cfg.StartTimeout = tc.timeout
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var started []int
			cfg.Logger = nil
			if tc.cancel {
				cfg.Logger = startLogger(func(pid int) {
					started = append(started, pid)
					if len(started) == cfg.Nodes {
						cancel() // Ctrl-C once every node runs
					}
				})
			} else {
				cfg.Logger = startLogger(func(pid int) { started = append(started, pid) })
			}
			c, err := Start(ctx, cfg)
			if err == nil {
				c.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			if len(started) == 0 {
				t.Fatal("no node was started: the test proves nothing")
			}
			for _, pg := range started {
				assertGroupGone(t, pg)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Nodes, c.StopGrace, c.Engine.Pipeline = 0, -1, -1
	err := c.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v", err)
	}
	for _, w := range []string{"nodes", "StopGrace", "engine"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not mention %s", err, w)
		}
	}
	if _, err := Start(context.Background(), c); !errors.Is(err, ErrConfig) {
		t.Fatalf("Start accepted a bad config: %v", err)
	}
}
