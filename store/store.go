package store

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/internal/invariants"
)

// Store is the durable state of every Paxos group of one node: one Pebble
// instance in one directory. Its methods are safe for concurrent use.
type Store struct {
	cfg  Config
	fs   vfs.FS
	log  *slog.Logger
	db   *pebble.DB
	lock *pebble.Lock
	wo   *pebble.WriteOptions // pebble.Sync or pebble.NoSync, per cfg.Durability
	// spare keeps a zero-filled file ready for Pebble's next WAL (see
	// spareFS); nil with NoSync, where no write waits for a sync.
	spare *spareFS

	closed atomic.Bool
	// lastUsed is the Used of the last Space call, for the WAL spare's
	// room check (which must not call into Pebble).
	lastUsed atomic.Uint64
	// manifestErr is what checkManifest found at Open, before Pebble read
	// the MANIFEST.
	manifestErr error

	// hooks are called, when set, at points of Save that tests need to
	// line up with other goroutines; set only by tests before use.
	hooks struct {
		// snapshotWaits: a snapshot Save found another one of its group
		// committing and is about to wait for it.
		snapshotWaits func(engine.Slot)
		// snapshotChecked: a snapshot Save passed its not-older check
		// and is about to commit.
		snapshotChecked func(engine.Slot)
	}

	mu struct {
		sync.Mutex
		logs map[engine.GroupID]*Log
	}
}

// Write is everything one engine Ready asks to persist for one group. Save
// stores it as one atomic batch.
type Write struct {
	Group engine.GroupID
	// HardState, when not nil, replaces the stored hard state.
	HardState *engine.HardState
	// Entries replace any stored entry with the same slot. Slots must be
	// > 0 and types EntryBatch, EntryNoop or EntryConfChange. Save copies
	// their Data.
	Entries []engine.Entry
	// Snapshot, when not nil, replaces the stored snapshot and deletes every
	// entry at or below Snapshot.Slot, Entries of this Write included. Its
	// Slot must be > 0; a Slot below the stored snapshot's (judged
	// atomically with the commit, even against concurrent Saves) is
	// refused with ErrSnapshotOlder and nothing of the Write is stored.
	Snapshot *engine.Snapshot
	// NoSync lets Save return without waiting for a sync even with
	// Durability Sync: the write is in Pebble's WAL, ordered after every
	// earlier Save, and becomes durable with the next synced one (a crash
	// before that loses it). For state whose loss is harmless, such as a
	// commit index that only moved forward (engine.Ready.MustSync false).
	NoSync bool
}

// FromReady returns the Write that persists what rd asks for group g.
func FromReady(g engine.GroupID, rd *engine.Ready) Write {
	w := Write{Group: g, Entries: rd.Entries, Snapshot: rd.Snapshot, NoSync: !rd.MustSync}
	if rd.SaveHardState {
		w.HardState = &rd.HardState
	}
	return w
}

