// Package store is the durable half of the engine: the Paxos log and hard
// state of every group, kept in one Pebble instance.
//
// One call, Store.Save, persists everything an engine Ready asks for (hard
// state, accepted entries, a snapshot and the truncation it implies) as one
// atomic Pebble batch. With Durability Sync (the default) Save returns only
// after the batch is on stable storage; concurrent Save calls share one WAL
// sync (group commit, done by Pebble's commit pipeline: see Store.Save).
//
// Log implements engine.Storage for one group. Every stored record carries a
// CRC-32C over its key and value; a record that fails it is reported as an
// error wrapping ErrCorrupt and naming the slot, never skipped or returned.
//
// The key layout is drawn in keys.go and the record layout in record.go.
//
// Tests and the engine simulator run the same code in memory through
// Pebble's vfs (Config.FS): NewCrashableFS and Store.CrashClose simulate a
// power loss that drops every write that was not synced.
package store
