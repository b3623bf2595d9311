package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/cluster"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// These tests run the real thing: cmd/node built once, real processes on
// loopback, real TCP and Pebble, the real client library. Each run is a
// few seconds; they run one after another (two cores are shared).

// electionTimeout is the node's default -election-timeout: the unit the
// recovery bounds are stated in.
const electionTimeout = 500 * time.Millisecond

var (
	nodeBinOnce sync.Once
	nodeBin     string
	nodeBinErr  error
)

// realNode builds cmd/node once per test binary.
func realNode(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("real node processes: skipped with -short")
	}
	nodeBinOnce.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			nodeBinErr = err
			return
		}
		mod, err := cluster.FindModule(wd)
		if err != nil {
			nodeBinErr = err
			return
		}
		dir, err := os.MkdirTemp("", "mpaxos-bench-test-node-")
		if err != nil {
			nodeBinErr = err
			return
		}
		// TestMain removes the directory after the last test.
		nodeBin, nodeBinErr = cluster.Build(context.Background(), mod, dir)
	})
	if nodeBinErr != nil {
		t.Fatal(nodeBinErr)
	}
	return nodeBin
}

// realBench runs bench against real nodes with TMPDIR set to a fresh
// directory, and checks afterwards that no process started under it is
// left (every node's command line names its data directory there).
func realBench(t *testing.T, args ...string) (code int, stdout, stderr string, r *results.Result) {
	t.Helper()
	bin := realNode(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	base := filepath.Join(t.TempDir(), "run")
	var o, e bytes.Buffer
	argv := append([]string{"bench", "-node-bin", bin, "-quiet", "-out", base}, args...)
	began := time.Now()
	code = realMain(context.Background(), argv, &o, &e)
	t.Logf("bench %s: exit %d after %v\n%s", strings.Join(args, " "), code, time.Since(began).Round(time.Millisecond), o.String())
	assertNoProcessUnder(t, tmp)
	if left, _ := filepath.Glob(filepath.Join(tmp, "mpaxos-bench-*")); len(left) > 0 {
		t.Errorf("cluster directories left: %v", left)
	}
	if _, err := os.Stat(base + ".json"); err == nil {
		var err error
		if r, err = results.Load(base + ".json"); err != nil {
			t.Fatal(err)
		}
	}
	return code, o.String(), e.String(), r
}

// assertNoProcessUnder fails if any process's command line mentions dir
// (every node is started with -data under it). Nodes are reaped before
// bench returns, so none may be seen at all.
func assertNoProcessUnder(t *testing.T, dir string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if pid == os.Getpid() {
			continue
		}
		t.Errorf("process %d left running: %q", pid, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
	}
}

// checkedWorkload makes the history worth checking: few keys (so clients
// contend on them), half reads, every key's history checked.
var checkedWorkload = []string{"-clients", "16", "-keys", "200", "-read-ratio", "0.5", "-check-sample", "1",
	"-timeout", "2s", "-warmup", "500ms"}

// assertPass checks the verdict of a run that must pass.
func assertPass(t *testing.T, code int, out, errOut string, r *results.Result) {
	t.Helper()
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "acknowledged writes lost: 0") {
		t.Fatalf("report lacks the lost-write line")
	}
	v := r.Verdict
	if v == nil || v.Linearizable == nil || !*v.Linearizable || v.CheckedKeys == 0 {
		t.Fatalf("linearizability not established: %+v", v)
	}
	if v.LostAckedWrites == nil || *v.LostAckedWrites != 0 {
		t.Fatalf("lost writes: %+v", v)
	}
	if v.SessionOrderOK == nil || !*v.SessionOrderOK || v.StateHashesAgree == nil || !*v.StateHashesAgree || len(v.Failures) > 0 {
		t.Fatalf("verdict %+v", v)
	}
}