// Open opens the store in cfg.Dir, creating it when the directory is absent
// or empty. Errors: ErrNotStore (the directory holds something else),
// ErrLocked (another process or Store has it open), ErrCorrupt (a record
// read while loading fails its checksum, or Pebble found corruption).
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, fs: cfg.FS, log: cfg.Logger, wo: pebble.Sync}
	if s.fs == nil {
		s.fs = vfs.Default
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.Durability == NoSync {
		s.wo = pebble.NoSync
	}
	s.mu.logs = make(map[engine.GroupID]*Log)

	if err := checkDir(s.fs, cfg.Dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(s.fs, cfg.Dir)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	pfs := s.fs
	if cfg.Durability == Sync {
		memtable := cfg.MemTableSize
		if memtable == 0 {
			memtable = DefaultConfig().MemTableSize
		}
		if s.spare, err = newSpareFS(s.fs, cfg.Dir, int64(memtable), s.log); err != nil {
			_ = lock.Close()
			return nil, fmt.Errorf("store: %s: %w", cfg.Dir, err)
		}
		// The spare is the store's file too: it is written only when it
		// fits in the quota and the free space, or spares alone could fill
		// a small disk (64 MiB) before Pebble wrote much.
		s.spare.room = func(size int64) bool { return s.baseSpace().room(uint64(size)) }
		pfs = s.spare
	}
	// Read before Pebble opens it: Pebble replaces a MANIFEST it read
	// only in part with a new, clean one. Used only to explain a missing
	// format marker (checkMarker), since a damaged last record is also
	// what a crash during a MANIFEST write leaves.
	s.manifestErr = checkManifest(s.fs, cfg.Dir)
	db, err := pebble.Open(cfg.Dir, pebbleOptions(cfg, pfs, lock, s.log))
	if err != nil {
		if s.spare != nil {
			s.spare.close()
		}
		_ = lock.Close()
		if pebble.IsCorruptionError(err) {
			return nil, fmt.Errorf("%w: open %s: %v", ErrCorrupt, cfg.Dir, err)
		}
		return nil, fmt.Errorf("store: open %s: %w", cfg.Dir, err)
	}
	s.db = db
	if err := s.checkMarker(); err != nil {
		_ = s.closeDB()
		return nil, err
	}
	if err := s.loadGroups(); err != nil {
		_ = s.closeDB()
		return nil, err
	}
	return s, nil
}

// checkMarker verifies the format marker, writing it into a new store.
func (s *Store) checkMarker() error {
	val, closer, err := s.db.Get(markerKey)
	if errors.Is(err, pebble.ErrNotFound) {
		// A fresh store, or a Pebble database someone else wrote: only
		// the first may be adopted.
		it, err := s.db.NewIter(nil)
		if err != nil {
			return wrapPebble(err, "open")
		}
		nonEmpty := it.First()
		if err := firstErr(it.Error(), it.Close()); err != nil {
			return wrapPebble(err, "open")
		}
		if nonEmpty {
			// The marker is the first record a store writes: keys without
			// it are another program's database or a MANIFEST whose
			// damage made Pebble lose the sstable holding it.
			if s.manifestErr != nil {
				return s.manifestErr
			}
			return fmt.Errorf("%w: %s holds a Pebble database without a store marker", ErrNotStore, s.cfg.Dir)
		}
		if err := s.db.Set(markerKey, markerValue(), pebble.Sync); err != nil {
			return wrapPebble(err, "write marker")
		}
		return nil
	}
	if err != nil {
		return wrapPebble(err, "read marker")
	}
	defer closer.Close()
	v, err := decodeMarker(val)
	if err != nil {
		return err
	}
	if v != formatVersion {
		return fmt.Errorf("%w: %s has store format version %d, this build reads %d", ErrNotStore, s.cfg.Dir, v, formatVersion)
	}
	return nil
}

// loadGroups finds every group with stored records and caches its first and
// last slot, checking the records it reads on the way.
func (s *Store) loadGroups() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{nsGroup}, UpperBound: []byte{nsGroup + 1}})
	if err != nil {
		return wrapPebble(err, "load")
	}
	defer it.Close()
	for valid := it.First(); valid; {
		g, _, _, ok := parseGroupKey(it.Key())
		if !ok {
			return &CorruptError{Group: g, kind: recKey, Reason: fmt.Sprintf("malformed key %x", it.Key())}
		}
		l := newLog(s, g)
		hs, err := l.InitialState()
		if err != nil {
			return err
		}
		l.promised.b = hs.Promised
		snap, err := l.readSnapMeta()
		if err != nil {
			return err
		}
		l.snap.Store(uint64(snap))
		l.last.Store(uint64(snap))
		// The group's last key is its highest entry, if it has any.
		if it.SeekLT(entryUpperBound(g)) {
			if kg, kind, _, _ := parseGroupKey(it.Key()); kg == g && kind == kindEntry {
				e, err := decodeEntry(it.Key(), it.Value())
				if err != nil {
					return err
				}
				storeMax(&l.last, uint64(e.Slot))
			}
		}
		s.mu.logs[g] = l
		if g == math.MaxUint32 {
			break
		}
		valid = it.SeekGE(groupEnd(g))
	}
	return wrapPebble(it.Error(), "load")
}

// Close closes the store. Calls after Close return ErrClosed; Close must
// not race with other calls.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return ErrClosed
	}
	return s.closeDB()
}

func (s *Store) closeDB() error {
	err := s.db.Close()
	if s.spare != nil {
		s.spare.close()
	}
	return firstErr(err, s.lock.Close())
}

// Log returns the engine.Storage view of group g. The same *Log comes back
// for the same g; a group never written has an empty log.
func (s *Store) Log(g engine.GroupID) *Log {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.mu.logs[g]
	if !ok {
		l = newLog(s, g)
		s.mu.logs[g] = l
	}
	return l
}

// SaveSnapshot persists snap for group g and deletes the entries at or below
// snap.Slot, durably (per Config.Durability).
func (s *Store) SaveSnapshot(g engine.GroupID, snap engine.Snapshot) error {
	return s.Save(Write{Group: g, Snapshot: &snap})
}

