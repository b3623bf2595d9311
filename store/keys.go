package store

// Key layout. All integers are big-endian, so Pebble's bytewise order is
// numeric order: one group's records are contiguous, and its entries iterate
// in slot order.
//
//	store-wide format marker (exactly one key, written when the store is
//	created; a directory without it is not a store):
//
//	  +------+----------------+
//	  | 0x00 | "mpaxos-store" |
//	  +------+----------------+
//	    1B         12B
//
//	per-group records (every other key):
//
//	  +------+--------------+------+--------------+
//	  | 0x01 | group uint32 | kind | slot uint64  |
//	  +------+--------------+------+--------------+
//	    1B         4B          1B     8B, entries only
//
//	  kind 0x01  entry at slot   -> entryRecord      (record.go)
//	  kind 0x02  snapshot slot   -> snapMetaRecord
//	  kind 0x03  snapshot data   -> snapDataRecord
//	  kind 0x04  hard state      -> hardStateRecord
//
// Why this order. The hard state is rewritten by nearly every Save, so
// every memtable flush holds it, and an sstable covers one key interval.
// With the hard state after the entries a flush covers [its first new
// entry, hard state], which overlaps only the older tables holding the
// previous hard state; with it before the entries every flush overlapped
// every table, and compactions kept rewriting the whole log (write test,
// 512k entries of 128 B, 2 MiB memtables: 125 MB compacted for 152 MB
// flushed before, 72 MB after).
//
// The snapshot's slot has a small record of its own, so Entries can read
// the compaction point and the entries from one consistent Pebble iterator
// without touching the (possibly large) snapshot data. Truncation after a
// snapshot is one range deletion [entryKey(g, 0), entryKey(g, snap+1)).

import (
	"encoding/binary"
	"math"

	"github.com/mpaxos/mpaxos/engine"
)

const (
	nsMarker byte = 0x00
	nsGroup  byte = 0x01

	kindEntry     byte = 0x01
	kindSnapMeta  byte = 0x02
	kindSnapData  byte = 0x03
	kindHardState byte = 0x04
	kindSnapConf  byte = 0x05

	groupPrefixLen = 1 + 4
	metaKeyLen     = groupPrefixLen + 1
	entryKeyLen    = metaKeyLen + 8
)

// markerKey is the store-wide format marker's key.
var markerKey = []byte("\x00mpaxos-store")

// appendGroupPrefix appends the 5-byte prefix shared by all of g's keys.
func appendGroupPrefix(dst []byte, g engine.GroupID) []byte {
	dst = append(dst, nsGroup)
	return binary.BigEndian.AppendUint32(dst, uint32(g))
}

// appendMetaKey appends the key of one of g's slot-less records.
func appendMetaKey(dst []byte, g engine.GroupID, kind byte) []byte {
	return append(appendGroupPrefix(dst, g), kind)
}

// putEntryKey writes the entry key of (g, slot) into dst[:entryKeyLen].
func putEntryKey(dst []byte, g engine.GroupID, slot engine.Slot) {
	_ = dst[entryKeyLen-1]
	dst[0] = nsGroup
	binary.BigEndian.PutUint32(dst[1:5], uint32(g))
	dst[5] = kindEntry
	binary.BigEndian.PutUint64(dst[6:14], uint64(slot))
}

// entryKey returns a new entry key of (g, slot).
func entryKey(g engine.GroupID, slot engine.Slot) []byte {
	k := make([]byte, entryKeyLen)
	putEntryKey(k, g, slot)
	return k
}

// entryUpperBound returns the exclusive upper bound of g's entry keys:
// the key after entryKey(g, slot) for every slot.
func entryUpperBound(g engine.GroupID) []byte {
	return appendMetaKey(nil, g, kindEntry+1)
}

// entryEnd returns the exclusive upper bound of g's entries below hi.
// hi == MaxUint64 means "all of them" (it cannot be stored as slot+1).
func entryEnd(g engine.GroupID, hi engine.Slot) []byte {
	if hi == math.MaxUint64 {
		return entryUpperBound(g)
	}
	return entryKey(g, hi)
}

// groupEnd returns the exclusive upper bound of all of g's keys.
func groupEnd(g engine.GroupID) []byte {
	if g == math.MaxUint32 {
		return []byte{nsGroup + 1}
	}
	return appendGroupPrefix(nil, g+1)
}

// parseGroupKey splits a per-group key. ok is false for a key that does not
// follow the layout (wrong namespace, wrong length for its kind).
func parseGroupKey(k []byte) (g engine.GroupID, kind byte, slot engine.Slot, ok bool) {
	if len(k) < metaKeyLen || k[0] != nsGroup {
		return 0, 0, 0, false
	}
	g = engine.GroupID(binary.BigEndian.Uint32(k[1:5]))
	kind = k[5]
	switch kind {
	case kindHardState, kindSnapMeta, kindSnapData, kindSnapConf:
		return g, kind, 0, len(k) == metaKeyLen
	case kindEntry:
		if len(k) != entryKeyLen {
			return g, kind, 0, false
		}
		return g, kind, engine.Slot(binary.BigEndian.Uint64(k[6:14])), true
	}
	return g, kind, 0, false
}