func TestRealFaultedRuns(t *testing.T) {
	for _, tc := range []struct {
		name     string
		nodes    int
		schedule string
		// stops: the fault must stop service for a while (the leader is
		// gone); a bounded downtime is then asserted.
		stops bool
	}{
		{"3 nodes kill leader and restart", 3, "kill-leader@1s+1500ms", true},
		{"5 nodes partition leader", 5, "partition-leader@1s+1500ms", true},
		{"3 nodes 2% loss", 3, "drop=2%@500ms+2s", false},
		{"3 nodes pause leader", 3, "pause-leader@1s+1500ms", true},
		{"5 nodes kill leader, then 2% loss", 5, "kill-leader@1s,restart@2s,drop=2%@2500ms+1s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-nodes", strconv.Itoa(tc.nodes), "-duration", "4s", "-faults", tc.schedule}, checkedWorkload...)
			code, out, errOut, r := realBench(t, args...)
			assertPass(t, code, out, errOut, r)
			if len(r.Faults) == 0 {
				t.Fatalf("no fault in the result")
			}
			for _, f := range r.Faults {
				if f.NotInjected || f.Error != "" {
					t.Fatalf("fault %s: not injected: %s", f.Spec, f.Error)
				}
				if f.DowntimeSec == nil || f.NeverResumed {
					t.Fatalf("fault %s: the cluster did not recover: %+v", f.Spec, f)
				}
				if d := time.Duration(*f.DowntimeSec * float64(time.Second)); d > 10*electionTimeout {
					t.Fatalf("fault %s: downtime %v, more than 10 election timeouts", f.Spec, d)
				}
				if f.After == nil || f.After.Throughput == 0 {
					t.Fatalf("fault %s: nothing completed after it: %+v", f.Spec, f.After)
				}
				if f.EndSec <= f.StartSec {
					t.Fatalf("fault %s: window %v..%v", f.Spec, f.StartSec, f.EndSec)
				}
			}
			if tc.stops && *r.Faults[0].DowntimeSec == 0 {
				t.Fatalf("fault %s: no downtime at all: was it injected?", r.Faults[0].Spec)
			}
			if !strings.Contains(out, "back to 90%") || !strings.Contains(out, "downtime") {
				t.Fatalf("report lacks the fault table")
			}
		})
	}
}