// putSnapConfOp adds sn's membership to b, or deletes a stored one when
// sn's is unknown (it must not outlive the snapshot it came with).
func putSnapConfOp(b *pebble.Batch, g engine.GroupID, sn *engine.Snapshot) error {
	key := appendMetaKey(nil, g, kindSnapConf)
	if sn.Membership.IsZero() {
		return wrapPebble(b.Delete(key, nil), "save")
	}
	conf, err := sn.Membership.MarshalBinary()
	if err != nil {
		return fmt.Errorf("%w: group %d: snapshot membership: %v", ErrInvalidWrite, g, err)
	}
	val := make([]byte, snapConfHeaderLen+len(conf))
	putSnapConf(key, val, sn.Slot, conf)
	return wrapPebble(b.Set(key, val, nil), "save")
}

// Save persists w as one atomic Pebble batch and, with Durability Sync
// (unless w.NoSync), returns only after it is on stable storage.
//
// Group commit: Save calls from several goroutines share WAL syncs. Pebble's
// commit pipeline appends each batch to the WAL under a short mutex and
// then waits; its single WAL flusher fdatasyncs everything appended so far
// in one call and releases every waiter it covers, so N concurrent Saves
// cost about one sync, not N (BenchmarkSaveConcurrent counts them).
func (s *Store) Save(w Write) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if w.HardState == nil && len(w.Entries) == 0 && w.Snapshot == nil {
		return nil
	}
	l := s.Log(w.Group)
	size, maxSlot, err := w.entriesSize()
	if err != nil {
		return err
	}
	if w.Snapshot != nil {
		if w.Snapshot.Slot == 0 {
			return fmt.Errorf("%w: group %d: snapshot at slot 0", ErrInvalidWrite, w.Group)
		}
		// A cheap early refusal, before copying a large snapshot into a
		// batch; the check that counts is repeated under snapMu below.
		if err := l.checkSnapshotLocked(w.Snapshot.Slot); err != nil {
			return err
		}
		size += 4*entryKeyLen + snapMetaLen + snapDataHeaderLen + len(w.Snapshot.Data) + 64
	}
	size += w.hardStateSize(l)

	// The batch, and its buffer that SetDeferred hands out, come from
	// Pebble's pool: they are ours until b.Close returns them, after the
	// commit. Pebble copies the batch into its WAL and memtable, so nothing
	// of it is referenced once Commit returns.
	b := s.db.NewBatchWithSize(batchHeaderLen + size)
	defer b.Close()
	if err := w.appendTo(b); err != nil {
		return err
	}
	if sn := w.Snapshot; sn != nil {
		// Later operations in a batch win over earlier ones, so the range
		// deletion comes after this Write's entries and removes those it
		// covers too.
		if err := b.DeleteRange(entryKey(w.Group, 0), entryEnd(w.Group, sn.Slot+1), nil); err != nil {
			return wrapPebble(err, "save")
		}
		op := b.SetDeferred(metaKeyLen, snapMetaLen)
		appendMetaKey(op.Key[:0], w.Group, kindSnapMeta)
		putSnapMeta(op.Key, op.Value, sn.Slot)
		if err := op.Finish(); err != nil {
			return wrapPebble(err, "save")
		}
		op = b.SetDeferred(metaKeyLen, snapDataHeaderLen+len(sn.Data))
		appendMetaKey(op.Key[:0], w.Group, kindSnapData)
		putSnapData(op.Key, op.Value, sn)
		if err := op.Finish(); err != nil {
			return wrapPebble(err, "save")
		}
		if err := putSnapConfOp(b, w.Group, sn); err != nil {
			return err
		}
	}
	wo := s.wo
	if w.NoSync {
		wo = pebble.NoSync
	}
	if w.Snapshot != nil {
		// The not-older check, the commit and the cache update happen
		// under one lock: checked apart from the commit, two concurrent
		// snapshot Saves could both pass, and the older, committed last,
		// would put the stored snapshot back below the entries the newer
		// one's range deletion already removed (a gap a restart cannot
		// recover from). Only snapshot Saves take it, so entry writes
		// never wait behind a large snapshot's commit.
		if !l.snapMu.TryLock() {
			if h := s.hooks.snapshotWaits; h != nil {
				h(w.Snapshot.Slot)
			}
			l.snapMu.Lock()
		}
		defer l.snapMu.Unlock()
		if err := l.checkSnapshotLocked(w.Snapshot.Slot); err != nil {
			return err
		}
		if h := s.hooks.snapshotChecked; h != nil {
			h(w.Snapshot.Slot)
		}
	}
	if err := b.Commit(wo); err != nil {
		return wrapPebble(err, fmt.Sprintf("save group %d", w.Group))
	}
	// The caches only move forward, so concurrent Saves to one group may
	// apply them in any order.
	if w.Snapshot != nil {
		storeMax(&l.snap, uint64(w.Snapshot.Slot))
		storeMax(&l.last, uint64(w.Snapshot.Slot))
	}
	l.raiseLast(maxSlot)
	return nil
}

