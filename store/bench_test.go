package store

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mpaxos/mpaxos/engine"
	"golang.org/x/sys/unix"
)

const benchCmdLen = 128

var benchBatches = []int{1, 16, 256}

// benchStore opens a store on the real disk under b.TempDir(), counting syncs.
func benchStore(b *testing.B, d Durability) (*Store, syncCountingFS) {
	b.Helper()
	fs := newSyncCountingFS(vfs.Default)
	cfg := DefaultConfig()
	cfg.Dir = filepath.Join(b.TempDir(), "db")
	cfg.FS = fs
	cfg.Durability = d
	cfg.Logger = quiet
	s := mustOpen(b, cfg)
	b.Cleanup(func() { s.Close() })
	return s, fs
}

// benchEntries returns n entries of benchCmdLen-byte commands.
func benchEntries(n int) []engine.Entry {
	ents := make([]engine.Entry, n)
	for i := range ents {
		ents[i] = engine.Entry{Ballot: engine.MakeBallot(1, 1), Type: engine.EntryBatch, Data: payload(0, engine.Slot(i), benchCmdLen)}
	}
	return ents
}

// cpuTime is the CPU time this process used so far (user + system, every
// goroutine, Pebble's background work included). On a shared machine it is
// a steadier measure of cost than wall time.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportPerEntry(b *testing.B, entries int, fs syncCountingFS, syncs0 int64, cpu0 time.Duration) {
	total := float64(b.N) * float64(entries)
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/total, "cpu-ns/entry")
	b.ReportMetric(total/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/entry")
	if fs.syncs != nil {
		b.ReportMetric(float64(fs.syncs.Load()-syncs0)/float64(b.N), "syncs/op")
	}
}

// BenchmarkSave measures one Save of a Ready with n entries of 128-byte
// commands on the real disk, and in the same run the raw floor: appending
// the same command bytes to a plain file and fdatasync. Variants:
//
//	sync, nosync          a log that only grows: Pebble also flushes and
//	                      compacts all of it in the background
//	sync+snap, nosync+snap the log truncated as a node truncates it: a
//	                      snapshot every 8192 slots keeping the last 1024;
//	                      entries deleted while in the memtable never cost
//	                      a flush or compaction (the steady state)
//	raw-fdatasync         the floor
//
// nosync shows the CPU cost without the sync (cpu-ns/entry counts all of
// the process's CPU, background work included).
func BenchmarkSave(b *testing.B) {
	for _, n := range benchBatches {
		for _, v := range []struct {
			name string
			d    Durability
			snap bool
		}{{"sync", Sync, false}, {"nosync", NoSync, false}, {"sync+snap", Sync, true}, {"nosync+snap", NoSync, true}} {
			b.Run(fmt.Sprintf("%s/entries=%d", v.name, n), func(b *testing.B) {
				benchSave(b, n, v.d, v.snap)
			})
		}
		b.Run(fmt.Sprintf("raw-fdatasync/entries=%d", n), func(b *testing.B) {
			benchRaw(b, n)
		})
	}
}

func benchSave(b *testing.B, n int, d Durability, snapshots bool) {
	const every, keep = 8192, 1024
	s, fs := benchStore(b, d)
	ents := benchEntries(n)
	hs := engine.HardState{Promised: engine.MakeBallot(1, 1)}
	snap := engine.Snapshot{Data: make([]byte, 4096)}
	slot := engine.Slot(0)
	b.SetBytes(int64(n * benchCmdLen))
	b.ReportAllocs()
	syncs0, cpu0 := fs.syncs.Load(), cpuTime()
	b.ResetTimer()
	for range b.N {
		w := Write{HardState: &hs, Entries: ents}
		for i := range ents {
			slot++
			ents[i].Slot = slot
			if snapshots && slot%every == 0 {
				snap.Slot = slot - keep
				w.Snapshot = &snap
			}
		}
		hs.Commit = slot
		if err := s.Save(w); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportPerEntry(b, n, fs, syncs0, cpu0)
}

// benchRaw is the floor: append n*128 bytes to a plain file and fdatasync.
func benchRaw(b *testing.B, n int) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, n*benchCmdLen)
	for i := range n {
		copy(buf[i*benchCmdLen:], payload(0, engine.Slot(i), benchCmdLen))
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportPerEntry(b, n, syncCountingFS{}, 0, cpu0)
}

// BenchmarkSaveConcurrent shows group commit: w goroutines each Save one
// 128-byte entry at a time (Sync). If Pebble folds concurrent commits into
// one WAL sync, syncs/op falls towards 1/w and entries/s grows with w.
func BenchmarkSaveConcurrent(b *testing.B) {
	for _, writers := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, fs := benchStore(b, Sync)
			var next atomic.Uint64
			var todo atomic.Int64
			todo.Store(int64(b.N))
			b.SetBytes(benchCmdLen)
			b.ReportAllocs()
			syncs0, cpu0 := fs.syncs.Load(), cpuTime()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ents := benchEntries(1)
					// Each writer is its own group, as when several Paxos
					// groups share the store.
					wr := Write{Group: engine.GroupID(w), Entries: ents}
					for todo.Add(-1) >= 0 {
						ents[0].Slot = engine.Slot(next.Add(1))
						if err := s.Save(wr); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			reportPerEntry(b, 1, fs, syncs0, cpu0)
		})
	}
}

// BenchmarkRawSyncConcurrent is the disk's floor when several nodes share
// it, as in a local benchmark cluster: w goroutines, each with its own
// file, write 16 KiB (about one loaded follower's group) and fdatasync, in
// a loop. "append" writes past the end of the file, so every sync also
// writes the metadata that allocates the blocks; "overwrite" writes over
// blocks written and synced beforehand (what a recycled or spare WAL
// gives). p50-us is the median write+sync; cpu-us/sync counts the whole
// process (the kernel's share of the sync included).
func BenchmarkRawSyncConcurrent(b *testing.B) {
	const size = 16 << 10
	for _, mode := range []string{"append", "overwrite"} {
		for _, writers := range []int{1, 2, 5, 8} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, writers), func(b *testing.B) {
				benchRawSyncConcurrent(b, writers, size, mode == "overwrite")
			})
		}
	}
}

func benchRawSyncConcurrent(b *testing.B, writers, size int, overwrite bool) {
	dir := b.TempDir()
	per := max(1, b.N/writers)
	files := make([]*os.File, writers)
	for w := range files {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprint("f", w)), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if overwrite {
			zeros := make([]byte, 1<<20)
			for off := 0; off < per*size; off += len(zeros) {
				if _, err := f.Write(zeros); err != nil {
					b.Fatal(err)
				}
			}
			if err := unix.Fsync(int(f.Fd())); err != nil {
				b.Fatal(err)
			}
			if _, err := f.Seek(0, 0); err != nil {
				b.Fatal(err)
			}
		}
		files[w] = f
	}
	lat := make([][]time.Duration, writers)
	buf := payload(0, 1, size)
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := make([]time.Duration, 0, per)
			for range per {
				start := time.Now()
				if _, err := f.Write(buf); err != nil {
					b.Error(err)
					return
				}
				if err := unix.Fdatasync(int(f.Fd())); err != nil {
					b.Error(err)
					return
				}
				l = append(l, time.Since(start))
			}
			lat[w] = l
		}()
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return // every writer failed, and said why
	}
	slices.Sort(all)
	syncs := float64(len(all))
	b.ReportMetric(float64(all[len(all)/2].Nanoseconds())/1e3, "p50-us")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/syncs, "cpu-us/sync")
	b.ReportMetric(syncs/b.Elapsed().Seconds(), "syncs/s")
}
