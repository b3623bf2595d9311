package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/check"
	"github.com/mpaxos/mpaxos/faults"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// procState returns the state letter of /proc/PID/stat (R, S, T, Z...).
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "gone"
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

// waitState polls (bounded) until pid is in one of the states: signals are
// delivered asynchronously.
func waitState(t *testing.T, pid int, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := procState(t, pid)
		for _, w := range want {
			if st == w {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d in state %s, want %v", pid, st, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKillRestartPauseResume(t *testing.T) {
	c, err := Start(context.Background(), fakeCluster(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := c.Faulter()
	ctx := context.Background()
	if got := f.Members(); !reflect.DeepEqual(got, []faults.NodeID{1, 2, 3}) {
		t.Fatalf("members %v", got)
	}
	if id, err := f.Leader(ctx); err != nil || id != 1 {
		t.Fatalf("leader %d %v", id, err)
	}

	old := c.Nodes()[1].Proc.Pid()
	if err := f.Kill(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Nodes()[1].Proc.Exited(); !ok {
		t.Fatalf("node 2 not reaped after Kill")
	}
	if err := c.CheckAlive(); err != nil {
		t.Fatalf("a node killed on purpose counts as a failure: %v", err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"kill twice", f.Kill(ctx, 2), ErrNodeState},
		{"pause a dead node", f.Pause(ctx, 2), ErrNodeState},
		{"restart a live node", f.Restart(ctx, 1), ErrNodeState},
		{"unknown node", f.Kill(ctx, 9), ErrUnknownNode},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if err := f.Restart(ctx, 2); err != nil {
		t.Fatal(err)
	}
	p := c.Nodes()[1].Proc
	if p.Pid() == old {
		t.Fatalf("restart kept the old pid")
	}
	// Same command line as before: the fake node answers /status again
	// on the same admin address.
	if _, err := c.Monitor.WaitLeader(ctx, c.CheckAlive); err != nil {
		t.Fatal(err)
	}

	if err := f.Pause(ctx, 3); err != nil {
		t.Fatal(err)
	}
	waitState(t, c.Nodes()[2].Proc.Pid(), "T", "t")
	if err := f.Resume(ctx, 3); err != nil {
		t.Fatal(err)
	}
	waitState(t, c.Nodes()[2].Proc.Pid(), "S", "R")

	// A paused node still stops at Close (SIGCONT follows SIGTERM).
	if err := f.Pause(ctx, 3); err != nil {
		t.Fatal(err)
	}
	pids := []int{c.Nodes()[0].Proc.Pid(), p.Pid(), c.Nodes()[2].Proc.Pid()}
	began := time.Now()
	c.Close()
	if d := time.Since(began); d >= c.cfg.StopGrace {
		t.Errorf("Close took %v: the paused node needed SIGKILL", d)
	}
	for _, pid := range pids {
		assertGroupGone(t, pid)
	}
	if err := f.Restart(ctx, 2); !errors.Is(err, ErrClosed) {
		t.Fatalf("restart after Close: %v", err)
	}
}

func TestRemoteFaulterOnlyNetwork(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/status":
			w.Write([]byte(`{"id":4,"role":"leader","leader":4}`))
		case "/faults":
			if a := r.Header.Get("Authorization"); a != "Bearer tok-of-the-cluster" {
				http.Error(w, "bad credentials "+a, http.StatusUnauthorized)
				return
			}
			b, _ := io.ReadAll(r.Body)
			got = append(got, string(b))
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	admin := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	f, err := RemoteFaulter(ctx, []string{admin}, "tok-of-the-cluster")
	if err != nil {
		t.Fatal(err)
	}
	if m := f.Members(); len(m) != 1 || m[0] != 4 {
		t.Fatalf("members %v", m)
	}
	for _, err := range []error{f.Kill(ctx, 4), f.Restart(ctx, 4), f.Pause(ctx, 4), f.Resume(ctx, 4)} {
		if !errors.Is(err, ErrRemote) {
			t.Fatalf("process fault on a running cluster: %v", err)
		}
	}
	if err := f.SetNet(ctx, 4, faults.NetSpec{Block: []faults.NodeID{1, 2}, Loss: 0.02}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetNet(ctx, 4, faults.NetSpec{}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != `{"drop_to":[1,2],"drop_rate":0.02}` || got[1] != `{}` {
		t.Fatalf("bodies %q", got)
	}
	if err := f.SetNet(ctx, 5, faults.NetSpec{}); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("unknown node: %v", err)
	}
}

func TestFaultBody(t *testing.T) {
	for _, tc := range []struct {
		spec faults.NetSpec
		want string
	}{
		{faults.NetSpec{}, `{}`},
		{faults.NetSpec{Block: []faults.NodeID{3}}, `{"drop_to":[3]}`},
		{faults.NetSpec{Delay: 5 * time.Millisecond, Jitter: time.Millisecond}, `{"delay":"5ms","jitter":"1ms"}`},
		{faults.NetSpec{Loss: 0.5}, `{"drop_rate":0.5}`},
	} {
		b, err := FaultBody(tc.spec)
		if err != nil || string(b) != tc.want {
			t.Errorf("%v: %s %v, want %s", tc.spec, b, err, tc.want)
		}
		// The node decodes with DisallowUnknownFields: only its fields.
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		var spec adminapi.FaultSpec
		if err := dec.Decode(&spec); err != nil {
			t.Errorf("%s: not an adminapi.FaultSpec: %v", b, err)
		}
	}
}

func TestAlignApplied(t *testing.T) {
	cmd := func(slot, client, seq uint64) adminapi.AppliedCommand {
		return adminapi.AppliedCommand{Slot: slot, Client: client, Seq: seq}
	}
	ap := func(client, seq uint64) check.Applied { return check.Applied{Client: client, Seq: seq} }
	for _, tc := range []struct {
		name string
		reps []adminapi.AppliedReport
		want []check.NodeApplied
	}{
		{
			name: "same history",
			reps: []adminapi.AppliedReport{
				{Node: 1, Commands: []adminapi.AppliedCommand{cmd(1, 7, 1), cmd(1, 8, 1), cmd(3, 7, 2)}, Deduplicated: 2},
				{Node: 2, Commands: []adminapi.AppliedCommand{cmd(1, 7, 1), cmd(1, 8, 1), cmd(3, 7, 2)}},
			},
			want: []check.NodeApplied{
				{Node: 1, Applied: []check.Applied{ap(7, 1), ap(8, 1), ap(7, 2)}, Deduplicated: 2},
				{Node: 2, Applied: []check.Applied{ap(7, 1), ap(8, 1), ap(7, 2)}},
			},
		},
		{
			name: "restarted node starts later",
			reps: []adminapi.AppliedReport{
				{Node: 1, Commands: []adminapi.AppliedCommand{cmd(1, 7, 1), cmd(1, 8, 1), cmd(3, 7, 2), cmd(4, 8, 2)}},
				{Node: 2, Commands: []adminapi.AppliedCommand{cmd(3, 7, 2), cmd(4, 8, 2)}},
			},
			want: []check.NodeApplied{
				{Node: 1, Applied: []check.Applied{ap(7, 1), ap(8, 1), ap(7, 2), ap(8, 2)}},
				{Node: 2, Offset: 2, Applied: []check.Applied{ap(7, 2), ap(8, 2)}},
			},
		},
		{
			name: "caught up from a snapshot: split at the gap",
			reps: []adminapi.AppliedReport{
				{Node: 1, Commands: []adminapi.AppliedCommand{cmd(1, 7, 1), cmd(2, 8, 1), cmd(5, 7, 2), cmd(6, 8, 2)}},
				{Node: 3, Commands: []adminapi.AppliedCommand{cmd(1, 7, 1), cmd(6, 8, 2)}},
			},
			want: []check.NodeApplied{
				{Node: 1, Applied: []check.Applied{ap(7, 1), ap(8, 1), ap(7, 2), ap(8, 2)}},
				{Node: 3, Applied: []check.Applied{ap(7, 1)}},
				{Node: 3, Offset: 3, Applied: []check.Applied{ap(8, 2)}},
			},
		},
		{
			name: "a truncated record starting mid-slot",
			reps: []adminapi.AppliedReport{
				{Node: 1, Commands: []adminapi.AppliedCommand{cmd(1, 7, 1), cmd(1, 8, 1), cmd(2, 7, 2)}},
				{Node: 2, Truncated: true, Commands: []adminapi.AppliedCommand{cmd(1, 8, 1), cmd(2, 7, 2)}},
			},
			want: []check.NodeApplied{
				{Node: 1, Applied: []check.Applied{ap(7, 1), ap(8, 1), ap(7, 2)}},
				{Node: 2, Offset: 2, Applied: []check.Applied{ap(7, 2)}},
			},
		},
		{
			name: "a node that executed nothing",
			reps: []adminapi.AppliedReport{{Node: 1}},
			want: []check.NodeApplied{{Node: 1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AlignApplied(tc.reps)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			if rep := check.CheckSessions(got); !rep.OK() {
				t.Fatalf("aligned histories fail the session check: %v", rep)
			}
		})
	}
	// Divergence survives alignment: two nodes with different commands in
	// one slot are caught.
	bad := AlignApplied([]adminapi.AppliedReport{
		{Node: 1, Commands: []adminapi.AppliedCommand{cmd(1, 7, 1), cmd(2, 8, 1)}},
		{Node: 2, Commands: []adminapi.AppliedCommand{cmd(1, 7, 1), cmd(2, 9, 1)}},
	})
	if rep := check.CheckSessions(bad); rep.OK() || !rep.Diverged {
		t.Fatalf("divergence not found: %v", rep)
	}
}
