package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mpaxos/mpaxos/benchkit/cluster/fakenode"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// The test binary doubles as a fake cmd/node (see fakenode), so the whole
// command, cluster launcher included, runs without the real node.
func TestMain(m *testing.M) {
	if os.Getenv(fakenode.Env) == "node" {
		fakenode.Main(os.Args[1:])
		return
	}
	reexec = false // realMain in this process must not replace the test binary
	code := m.Run()
	if nodeBin != "" {
		os.RemoveAll(filepath.Dir(nodeBin)) // built by realNode
	}
	os.Exit(code)
}

// localEnv points the launcher at the fake node and returns the directory
// where the nodes write their pids and the temporary directory in use.
func localEnv(t *testing.T, env ...string) (pids, tmp string, nodeBin string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pids, tmp = t.TempDir(), t.TempDir()
	t.Setenv(fakenode.Env, "node")
	t.Setenv("FAKE_NODE_PIDS", pids)
	t.Setenv("TMPDIR", tmp)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return pids, tmp, exe
}

// assertNoNodeLeft checks every fake node that started has exited (waiting
// on pidfds, bounded) and the cluster's temporary directory is gone.
func assertNoNodeLeft(t *testing.T, pids, tmp string, wantNodes int) {
	t.Helper()
	all, err := os.ReadDir(pids)
	if err != nil {
		t.Fatal(err)
	}
	var ents []os.DirEntry
	for _, e := range all {
		if strings.HasSuffix(e.Name(), ".pid") { // not a half-written .tmp of a node killed at birth
			ents = append(ents, e)
		}
	}
	if len(ents) < wantNodes {
		t.Fatalf("%d nodes started, want %d: the test proves nothing", len(ents), wantNodes)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(pids, e.Name()))
		pid, err := strconv.Atoi(string(b))
		if err != nil {
			t.Fatalf("%s: %q", e.Name(), b)
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone and reaped
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 10000)
		unix.Close(fd)
		if n == 0 && (err == nil || errors.Is(err, unix.EINTR)) {
			t.Fatalf("node pid %d still running after bench returned", pid)
		}
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "mpaxos-bench-*"))
	if len(left) > 0 {
		t.Fatalf("cluster directories left: %v", left)
	}
}

func TestLocalClusterRun(t *testing.T) {
	useFake(t, &fakeTarget{})
	pids, tmp, bin := localEnv(t)
	base := filepath.Join(t.TempDir(), "local")
	code, out, errOut := bench(t, "-node-bin", bin, "-nodes", "3", "-clients", "4", "-ops", "300",
		"-warmup", "0", "-batch-size", "16", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	t.Logf("report of a run on 3 fake nodes:\n%s", out)
	for _, want := range []string{"3 nodes started on loopback, durability sync (as the nodes report it",
		"batch-size 16, batch-bytes 1048576, batch-delay 1ms (adaptive batching: not waited for), pipeline 64, groups 1, reads through the log",
		"leader       n1 when the run began", "queue", "quorum_wait", "400µs", "batch sizes  p50 16"} {
		if !strings.Contains(out, want) {
			t.Fatalf("report lacks %q:\n%s", want, out)
		}
	}
	r, err := results.Load(base + ".json")
	// Each node's stages were read twice: the difference is one read's growth.
	if err != nil || len(r.Stages) != 6 || r.Stages[0].Latency.Count != 100 || r.BatchSizes == "" {
		t.Fatalf("%v: stages %+v", err, r.Stages)
	}
	if err != nil || r.Cluster.External || r.Cluster.Nodes != 3 || len(r.Cluster.Addrs) != 3 || r.Cluster.DurabilitySource != "nodes" {
		t.Fatalf("%v: cluster %+v", err, r.Cluster)
	}
	// The effective values the nodes reported, not "default".
	if s := r.Cluster.Settings; s == nil || s.BatchSize != 16 || s.Pipeline != 64 || s.BatchDelayNs != 1e6 || s.Groups != 1 ||
		s.ReadMode != "log" || r.Cluster.Leader != 1 {
		t.Fatalf("settings %+v leader %d", s, r.Cluster.Leader)
	}
	assertNoNodeLeft(t, pids, tmp, 3)
}

func TestLocalClusterInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	useFake(t, &fakeTarget{onOp: func(n int64) {
		if n == 500 {
			cancel() // Ctrl-C
		}
	}})
	pids, tmp, bin := localEnv(t)
	base := filepath.Join(t.TempDir(), "cut")
	var o, e bytes.Buffer
	code := realMain(ctx, []string{"bench", "-node-bin", bin, "-clients", "2", "-duration", "1h", "-warmup", "0", "-quiet", "-out", base}, &o, &e)
	if code != 130 {
		t.Fatalf("exit %d: %s", code, e.String())
	}
	if r, err := results.Load(base + ".json"); err != nil || !r.Interrupted {
		t.Fatalf("partial results: %v", err)
	}
	assertNoNodeLeft(t, pids, tmp, 3)
}

