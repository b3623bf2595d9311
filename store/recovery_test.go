package store

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/engine"
)

type ackedRange struct {
	first, last engine.Slot
	ballot      engine.Ballot
}

// recoveryState is what the parent learned from the children's
// acknowledgements, per group.
type recoveryState struct {
	acked    []ackedRange
	hs       engine.HardState // highest acknowledged hard state
	snap     engine.Slot      // highest acknowledged snapshot
	reopened engine.HardState // hard state found at the previous reopen
}

// TestRecoveryKill9 runs a child process that appends synced entries as
// fast as it can, SIGKILLs it at a random point of its progress (including
// during Open), reopens the store and checks that everything the child
// acknowledged survived intact and that the hard state never went
// backwards.
func TestRecoveryKill9(t *testing.T) {
	const (
		kills  = 60
		budget = 25 * time.Second // whole loop; a loaded machine gets fewer kills
	)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "db")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	st := make([]recoveryState, recoveryGroups)
	start := time.Now()
	n := 0
	for ; n < kills && time.Since(start) < budget; n++ {
		// Kill after 0..63 acknowledgements: 0 kills it during Open or
		// its first Save.
		lines := runAndKill(t, exe, dir, rng.IntN(64))
		for _, ln := range lines {
			var g engine.GroupID
			var a ackedRange
			var commit engine.Slot
			var snap engine.Slot
			switch {
			case len(ln) > 0 && ln[0] == 'a':
				if _, err := fmt.Sscanf(ln, "a %d %d %d %d %d", &g, &a.first, &a.last, &a.ballot, &commit); err != nil {
					t.Fatalf("child line %q: %v", ln, err)
				}
				st[g].acked = append(st[g].acked, a)
				st[g].hs = engine.HardState{Promised: a.ballot, Commit: commit}
			case len(ln) > 0 && ln[0] == 's':
				if _, err := fmt.Sscanf(ln, "s %d %d", &g, &snap); err != nil {
					t.Fatalf("child line %q: %v", ln, err)
				}
				st[g].snap = snap
			default:
				t.Fatalf("child printed %q", ln)
			}
		}
		verifyRecovered(t, dir, st)
	}
	total := 0
	for g := range st {
		total += len(st[g].acked)
	}
	t.Logf("%d kills in %v, %d acknowledged Saves verified", n, time.Since(start).Round(time.Millisecond), total)
	if n < 50 {
		// Only a machine too loaded to run 50 rounds in the budget gets
		// here; every round that ran was checked.
		t.Logf("only %d kills fit in %v", n, budget)
	}
}

// runAndKill starts an appending child, SIGKILLs it once it has printed
// after acknowledgements, and returns every line it printed (lines written
// before the kill are acknowledgements too).
func runAndKill(t *testing.T, exe, dir string, after int) []string {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childRoleEnv+"=append", childDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if after == 0 {
		_ = cmd.Process.Kill()
	}
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) == after {
			_ = cmd.Process.Kill()
		}
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.Exited() {
		// The child must die by our SIGKILL, never exit on its own.
		t.Fatalf("child ended with %v, not by SIGKILL; stderr:\n%s", err, stderr.String())
	}
	return lines
}

func verifyRecovered(t *testing.T, dir string, st []recoveryState) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dir = dir
	cfg.Logger = quiet
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	for g := range st {
		gs := &st[g]
		l := s.Log(engine.GroupID(g))
		hs, err := l.InitialState()
		if err != nil {
			t.Fatalf("group %d: InitialState: %v", g, err)
		}
		if hs.Promised < gs.hs.Promised || hs.Commit < gs.hs.Commit {
			t.Fatalf("group %d: hard state %+v is behind the acknowledged %+v", g, hs, gs.hs)
		}
		if hs.Promised < gs.reopened.Promised || hs.Commit < gs.reopened.Commit {
			t.Fatalf("group %d: hard state %+v went backwards from %+v", g, hs, gs.reopened)
		}
		gs.reopened = hs
		snap, err := l.Snapshot()
		if err != nil {
			t.Fatalf("group %d: Snapshot: %v", g, err)
		}
		if snap.Slot < gs.snap {
			t.Fatalf("group %d: snapshot at %d, acknowledged one at %d", g, snap.Slot, gs.snap)
		}
		if snap.Slot > 0 && !bytes.Equal(snap.Data, recoverySnapData(engine.GroupID(g), snap.Slot)) {
			t.Fatalf("group %d: snapshot data %q", g, snap.Data)
		}
		last, _ := l.LastSlot()
		first, _ := l.FirstSlot()
		got := map[engine.Slot]engine.Entry{}
		if last >= first {
			ents, err := l.Entries(first, last+1, 1<<40)
			if err != nil {
				t.Fatalf("group %d: Entries(%d, %d): %v", g, first, last+1, err)
			}
			for _, e := range ents {
				got[e.Slot] = e
			}
		}
		for _, a := range gs.acked {
			for slot := a.first; slot <= a.last; slot++ {
				if slot <= snap.Slot {
					continue // in the snapshot now
				}
				e, ok := got[slot]
				want := recoveryEntry(engine.GroupID(g), slot, a.ballot)
				if !ok {
					t.Fatalf("group %d: acknowledged slot %d is missing (first %d, last %d)", g, slot, first, last)
				}
				if e.Ballot != want.Ballot || e.Type != want.Type || !bytes.Equal(e.Data, want.Data) {
					t.Fatalf("group %d: slot %d = %+v, want %+v", g, slot, e, want)
				}
			}
		}
	}
}
