package store

// Record (value) layout. Every value starts with a CRC-32C (Castagnoli) of
// the record's key followed by the rest of the value, so a flipped bit, a
// truncated or padded value, or a value stored under the wrong key (wrong
// group, wrong slot) all fail the check. All integers are big-endian.
//
//	entryRecord (key: group, kindEntry, slot):
//	  +------------+---------------+------+-----------------+
//	  | crc uint32 | ballot uint64 | type | data ...        |
//	  +------------+---------------+------+-----------------+
//	       4B            8B           1B   rest of the value
//
//	hardStateRecord (key: group, kindHardState):
//	  +------------+-----------------+---------------+
//	  | crc uint32 | promised uint64 | commit uint64 |
//	  +------------+-----------------+---------------+
//
//	snapMetaRecord (key: group, kindSnapMeta):
//	  +------------+-------------+
//	  | crc uint32 | slot uint64 |
//	  +------------+-------------+
//
//	snapDataRecord (key: group, kindSnapData):
//	  +------------+-------------+-----------------+
//	  | crc uint32 | slot uint64 | data ...        |
//	  +------------+-------------+-----------------+
//
//	snapConfRecord (key: group, kindSnapConf), written with a snapshot whose
//	Membership is known (absent: unknown, as in stores written before
//	membership changes; the engine then uses its Config):
//	  +------------+-------------+---------------------------------------+
//	  | crc uint32 | slot uint64 | membership (engine.Membership binary) |
//	  +------------+-------------+---------------------------------------+
//
//	markerRecord (markerKey):
//	  +------------+----------------+
//	  | crc uint32 | version uint32 |
//	  +------------+----------------+
//
// The data's length is the value's length minus the header: Pebble stores
// value lengths itself, and the CRC covers the whole value, so a value cut
// short fails the checksum.

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/mpaxos/mpaxos/engine"
)

const (
	crcLen            = 4
	entryHeaderLen    = crcLen + 8 + 1
	hardStateLen      = crcLen + 8 + 8
	snapMetaLen       = crcLen + 8
	snapDataHeaderLen = crcLen + 8
	snapConfHeaderLen = crcLen + 8
	markerLen         = crcLen + 4

	// formatVersion is the on-disk format this code reads and writes.
	// Bump it for any change to the key or record layout.
	formatVersion uint32 = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordCRC is the checksum of a record: key, then the value after its CRC.
func recordCRC(key, val []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, key), castagnoli, val[crcLen:])
}

// seal stores the record's checksum in val[:4]; the rest of val must be
// filled in already.
func seal(key, val []byte) {
	binary.BigEndian.PutUint32(val, recordCRC(key, val))
}

// check verifies a record's length and checksum. It returns "" when the
// record is sound, or the reason it is not.
func check(key, val []byte, minLen int) string {
	if len(val) < minLen {
		return "truncated record"
	}
	if binary.BigEndian.Uint32(val) != recordCRC(key, val) {
		return "checksum mismatch"
	}
	return ""
}

// putEntry encodes e into val, which must be exactly
// entryHeaderLen+len(e.Data) bytes; key is e's entry key.
func putEntry(key, val []byte, e *engine.Entry) {
	binary.BigEndian.PutUint64(val[crcLen:], uint64(e.Ballot))
	val[crcLen+8] = byte(e.Type)
	copy(val[entryHeaderLen:], e.Data)
	seal(key, val)
}

// decodeEntry checks and parses an entry record. The returned Data aliases
// val. An error wraps ErrCorrupt and names the slot.
func decodeEntry(key, val []byte) (engine.Entry, error) {
	g, kind, slot, ok := parseGroupKey(key)
	if !ok || kind != kindEntry {
		return engine.Entry{}, &CorruptError{Group: g, kind: recKey, Reason: "malformed entry key"}
	}
	if r := check(key, val, entryHeaderLen); r != "" {
		return engine.Entry{}, &CorruptError{Group: g, Slot: slot, kind: recEntry, Reason: r}
	}
	e := engine.Entry{
		Slot:   slot,
		Ballot: engine.Ballot(binary.BigEndian.Uint64(val[crcLen:])),
		Type:   engine.EntryType(val[crcLen+8]),
	}
	if !knownEntryType(e.Type) {
		return engine.Entry{}, &CorruptError{Group: g, Slot: slot, kind: recEntry, Reason: "unknown entry type"}
	}
	if len(val) > entryHeaderLen {
		e.Data = val[entryHeaderLen:]
	}
	return e, nil
}

