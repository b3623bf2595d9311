package store

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mpaxos/mpaxos/engine"
)

func TestSpaceErr(t *testing.T) {
	tests := []struct {
		sp   Space
		want string // "" for nil
	}{
		{Space{Dir: "d", Used: 10}, ""},
		{Space{Dir: "d", Used: 10, Quota: 11}, ""},
		{Space{Dir: "d", Used: 11, Quota: 11}, "store: no space: d: the store uses 11 bytes, its quota is 11"},
		{Space{Dir: "d", Free: 5, MinFree: 6}, ""}, // free space unknown
		{Space{Dir: "d", Free: 5, FreeKnown: true, MinFree: 6}, "store: no space: d: the filesystem has 5 bytes free, the store keeps at least 6"},
		{Space{Dir: "d", Free: 6, FreeKnown: true, MinFree: 6}, ""},
	}
	for _, tc := range tests {
		err := tc.sp.Err()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v, want nil", tc.sp, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || !errors.Is(err, ErrNoSpace)):
			t.Errorf("%+v: %v, want %q wrapping ErrNoSpace", tc.sp, err, tc.want)
		}
	}
}

// TestSpaceMeasured: Space counts what is written, and its limits trip on
// the real disk (a quota below the use, a minimum free above what any disk
// has).
func TestSpaceMeasured(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.Logger = quiet
	cfg.MemTableSize = 1 << 20
	s := mustOpen(t, cfg)
	before, err := s.Space()
	if err != nil {
		t.Fatal(err)
	}
	if before.Err() != nil || !before.FreeKnown || before.Free == 0 {
		t.Fatalf("a new store without limits: %+v, %v", before, before.Err())
	}
	for sl := engine.Slot(1); sl <= 64; sl++ {
		if err := s.Save(Write{Entries: []engine.Entry{ent(0, sl, 1, 4<<10)}}); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := s.Space()
	if after.Used < before.Used+64*(4<<10)/2 {
		t.Errorf("Used went from %d to %d after writing 256 KiB", before.Used, after.Used)
	}
	s.Close()

	cfg.SpaceQuota = int64(after.Used-walSpareMin) / 2 // the spare then does not fit
	s = mustOpen(t, cfg)
	sp, _ := s.Space()
	if err := sp.Err(); !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), cfg.Dir) {
		t.Errorf("quota %d with %d used: %v, want ErrNoSpace naming %s", cfg.SpaceQuota, sp.Used, err, cfg.Dir)
	}
	s.Close()

	cfg.SpaceQuota, cfg.MinFreeBytes = 0, 1<<62
	s = mustOpen(t, cfg)
	defer s.Close()
	sp, _ = s.Space()
	if err := sp.Err(); !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "free") {
		t.Errorf("min free %d with %d free: %v, want ErrNoSpace about free space", cfg.MinFreeBytes, sp.Free, err)
	}
}

// TestWALSpareCountsAgainstQuota: the WAL spare is the store's file too.
// Zero-filled spares once filled a 64 MiB disk in 1.5 s, ahead of any
// write: it is not written when it would not fit the quota, and it is
// counted in Used when it is.
func TestWALSpareCountsAgainstQuota(t *testing.T) {
	for _, quota := range []int64{0, walSpareMin / 2} {
		t.Run(fmt.Sprintf("quota=%d", quota), func(t *testing.T) {
			fs := vfs.NewMem()
			cfg := memConfig(fs)
			cfg.SpaceQuota = quota
			s := mustOpen(t, cfg)
			defer s.Close()
			s.spare.wg.Wait() // the spare Open started, if any, is written
			_, err := fs.Stat(fs.PathJoin("db", walSpareName))
			exists := err == nil
			if want := quota == 0; exists != want {
				t.Fatalf("spare on disk: %v, want %v", exists, want)
			}
			sp, _ := s.Space()
			if exists && sp.Used < walSpareMin {
				t.Errorf("Used %d does not count the %d-byte spare", sp.Used, walSpareMin)
			}
		})
	}
}

// TestDiskFullFatal: a write Pebble cannot undo failing on a full disk ends
// the process with one line naming the directory and the cause, not a
// panic's stack trace; other fatal errors still panic.
func TestDiskFullFatal(t *testing.T) {
	var out bytes.Buffer
	code := -1
	exit, fatalOut = func(c int) { code = c }, &out
	defer func() { exit, fatalOut = osExit, osStderr }()
	p := pebbleLogger{l: quiet, dir: "/data/n1"}
	p.Fatalf("pebble: fatal commit error: %v", fmt.Errorf("write 000004.log: %w", syscall.ENOSPC))
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	want := "store: /data/n1: disk full, stopping: pebble: fatal commit error: write 000004.log: no space left on device\n"
	if out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
	defer func() {
		if recover() == nil {
			t.Error("an invariant failure did not panic")
		}
	}()
	p.Fatalf("empty compaction chosen")
}