// SaveAll persists ws, writes of any groups without snapshots (use Save
// for those), as one atomic Pebble batch with one sync (unless every
// Write is NoSync): the Readies of many groups ready together cost one
// commit and one sync. A Write with a Snapshot, or an invalid one, is
// refused with ErrInvalidWrite before anything is stored.
func (s *Store) SaveAll(ws []Write) error {
	if s.closed.Load() {
		return ErrClosed
	}
	size, noSync := 0, true
	for i := range ws {
		w := &ws[i]
		if w.Snapshot != nil {
			return fmt.Errorf("%w: group %d: SaveAll takes no snapshot (Save does)", ErrInvalidWrite, w.Group)
		}
		n, _, err := w.entriesSize()
		if err != nil {
			return err
		}
		size += n + w.hardStateSize(s.Log(w.Group))
		noSync = noSync && w.NoSync
	}
	if size == 0 {
		return nil
	}
	b := s.db.NewBatchWithSize(batchHeaderLen + size)
	defer b.Close()
	for i := range ws {
		if err := ws[i].appendTo(b); err != nil {
			return err
		}
	}
	wo := s.wo
	if noSync {
		wo = pebble.NoSync
	}
	if err := b.Commit(wo); err != nil {
		return wrapPebble(err, fmt.Sprintf("save %d groups", len(ws)))
	}
	for i := range ws {
		_, maxSlot, _ := ws[i].entriesSize()
		s.Log(ws[i].Group).raiseLast(maxSlot)
	}
	return nil
}

// entriesSize checks w's entries and returns the batch bytes they take
// and their highest slot.
func (w *Write) entriesSize() (size int, maxSlot engine.Slot, err error) {
	for i := range w.Entries {
		e := &w.Entries[i]
		if e.Slot == 0 || !knownEntryType(e.Type) {
			return 0, 0, fmt.Errorf("%w: group %d: entry at slot %d has type %d", ErrInvalidWrite, w.Group, e.Slot, e.Type)
		}
		size += entryKeyLen + entryHeaderLen + len(e.Data) + 2*binaryMaxVarint32 + 1
		maxSlot = max(maxSlot, e.Slot)
	}
	return size, maxSlot, nil
}

// hardStateSize is the batch bytes w's hard state takes, checked against
// l's stored promise under the invariants tag.
func (w *Write) hardStateSize(l *Log) int {
	if w.HardState == nil {
		return 0
	}
	if invariants.Enabled {
		l.checkPromised(*w.HardState)
	}
	return metaKeyLen + hardStateLen + 16
}

// appendTo encodes w's entries and hard state into b, straight into the
// batch's buffer (no intermediate copy).
func (w *Write) appendTo(b *pebble.Batch) error {
	for i := range w.Entries {
		e := &w.Entries[i]
		op := b.SetDeferred(entryKeyLen, entryHeaderLen+len(e.Data))
		putEntryKey(op.Key, w.Group, e.Slot)
		putEntry(op.Key, op.Value, e)
		if err := op.Finish(); err != nil {
			return wrapPebble(err, "save")
		}
	}
	if w.HardState != nil {
		op := b.SetDeferred(metaKeyLen, hardStateLen)
		appendMetaKey(op.Key[:0], w.Group, kindHardState)
		putHardState(op.Key, op.Value, *w.HardState)
		if err := op.Finish(); err != nil {
			return wrapPebble(err, "save")
		}
	}
	return nil
}

// raiseLast raises the cached last slot to maxSlot, unless a snapshot
// covers it.
func (l *Log) raiseLast(maxSlot engine.Slot) {
	if maxSlot > 0 && uint64(maxSlot) > l.snap.Load() {
		storeMax(&l.last, uint64(maxSlot))
	}
}

const (
	batchHeaderLen    = 12 // Pebble's batch header: seqnum + count
	binaryMaxVarint32 = 5
)

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Uint64, v uint64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// wrapPebble prefixes a Pebble error and marks Pebble's corruption errors
// with ErrCorrupt. nil stays nil.
func wrapPebble(err error, what string) error {
	if err == nil {
		return nil
	}
	if pebble.IsCorruptionError(err) {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err)
	}
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: %s: %w", ErrNoSpace, what, err)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