func TestLocalClusterNodeFails(t *testing.T) {
	useFake(t, &fakeTarget{})
	pids, tmp, bin := localEnv(t, "FAKE_NODE_FAIL=2")
	base := filepath.Join(t.TempDir(), "failed")
	code, _, errOut := bench(t, "-node-bin", bin, "-ops", "10", "-out", base)
	if code != 1 || !strings.Contains(errOut, "node 2 exited") || !strings.Contains(errOut, "address already in use") {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	if _, err := os.Stat(base + ".json"); !os.IsNotExist(err) {
		t.Fatal("results written for a run that never started")
	}
	// The others may be stopped before they get to write their pid; the
	// launcher reaps every process it started either way.
	assertNoNodeLeft(t, pids, tmp, 1)
}

// Nodes that do not report their settings: bench says the durability is
// what it started them with, and that their settings are unknown.
func TestLocalClusterNodesWithoutSettings(t *testing.T) {
	useFake(t, &fakeTarget{})
	pids, tmp, bin := localEnv(t, "FAKE_NODE_NO_SETTINGS=1")
	base := filepath.Join(t.TempDir(), "nosettings")
	code, out, errOut := bench(t, "-node-bin", bin, "-clients", "2", "-ops", "100", "-warmup", "0", "-quiet", "-sync=false", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"durability nosync (as bench started the nodes; they did not report it; writes NOT synced",
		"their effective settings are unknown: node 1 does not report its settings"} {
		if !strings.Contains(out, want) {
			t.Fatalf("report lacks %q:\n%s", want, out)
		}
	}
	r, err := results.Load(base + ".json")
	if err != nil || r.Durability != "nosync" || r.Cluster.DurabilitySource != "started" || r.Cluster.Settings != nil {
		t.Fatalf("%v: %s %+v", err, r.Durability, r.Cluster)
	}
	assertNoNodeLeft(t, pids, tmp, 3)
}

func TestLocalClusterWithoutStages(t *testing.T) {
	useFake(t, &fakeTarget{})
	pids, tmp, bin := localEnv(t, "FAKE_NODE_NO_STAGES=1")
	code, out, errOut := bench(t, "-node-bin", bin, "-clients", "2", "-ops", "100", "-warmup", "0",
		"-quiet", "-out", filepath.Join(t.TempDir(), "nostages"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "not reported: the nodes do not serve GET /stages") {
		t.Fatalf("report:\n%s", out)
	}
	assertNoNodeLeft(t, pids, tmp, 3)
}

func TestLocalClusterCeiling(t *testing.T) {
	useFake(t, &fakeTarget{})
	pids, tmp, bin := localEnv(t)
	base := filepath.Join(t.TempDir(), "ceil")
	code, out, errOut := bench(t, "-node-bin", bin, "-clients", "2", "-ops", "200", "-warmup", "0", "-quiet",
		"-ceiling", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	null, err := results.Load(base + "-null.json")
	if err != nil || null.Durability != "null" {
		t.Fatalf("null run: %v %+v", err, null)
	}
	r, err := results.Load(base + ".json")
	if err != nil || r.Ceiling == nil || r.Ceiling.Throughput != null.Throughput || r.Durability != "sync" {
		t.Fatalf("run: %v ceiling %+v", err, r.Ceiling)
	}
	if !strings.Contains(out, "null mode: nodes answer without replicating") || !strings.Contains(out, "% of it") {
		t.Fatalf("report:\n%s", out)
	}
	assertNoNodeLeft(t, pids, tmp, 3)
	if code, _, errOut := bench(t, "-cluster", "127.0.0.1:1", "-ceiling", "-ops", "1"); code != 2 || !strings.Contains(errOut, "-ceiling needs") {
		t.Fatalf("-ceiling with -cluster: exit %d %q", code, errOut)
	}
}

// cancelOn is a stderr that cancels the run (Ctrl-C) once a line with
// want was logged.
type cancelOn struct {
	want   string
	cancel context.CancelFunc
	buf    bytes.Buffer
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.want) {
		c.cancel()
	}
	return len(p), nil
}

// Ctrl-C while a node is killed: the partial results keep the fault's
// window, the heal restarts the node, and every node is stopped at the
// end, the restarted one included.
func TestLocalClusterInterruptedDuringFault(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	useFake(t, &fakeTarget{})
	pids, tmp, bin := localEnv(t)
	base := filepath.Join(t.TempDir(), "cut")
	var o bytes.Buffer
	e := &cancelOn{want: "killed node", cancel: cancel}
	// The fake nodes do not record applied commands: -check=false.
	code := realMain(ctx, []string{"bench", "-node-bin", bin, "-clients", "2", "-duration", "1h", "-warmup", "0", "-quiet",
		"-faults", "kill=2@100ms,kill=3@59m", "-check=false", "-out", base}, &o, e)
	if code != 130 {
		t.Fatalf("exit %d: %s", code, e.buf.String())
	}
	r, err := results.Load(base + ".json")
	if err != nil || !r.Interrupted {
		t.Fatalf("partial results: %v", err)
	}
	// kill=3 was due after the interruption: not in the results.
	if len(r.Faults) != 1 || r.Faults[0].Spec != "kill=2@100ms" || r.Faults[0].NotInjected || r.Faults[0].EndSec < r.Faults[0].StartSec {
		t.Fatalf("faults %+v", r.Faults)
	}
	if f := r.FaultSeries; f == nil || f.StepS != 0.1 || len(f.OpsPerS) == 0 {
		t.Fatalf("fault runner's series not recorded: %+v", f)
	}
	// The heal restarted node 2 (then Close stopped it with the others).
	if !strings.Contains(e.buf.String(), `msg="restarted node" node=2`) {
		t.Fatalf("node 2 not restarted by the heal:\n%s", e.buf.String())
	}
	if !strings.Contains(o.String(), "kill=2@100ms") {
		t.Fatalf("report lacks the fault:\n%s", o.String())
	}
	assertNoNodeLeft(t, pids, tmp, 3)
}

// An -ops run can end before a fault is due (its length is not known up
// front): the fault is in the results as not played, not left out.
func TestLocalClusterFaultNotDue(t *testing.T) {
	useFake(t, &fakeTarget{})
	pids, tmp, bin := localEnv(t)
	base := filepath.Join(t.TempDir(), "notdue")
	code, out, errOut := bench(t, "-node-bin", bin, "-clients", "2", "-ops", "100", "-warmup", "0", "-quiet",
		"-faults", "kill=2@59m", "-check=false", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r, err := results.Load(base + ".json")
	if err != nil || len(r.Faults) != 1 || !r.Faults[0].NotInjected || !strings.Contains(r.Faults[0].Error, "not played: the run ended") {
		t.Fatalf("%v: faults %+v", err, r.Faults)
	}
	if !strings.Contains(out, "NOT INJECTED: not played") {
		t.Fatalf("report:\n%s", out)
	}
	assertNoNodeLeft(t, pids, tmp, 3)
}
