package kv

// Snapshot format: the Machine's keys (client sessions are the runtime's,
// sm's group snapshot carries them next to these bytes).
//
//	 0        4     5                  13
//	 +--------+-----+------------------+-----------+-----------------+----------------+
//	 | "MPKV" | ver | applied u64 LE   | nKeys uv  | nKeys entries   | crc32c u32 LE  |
//	 +--------+-----+------------------+-----------+-----------------+----------------+
//
//	 entry:    | len(key) uv | key | len(value) uv | value |
//
// ver is snapshotVersion (3). Version 2, which nodes wrote while sessions
// lived in this package, has the sessions after the entries,
//
//	 ... | nKeys entries | nSessions uv | nSessions sessions | crc32c u32 LE |
//	 session:  | ClientID u64 LE | token u64 LE | seq uv | last slot uv | status u8 | len(value) uv | value |
//
// and is still read (RestoreLegacy hands its sessions to the runtime), so
// a node upgraded in place restores the snapshot it stored before; version
// 1 (no session tokens) is refused, as is the command format of its log.
// Entries are in strictly increasing key order and sessions in strictly
// increasing ClientID order, so equal machines give byte-identical
// snapshots (and Restore refuses duplicates). The CRC-32C (Castagnoli)
// covers every byte before it. Any inconsistency is ErrCorruptSnapshot,
// and a failed Restore leaves the Machine unchanged.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	"github.com/mpaxos/mpaxos/internal/invariants"
	"github.com/mpaxos/mpaxos/internal/statehash"
	"github.com/mpaxos/mpaxos/sm"
)

const (
	snapshotMagic   = "MPKV"
	snapshotVersion = 3
	// snapshotV2 is the version with sessions (RestoreLegacy).
	snapshotV2     = 2
	snapshotHeader = 4 + 1 + 8
)

// ErrCorruptSnapshot reports snapshot bytes that Restore cannot trust. It
// wraps sm.ErrCorruptSnapshot.
var ErrCorruptSnapshot = fmt.Errorf("kv: %w", sm.ErrCorruptSnapshot)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotBytes returns the Machine's whole state as a freshly allocated
// []byte the caller owns.
func (m *Machine) SnapshotBytes() []byte { return m.Freeze().Encode() }

// Snapshot writes the Machine's whole state to w (sm.Machine).
func (m *Machine) Snapshot(w io.Writer) error {
	_, err := w.Write(m.SnapshotBytes())
	return err
}

// Capture is Freeze, for the runtime (sm.Capturer): the snapshot is
// encoded off the apply loop.
func (m *Machine) Capture() io.WriterTo { return m.Freeze() }

// Frozen is the Machine's content at one applied slot, captured without
// copying values or long keys: both are immutable once stored (store clones
// every value it keeps, long keys are strings; short keys are copied with
// their slot), so the captured headers stay valid while the Machine goes on
// applying. Encode can therefore run on
// another goroutine, off the apply loop.
type Frozen struct {
	applied uint64
	entries []slot // copies of the table's used slots: short keys are inline
	size    int
}

// Freeze captures the Machine's content in O(keys) time with no sorting
// and no copying of values or long keys: it copies the used 64-byte slots
// of the key table (short keys are inline there).
func (m *Machine) Freeze() *Frozen {
	if invariants.Enabled {
		m.keys.check()
	}
	f := &Frozen{
		applied: m.applied,
		entries: make([]slot, 0, m.keys.n),
		size:    snapshotHeader + binary.MaxVarintLen64 + 4,
	}
	for _, st := range m.keys.subs {
		for i := range st.slots {
			if e := &st.slots[i]; e.kind != kindEmpty {
				f.entries = append(f.entries, *e)
				f.size += 2*binary.MaxVarintLen64 + len(e.keyBytes()) + len(e.val)
			}
		}
	}
	return f
}

// Applied returns the slot the frozen content reflects.
func (f *Frozen) Applied() uint64 { return f.applied }

// Encode returns the snapshot bytes (the format above): sorted, so equal
// content gives identical bytes. Safe on any goroutine; call it once.
func (f *Frozen) Encode() []byte {
	slices.SortFunc(f.entries, func(a, b slot) int { return bytes.Compare(a.keyBytes(), b.keyBytes()) })
	b := make([]byte, 0, f.size)
	b = append(b, snapshotMagic...)
	b = append(b, snapshotVersion)
	b = binary.LittleEndian.AppendUint64(b, f.applied)
	b = binary.AppendUvarint(b, uint64(len(f.entries)))
	for i := range f.entries {
		e := &f.entries[i]
		b = appendBytes(b, e.keyBytes())
		b = appendBytes(b, e.val)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// WriteTo writes Encode's bytes to w (io.WriterTo, for sm.Capturer).
func (f *Frozen) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(f.Encode())
	return int64(n), err
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptSnapshot}, args...)...)
}

// Restore replaces the Machine's state with the snapshot read from r
// (sm.Machine). On error (wrapping ErrCorruptSnapshot) the Machine is
// unchanged. A version 2 snapshot, which holds sessions, is refused here:
// the runtime restores it with RestoreLegacy, which hands its sessions on.
func (m *Machine) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return m.RestoreBytes(b)
}

// RestoreBytes is Restore from a []byte. It copies what it keeps, so b may
// be reused afterwards.
func (m *Machine) RestoreBytes(b []byte) error {
	_, err := m.restore(b, snapshotVersion)
	return err
}