// knownEntryType reports whether t is an entry type the store keeps.
func knownEntryType(t engine.EntryType) bool {
	return t == engine.EntryBatch || t == engine.EntryNoop || t == engine.EntryConfChange
}

func putHardState(key, val []byte, hs engine.HardState) {
	binary.BigEndian.PutUint64(val[crcLen:], uint64(hs.Promised))
	binary.BigEndian.PutUint64(val[crcLen+8:], uint64(hs.Commit))
	seal(key, val)
}

func decodeHardState(g engine.GroupID, key, val []byte) (engine.HardState, error) {
	if r := check(key, val, hardStateLen); r != "" {
		return engine.HardState{}, &CorruptError{Group: g, kind: recHardState, Reason: r}
	}
	if len(val) != hardStateLen {
		return engine.HardState{}, &CorruptError{Group: g, kind: recHardState, Reason: "bad length"}
	}
	return engine.HardState{
		Promised: engine.Ballot(binary.BigEndian.Uint64(val[crcLen:])),
		Commit:   engine.Slot(binary.BigEndian.Uint64(val[crcLen+8:])),
	}, nil
}

func putSnapMeta(key, val []byte, slot engine.Slot) {
	binary.BigEndian.PutUint64(val[crcLen:], uint64(slot))
	seal(key, val)
}

func decodeSnapMeta(g engine.GroupID, key, val []byte) (engine.Slot, error) {
	if r := check(key, val, snapMetaLen); r != "" {
		return 0, &CorruptError{Group: g, kind: recSnapMeta, Reason: r}
	}
	if len(val) != snapMetaLen {
		return 0, &CorruptError{Group: g, kind: recSnapMeta, Reason: "bad length"}
	}
	return engine.Slot(binary.BigEndian.Uint64(val[crcLen:])), nil
}

func putSnapData(key, val []byte, snap *engine.Snapshot) {
	binary.BigEndian.PutUint64(val[crcLen:], uint64(snap.Slot))
	copy(val[snapDataHeaderLen:], snap.Data)
	seal(key, val)
}

// decodeSnapData checks and parses a snapshot; Data aliases val.
func decodeSnapData(g engine.GroupID, key, val []byte) (engine.Snapshot, error) {
	if r := check(key, val, snapDataHeaderLen); r != "" {
		return engine.Snapshot{}, &CorruptError{Group: g, kind: recSnapData, Reason: r}
	}
	s := engine.Snapshot{Slot: engine.Slot(binary.BigEndian.Uint64(val[crcLen:]))}
	if len(val) > snapDataHeaderLen {
		s.Data = val[snapDataHeaderLen:]
	}
	return s, nil
}

func putSnapConf(key, val []byte, slot engine.Slot, conf []byte) {
	binary.BigEndian.PutUint64(val[crcLen:], uint64(slot))
	copy(val[snapConfHeaderLen:], conf)
	seal(key, val)
}

// decodeSnapConf checks and parses a snapshot's membership and the slot of
// the snapshot it belongs to.
func decodeSnapConf(g engine.GroupID, key, val []byte) (engine.Slot, engine.Membership, error) {
	if r := check(key, val, snapConfHeaderLen); r != "" {
		return 0, engine.Membership{}, &CorruptError{Group: g, kind: recSnapConf, Reason: r}
	}
	m, err := engine.ParseMembership(val[snapConfHeaderLen:])
	if err != nil {
		return 0, engine.Membership{}, &CorruptError{Group: g, kind: recSnapConf, Reason: err.Error()}
	}
	return engine.Slot(binary.BigEndian.Uint64(val[crcLen:])), m, nil
}

func markerValue() []byte {
	val := make([]byte, markerLen)
	binary.BigEndian.PutUint32(val[crcLen:], formatVersion)
	seal(markerKey, val)
	return val
}

// decodeMarker returns the format version a marker records.
func decodeMarker(val []byte) (uint32, error) {
	if r := check(markerKey, val, markerLen); r != "" {
		return 0, &CorruptError{kind: recMarker, Reason: r}
	}
	if len(val) != markerLen {
		return 0, &CorruptError{kind: recMarker, Reason: "bad length"}
	}
	return binary.BigEndian.Uint32(val[crcLen:]), nil
}
