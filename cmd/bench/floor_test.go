package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bench floor times the floor before and after a 1-client run and reports
// the run's p50 against the lower floor, in its output and NAME-floor.json.
func TestFloor(t *testing.T) {
	useFake(t, &fakeTarget{})
	pids, tmp, bin := localEnv(t)
	base := filepath.Join(t.TempDir(), "fl")
	code, out, errOut := bench(t, "floor", "-node-bin", bin, "-ops", "100", "-warmup", "0",
		"-floor-syncs", "5", "-floor-rtts", "20", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"=== floor before the run: fdatasync p50", "=== floor after the run:", "=== floor: 1 client(s), 3 nodes: p50"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(base + "-floor.json")
	if err != nil {
		t.Fatal(err)
	}
	var rep floorReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Before.Sync.Count != 5 || rep.Before.RTT.Count != 20 || rep.After.Sync.Count != 5 {
		t.Fatalf("timed %d syncs and %d round trips before, %d syncs after; want 5, 20, 5", rep.Before.Sync.Count, rep.Before.RTT.Count, rep.After.Sync.Count)
	}
	for _, f := range []struct {
		name          string
		floor, sync50 int64
		rtt50         int64
	}{{"before", rep.Before.FloorNs, rep.Before.Sync.P50, rep.Before.RTT.P50}, {"after", rep.After.FloorNs, rep.After.Sync.P50, rep.After.RTT.P50}} {
		if f.floor != f.sync50+2*f.rtt50 || f.floor <= 0 {
			t.Errorf("floor %s %d, want sync p50 %d + 2 x rtt p50 %d", f.name, f.floor, f.sync50, f.rtt50)
		}
	}
	if rep.Floor != min(rep.Before.FloorNs, rep.After.FloorNs) || rep.P50 <= 0 || rep.Ratio != float64(rep.P50)/float64(rep.Floor) ||
		rep.Config.Clients != 1 || rep.Run != base+".json" {
		t.Fatalf("report %+v", rep)
	}
	assertNoNodeLeft(t, pids, tmp, 3)
}

func TestFloorBadUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-floor-syncs", "0"}, "-floor-syncs 0"},
		{[]string{"-floor-rtts", "-1"}, "-floor-rtts -1"},
		{[]string{"-cluster", "127.0.0.1:1"}, "not -cluster"},
		{[]string{"-count", "3"}, "runs once"},
	} {
		code, _, errOut := bench(t, append([]string{"floor"}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("bench floor %v: exit %d, %q; want 2 and one line with %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestRESPBadUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-resp", "-cluster", "127.0.0.1:1"}, "-resp"},
		{[]string{"-resp", "-null"}, "-resp"},
		{[]string{"-resp", "-tls"}, "plain TCP only"},
		{[]string{"-resp", "-hosts", "netns"}, "-resp"},
		{[]string{"-groups", "2", "-protocol", "primary-backup"}, "-groups"},
	} {
		code, _, errOut := bench(t, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("bench %v: exit %d, %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}