// RestoreLegacy restores a version 2 snapshot, written while the sessions
// were this package's, and returns its sessions for the runtime's table
// (sm.LegacySnapshot); ok is false for any other version.
func (m *Machine) RestoreLegacy(b []byte) ([]sm.SessionState, uint64, bool, error) {
	if len(b) <= 4 || string(b[:4]) != snapshotMagic || b[4] != snapshotV2 {
		return nil, 0, false, nil
	}
	sessions, err := m.restore(b, snapshotV2)
	if err != nil {
		return nil, 0, false, err
	}
	// Version 2's applied slot was the one sessions and keys shared.
	return sessions, m.applied, true, nil
}

func (m *Machine) restore(b []byte, version byte) ([]sm.SessionState, error) {
	if len(b) < snapshotHeader+4 {
		return nil, corrupt("%d bytes, too short", len(b))
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, corrupt("checksum %#08x, want %#08x", got, sum)
	}
	if string(body[:4]) != snapshotMagic {
		return nil, corrupt("bad magic %q", body[:4])
	}
	if body[4] != version {
		return nil, corrupt("version %d, want %d", body[4], version)
	}
	applied := binary.LittleEndian.Uint64(body[5:])
	d := decoder{b: body[snapshotHeader:], what: "snapshot"}

	// Every entry takes at least 2 bytes and every session 20, so counts
	// larger than the input allows are refused before any allocation.
	nKeys := d.uvarint("key count")
	if d.err == nil && nKeys > uint64(len(d.b))/2 {
		return nil, corrupt("%d keys in %d bytes", nKeys, len(d.b))
	}
	// Pre-sized for the count, but for no more than one key per 16 bytes
	// of input, so a lying count cannot make a small snapshot reserve
	// much more than its own size; smaller entries grow as usual.
	hint := int(min(nKeys, uint64(len(d.b))/16))
	keys := newTable(hint)
	ents := make([]slot, 0, hint) // filled here, added to keys once all is valid
	var prev []byte
	for i := uint64(0); i < nKeys && d.err == nil; i++ {
		k := d.bytes("key")
		v := d.bytes("value")
		if d.err != nil {
			break
		}
		if i > 0 && bytes.Compare(k, prev) <= 0 {
			return nil, corrupt("key %d %q not after %q", i, k, prev)
		}
		prev = k
		if v = append([]byte(nil), v...); v == nil {
			v = []byte{}
		}
		ents = append(ents, slot{})
		ents[len(ents)-1].set(keys.hash(k), k, v)
	}

	var sessions []sm.SessionState
	if version == snapshotV2 {
		sessions = d.sessions(applied)
		if d.err != nil && !errors.Is(d.err, ErrMalformed) {
			return nil, d.err
		}
	}
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
	}
	// Keys are distinct (strictly increasing, checked above).
	keys.addAll(ents)
	if invariants.Enabled {
		keys.check()
	}
	m.keys, m.applied = keys, applied
	return sessions, nil
}

// sessions reads a version 2 snapshot's sessions; an inconsistency is
// d.err, wrapping ErrCorruptSnapshot (a truncation: ErrMalformed).
func (d *decoder) sessions(applied uint64) []sm.SessionState {
	n := d.uvarint("session count")
	// Every session takes at least 20 bytes, so a count larger than the
	// input allows is refused before any allocation.
	if d.err == nil && n > uint64(len(d.b))/20 {
		d.err = corrupt("%d sessions in %d bytes", n, len(d.b))
		return nil
	}
	out := make([]sm.SessionState, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		var s sm.SessionState
		s.ClientID = d.u64("client id")
		s.Token = d.u64("token")
		s.Seq = d.uvarint("seq")
		s.Last = d.uvarint("last slot")
		s.Result.Status = Status(d.u8("status"))
		v := d.bytes("result value")
		if d.err != nil {
			break
		}
		switch {
		case s.ClientID == 0 || s.Seq == 0:
			d.err = corrupt("session %d: client %d seq %d", i, s.ClientID, s.Seq)
		case i > 0 && s.ClientID <= out[i-1].ClientID:
			d.err = corrupt("session %d: client %d not after %d", i, s.ClientID, out[i-1].ClientID)
		case !s.Result.Status.Valid():
			d.err = corrupt("session %d: status %d", i, s.Result.Status)
		case s.Last > applied:
			d.err = corrupt("session %d: used at slot %d after applied slot %d", i, s.Last, applied)
		}
		if len(v) > 0 {
			s.Result.Value = append([]byte(nil), v...)
		}
		out = append(out, s)
	}
	return out
}

// Hash returns a digest of the Machine's content: keys and values and the
// applied slot (the runtime hashes the sessions, sm.Applier.Hash). It is
// deterministic across processes and independent of map iteration order,
// so replicas that applied the same log prefix can be compared by their
// Hash. It is a consistency check, not a cryptographic digest.
//
// Each key/value pair is hashed on its own (a multiply-xorshift over
// 8-byte words, lengths first so field boundaries cannot shift, then the
// splitmix64 finalizer) and the per-item hashes are added: addition is
// commutative, so iteration order does not matter, and unlike XOR two
// equal items do not cancel out.
func (m *Machine) Hash() uint64 {
	var kvSum uint64
	for _, st := range m.keys.subs {
		for i := range st.slots {
			e := &st.slots[i]
			if e.kind == kindEmpty {
				continue
			}
			k, v := e.keyBytes(), e.val
			h := statehash.Word(statehash.Seed, uint64(len(k)))
			h = statehash.Word(h, uint64(len(v)))
			h = statehash.Words(h, k)
			kvSum += statehash.Mix(statehash.Words(h, v))
		}
	}
	return statehash.Mix(statehash.Mix(kvSum)^uint64(m.keys.n)) ^ statehash.Mix(m.applied^statehash.Seed)
}
