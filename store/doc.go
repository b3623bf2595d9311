// Package store is the durable half of the engine: the Paxos log and hard
// state of every group, kept in one Pebble instance.
//
// One call, Store.Save, persists everything an engine Ready asks for (hard
// state, accepted entries, a snapshot and the truncation it implies) as one
// atomic Pebble batch. With Durability Sync (the default) Save returns only
// after the batch is on stable storage (the WAL fdatasync'd). Concurrent
// Save calls share WAL syncs: Pebble's commit pipeline appends each batch to
// the WAL and one flusher goroutine syncs everything queued so far, so no
// committer goroutine of our own is needed (TestGroupCommitSharesSyncs,
// BenchmarkSaveConcurrent).
//
// Log implements engine.Storage for one group. FirstSlot and LastSlot read
// values cached in memory; Entries reads Pebble and returns copies.
//
// Every stored record carries a CRC-32C over its key and value (record.go);
// a record that fails it is an error wrapping ErrCorrupt that names the
// slot ("store: slot 1042: checksum mismatch (group 0)"), never skipped or
// returned. Pebble's own block and WAL checksums are reported the same way.
// Open tells apart a directory that is not a store (ErrNotStore), one that
// another process holds (ErrLocked, from Pebble's directory lock) and
// corruption (ErrCorrupt).
//
// A snapshot Save is refused with ErrSnapshotOlder when the stored snapshot
// is newer, judged under a per-group lock held through the commit, so two
// concurrent snapshot Saves can never leave the older one stored.
//
// Space (space.go) measures the store's disk use (Pebble's files and the
// WAL spare) and the filesystem's free space against Config.SpaceQuota and
// MinFreeBytes; its user refuses new work while Space.Err reports
// ErrNoSpace. A disk that fills anyway stops the process with one line
// naming the directory (Pebble cannot undo a failed WAL write).
//
// The key layout is drawn in keys.go, the record layout in record.go, and
// the Pebble options, with the reason for each, are in open.go.
//
// Tests and the engine simulator run the same code in memory through
// Pebble's vfs (Config.FS = vfs.NewMem()); NewCrashableFS and
// Store.CrashClose simulate a power loss that drops every unsynced write.
package store
