package store

import (
	"bufio"
	"fmt"
	"os"
	"testing"

	"github.com/mpaxos/mpaxos/engine"
)

// The tests re-execute their own binary as a child process to get a second
// process holding the store: TestMain runs the child's role instead of the
// tests when childRoleEnv is set.
const (
	childRoleEnv = "MPAXOS_STORE_TEST_CHILD"
	childDirEnv  = "MPAXOS_STORE_TEST_DIR"
)

func TestMain(m *testing.M) {
	switch role := os.Getenv(childRoleEnv); role {
	case "":
		os.Exit(m.Run())
	case "append":
		childAppend(os.Getenv(childDirEnv))
	case "hold":
		childHold(os.Getenv(childDirEnv))
	default:
		fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
		os.Exit(2)
	}
	os.Exit(0)
}

func childOpen(dir string) *Store {
	cfg := DefaultConfig()
	cfg.Dir = dir
	cfg.Logger = quiet
	s, err := Open(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(3)
	}
	return s
}

// childHold opens the store, says "ready", and keeps it open until stdin
// closes.
func childHold(dir string) {
	s := childOpen(dir)
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	s.Close()
}

// Recovery child protocol, one line per durable event on stdout, each
// printed only after Save returned (so: only after the fdatasync):
//
//	a <group> <first> <last> <ballot> <commit>   entries first..last saved
//	                                             under ballot, with hard
//	                                             state {ballot, commit}
//	s <group> <slot>                             snapshot through slot saved
//
// Each line is one write(2) of less than PIPE_BUF bytes, so the lines of
// the two writer goroutines never interleave.
const (
	recoveryGroups    = 2
	recoverySnapEvery = 200 // slots between snapshots
	recoverySnapKeep  = 50  // entries kept below the newest slot at a snapshot
)

// recoveryData is the content of (g, slot): its length varies with the slot
// and length 0 is a no-op, so holes in types and sizes are exercised.
func recoveryEntry(g engine.GroupID, slot engine.Slot, ballot engine.Ballot) engine.Entry {
	return ent(g, slot, ballot, int(slot*37%700))
}

func recoverySnapData(g engine.GroupID, slot engine.Slot) []byte {
	return []byte(fmt.Sprintf("snapshot of group %d through slot %d", g, slot))
}

// childAppend appends entries to every group as fast as it can until it is
// killed. Each restart uses a higher ballot, as a node that restarts and
// campaigns would.
func childAppend(dir string) {
	s := childOpen(dir)
	done := make(chan struct{})
	for g := engine.GroupID(0); g < recoveryGroups; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			if err := appendForever(s, g); err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				os.Exit(4)
			}
		}()
	}
	<-done
}

func appendForever(s *Store, g engine.GroupID) error {
	l := s.Log(g)
	hs, err := l.InitialState()
	if err != nil {
		return err
	}
	last, _ := l.LastSlot()
	ballot := engine.MakeBallot(hs.Promised.Round()+1, 1)
	ents := make([]engine.Entry, 0, 8)
	for slot := last + 1; ; {
		n := 1 + int(slot%7)
		ents = ents[:0]
		for i := 0; i < n; i++ {
			ents = append(ents, recoveryEntry(g, slot+engine.Slot(i), ballot))
		}
		first, end := slot, slot+engine.Slot(n)-1
		hs = engine.HardState{Promised: ballot, Commit: end}
		if err := s.Save(Write{Group: g, HardState: &hs, Entries: ents}); err != nil {
			return err
		}
		fmt.Printf("a %d %d %d %d %d\n", g, first, end, ballot, end)
		slot = end + 1
		if end/recoverySnapEvery != first/recoverySnapEvery || first%recoverySnapEvery == 0 {
			snap := end - recoverySnapKeep
			if err := s.SaveSnapshot(g, engine.Snapshot{Slot: snap, Data: recoverySnapData(g, snap)}); err != nil {
				return err
			}
			fmt.Printf("s %d %d\n", g, snap)
		}
	}
}