// TestRealLostWritesDetected breaks durability on purpose: nodes that
// acknowledge writes they never store, all killed mid-run and restarted
// at the end. The read-back must find the loss and bench must fail.
func TestRealLostWritesDetected(t *testing.T) {
	code, out, errOut, r := realBench(t, "-nodes", "3", "-clients", "16", "-keys", "100000", "-warmup", "300ms",
		"-duration", "2s", "-timeout", "1s", "-node-arg=-unsafe-no-persist",
		"-faults", "kill=1@1s,kill=2@1s,kill=3@1s")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	m := regexp.MustCompile(`acknowledged writes lost: (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("report lacks the lost-write line")
	}
	n, _ := strconv.Atoi(m[1])
	if n == 0 {
		t.Fatalf("the loss went unnoticed")
	}
	if !strings.Contains(errOut, "correctness check FAILED") || !strings.Contains(errOut, fmt.Sprintf("acknowledged writes lost: %d", n)) {
		t.Fatalf("no clear failure line: %q", errOut)
	}
	if r == nil || r.Verdict == nil || r.Verdict.LostAckedWrites == nil || *r.Verdict.LostAckedWrites != int64(n) {
		t.Fatalf("result file: %+v", r)
	}
	if r.CPU == nil || r.CPU.NodesSec != 0 || !strings.Contains(r.CPU.Note, "killed or restarted") {
		t.Fatalf("cpu with every node killed mid-run: %+v", r.CPU)
	}
}

// TestRealRun is the main job in CI: an unfaulted 3-node run of about two
// seconds that writes every result file, with the checks on.
func TestRealRun(t *testing.T) {
	code, out, errOut, r := realBench(t, append([]string{"-nodes", "3", "-duration", "2s", "-check"}, checkedWorkload...)...)
	assertPass(t, code, out, errOut, r)
	base := results.Base(r.Name)
	for _, ext := range []string{".json", ".hgrm", ".svg"} {
		if st, err := os.Stat(base + ext); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", base+ext, err)
		}
	}
	wellFormedSVG(t, base+".svg")
	if r.Ops == 0 || r.Throughput == 0 || len(r.Series) == 0 || len(r.Faults) != 0 {
		t.Fatalf("result: ops %d, throughput %v, %d seconds, %d faults", r.Ops, r.Throughput, len(r.Series), len(r.Faults))
	}
	if c := r.CPU; c == nil || c.NodesSec <= 0 || c.NodesUsPerOp <= 0 || c.BenchSec <= 0 || c.MachineBusy <= 0 || c.Note != "" {
		t.Fatalf("cpu: %+v", c)
	}
}

// TestRealRunningClusterNetworkFaults targets a cluster bench did not
// start (-cluster, -cluster-admin): network faults go through the nodes'
// admin POST /faults, are lifted at the end, and the checks run.
func TestRealRunningClusterNetworkFaults(t *testing.T) {
	bin := realNode(t)
	t.Setenv("TMPDIR", t.TempDir())
	c, err := cluster.Start(context.Background(), cluster.Config{Nodes: 3, Binary: bin, Engine: benchkitEngine(),
		StartTimeout: 30 * time.Second, StopGrace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var o, e bytes.Buffer
	base := filepath.Join(t.TempDir(), "ext")
	code := realMain(context.Background(), append([]string{"bench", "-quiet", "-out", base,
		"-cluster", strings.Join(c.ClientAddrs(), ","), "-cluster-admin", strings.Join(c.AdminAddrs(), ","),
		"-cluster-admin-token-file", c.AdminTokenFile(),
		"-duration", "3s", "-faults", "isolate-leader@1s+1s"}, checkedWorkload...), &o, &e)
	t.Logf("exit %d\n%s", code, o.String())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.String())
	}
	r, err := results.Load(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Faults) != 1 || r.Faults[0].NotInjected || r.Faults[0].DowntimeSec == nil {
		t.Fatalf("faults %+v", r.Faults)
	}
	v := r.Verdict
	if v == nil || v.Linearizable == nil || !*v.Linearizable || v.LostAckedWrites == nil || *v.LostAckedWrites != 0 || len(v.Failures) > 0 {
		t.Fatalf("verdict %+v", v)
	}
	// Healed: every node answers and a majority agree on a leader, and
	// no node still drops anything (the /applied record is off here, so
	// the session check says why it did not run).
	if _, err := c.Monitor.WaitLeader(context.Background(), c.CheckAlive); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(o.String(), "session order: not checked") {
		t.Fatalf("the report does not say why the session check did not run")
	}
}

func benchkitEngine() benchkit.Engine { return benchkit.DefaultConfig().Engine }

// TestRealRunningClusterTwice measures a hand-run cluster as a user does:
// nodes started with -sync=false, bench -cluster -check run twice without
// -sync. Bench must record the durability and settings the nodes report
// (not the -sync default it would otherwise assume), and the second run
// must check its history against the values the first one left behind,
// not against keys assumed absent.
func TestRealRunningClusterTwice(t *testing.T) {
	bin := realNode(t)
	t.Setenv("TMPDIR", t.TempDir())
	c, err := cluster.Start(context.Background(), cluster.Config{Nodes: 3, Binary: bin, Engine: benchkit.Engine{Sync: false},
		StartTimeout: 30 * time.Second, StopGrace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for run := 1; run <= 2; run++ {
		var o, e bytes.Buffer
		base := filepath.Join(t.TempDir(), fmt.Sprintf("run%d", run))
		code := realMain(context.Background(), append([]string{"bench", "-quiet", "-out", base,
			"-cluster", strings.Join(c.ClientAddrs(), ","), "-cluster-admin", strings.Join(c.AdminAddrs(), ","),
			"-duration", "1500ms", "-check"}, checkedWorkload...), &o, &e)
		t.Logf("run %d: exit %d\n%s", run, code, o.String())
		if code != 0 {
			t.Fatalf("run %d: exit %d: %s", run, code, e.String())
		}
		r, err := results.Load(base + ".json")
		if err != nil {
			t.Fatal(err)
		}
		v := r.Verdict
		if v == nil || v.Linearizable == nil || !*v.Linearizable || v.CheckedKeys == 0 || len(v.Failures) > 0 {
			t.Fatalf("run %d: verdict %+v", run, v)
		}
		if !strings.Contains(o.String(), "read the values of the 200 checked keys before the run") {
			t.Fatalf("run %d: the keys' values before the run were not read", run)
		}
		if r.Durability != "nosync" || r.Cluster.DurabilitySource != "nodes" || !strings.Contains(o.String(), "durability nosync (as the nodes report it") {
			t.Fatalf("run %d: durability %q from %q", run, r.Durability, r.Cluster.DurabilitySource)
		}
		s := r.Cluster.Settings
		if s == nil || s.BatchSize != 1024 || s.Pipeline != 64 || s.BatchDelayNs != int64(time.Millisecond) || s.Groups != 1 ||
			s.ReadMode != "lease" || s.Sync || r.Cluster.Leader == 0 {
			t.Fatalf("run %d: settings %+v leader %d", run, s, r.Cluster.Leader)
		}
	}
}

// TestRealRestartedRecordIsPartial: a node killed and restarted from a
// snapshot records only what it executed since, so the session check
// sees part of the run and must say so, in the report and the JSON.
func TestRealRestartedRecordIsPartial(t *testing.T) {
	code, out, errOut, r := realBench(t, append([]string{"-nodes", "3", "-duration", "4s",
		"-node-arg=-snapshot-every=50", "-faults", "kill-leader@1500ms+1500ms"}, checkedWorkload...)...)
	assertPass(t, code, out, errOut, r)
	if f := r.Verdict.SessionChecked; f == nil || *f >= 1 || !strings.Contains(out, "on PART of the run") ||
		!strings.Contains(out, "since it last started") {
		t.Fatalf("a node restarted from a snapshot, yet the session check claims the whole run:\n%s", out)
	}
}

// TestRealRESP drives the load through the nodes' Redis protocol front end
// (bench -resp): the sessions of a connection pipelined on it, so the front
// end sends them as one OpMulti; a leader killed mid-run and -MOVED
// followed to the new one. The full check must pass: linearizable, nothing
// acknowledged lost, every node session (a RESP connection) in order and
// once, equal state hashes.
func TestRealRESP(t *testing.T) {
	args := append([]string{"-resp", "-nodes", "3", "-conns", "2", "-duration", "4s", "-faults", "kill-leader@1s+1500ms"}, checkedWorkload...)
	code, out, errOut, r := realBench(t, args...)
	assertPass(t, code, out, errOut, r)
	if !strings.Contains(out, "RESP conns per node") || r.Ops == 0 {
		t.Fatalf("not a RESP run, or nothing done: ops %d", r.Ops)
	}
	if f := r.Faults; len(f) != 1 || f[0].After == nil || f[0].After.Throughput == 0 {
		t.Fatalf("nothing completed after the leader was killed: %+v", f)
	}
}

// TestRealReadModesUnderFaults: a read-heavy workload served by read index
// and by lease stays linearizable, and loses no acknowledged write, while
// the leader is paused (SIGSTOP: its lease must run out on the others'
// clocks and on its own once it resumes), while it is partitioned away,
// and while it is cut off in a minority of a 5-node cluster.
func TestRealReadModesUnderFaults(t *testing.T) {
	for _, mode := range []string{"lease", "index"} {
		for _, schedule := range []string{"pause-leader@1s+1500ms", "partition-leader@1s+1500ms", "split=minority@1s+1500ms"} {
			t.Run(mode+" "+schedule, func(t *testing.T) {
				nodes := "3"
				if strings.HasPrefix(schedule, "split") {
					nodes = "5" // a minority of two, the leader among them
				}
				args := append([]string{"-nodes", nodes, "-duration", "3s", "-faults", schedule}, checkedWorkload...)
				args = append(args, "-read-ratio", "0.9", "-read-mode", mode)
				code, out, errOut, r := realBench(t, args...)
				assertPass(t, code, out, errOut, r)
				if r.Cluster.Settings == nil || r.Cluster.Settings.ReadMode != mode {
					t.Fatalf("the nodes report read mode %+v, want %s", r.Cluster.Settings, mode)
				}
				if len(r.Faults) == 0 || r.Faults[0].NotInjected || r.Faults[0].Error != "" {
					t.Fatalf("fault not injected: %+v", r.Faults)
				}
			})
		}
	}
}

// TestRealGroups: 5 nodes split the keys over 8 Paxos groups, whose
// leaders spread so that every node leads at least one when the run
// begins; the leader of group 0 is killed, or partitioned away, mid-run.
// The full check must pass per group (sessions, state hashes) and per key
// (linearizable), with no acknowledged write lost.
func TestRealGroups(t *testing.T) {
	for _, schedule := range []string{"kill-leader@1s+1500ms", "partition-leader@1s+1500ms"} {
		t.Run(schedule, func(t *testing.T) {
			args := append([]string{"-nodes", "5", "-groups", "8", "-duration", "3s", "-faults", schedule}, checkedWorkload...)
			code, out, errOut, r := realBench(t, args...)
			assertPass(t, code, out, errOut, r)
			if len(r.Cluster.GroupLeaders) != 8 || len(r.Cluster.GroupsLed) != 5 {
				t.Fatalf("the result lacks the groups' leaders: %+v %+v", r.Cluster.GroupLeaders, r.Cluster.GroupsLed)
			}
			for _, n := range r.Cluster.GroupsLed {
				if n.Led == 0 {
					t.Errorf("node %d led no group when the run began: %+v", n.Node, r.Cluster.GroupsLed)
				}
			}
			if !strings.Contains(out, "group 7: state machines: identical on 5 nodes") || !strings.Contains(out, "group 7: sessions: ok") {
				t.Errorf("the report lacks group 7's checks")
			}
			if len(r.Faults) == 0 || r.Faults[0].NotInjected || r.Faults[0].Error != "" {
				t.Fatalf("fault not injected: %+v", r.Faults)
			}
		})
	}
}
