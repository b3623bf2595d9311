package kv

// Snapshot format: the whole Machine, sessions included.
//
//	 0        4     5                  13
//	 +--------+-----+------------------+-----------+-----------------+
//	 | "MPKV" | ver | applied u64 LE   | nKeys uv  | nKeys entries   | ...
//	 +--------+-----+------------------+-----------+-----------------+
//	    ... +--------------+--------------------+----------------+
//	        | nSessions uv | nSessions sessions | crc32c u32 LE  |
//	        +--------------+--------------------+----------------+
//
//	 entry:    | len(key) uv | key | len(value) uv | value |
//	 session:  | ClientID u64 LE | token u64 LE | seq uv | last slot uv | status u8 | len(value) uv | value |
//
// ver is snapshotVersion (2; version 1 had no session tokens and is refused,
// as is the command format of its log, which had none either). Entries are in strictly increasing key order
// and sessions in strictly increasing ClientID order, so equal machines give
// byte-identical snapshots (and Restore refuses duplicates). The CRC-32C
// (Castagnoli) covers every byte before it. Any inconsistency is
// ErrCorruptSnapshot, and a failed Restore leaves the Machine unchanged.

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/mpaxos/mpaxos/internal/invariants"
)

const (
	snapshotMagic   = "MPKV"
	snapshotVersion = 2
	snapshotHeader  = 4 + 1 + 8
)

// ErrCorruptSnapshot reports snapshot bytes that Restore cannot trust.
var ErrCorruptSnapshot = errors.New("kv: corrupt snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot returns the Machine's whole state, sessions included, as a
// freshly allocated []byte the caller owns.
func (m *Machine) Snapshot() []byte { return m.Freeze().Encode() }

// Frozen is the Machine's content at one applied slot, captured without
// copying values or long keys: both are immutable once stored (store clones
// every value it keeps, long keys are strings; short keys are copied with
// their slot), so the captured headers stay valid while the Machine goes on
// applying. Encode can therefore run on
// another goroutine, off the apply loop.
type Frozen struct {
	applied  uint64
	entries  []slot // copies of the table's used slots: short keys are inline
	sessions []frozenSession
	size     int
}

type frozenSession struct {
	id uint64
	s  session
}

// Freeze captures the Machine's content in O(keys + sessions) time with
// no sorting and no copying of values or long keys: it copies the used
// 64-byte slots of the key table (short keys are inline there) and the
// sessions.
func (m *Machine) Freeze() *Frozen {
	if invariants.Enabled {
		m.keys.check()
	}
	f := &Frozen{
		applied:  m.applied,
		entries:  make([]slot, 0, m.keys.n),
		sessions: make([]frozenSession, 0, len(m.sessions)),
		size:     snapshotHeader + 2*binary.MaxVarintLen64 + 4,
	}
	for _, st := range m.keys.subs {
		for i := range st.slots {
			if e := &st.slots[i]; e.kind != kindEmpty {
				f.entries = append(f.entries, *e)
				f.size += 2*binary.MaxVarintLen64 + len(e.keyBytes()) + len(e.val)
			}
		}
	}
	for id, s := range m.sessions {
		f.sessions = append(f.sessions, frozenSession{id, *s})
		f.size += 16 + 3*binary.MaxVarintLen64 + 1 + len(s.res.Value)
	}
	return f
}

// Applied returns the slot the frozen content reflects.
func (f *Frozen) Applied() uint64 { return f.applied }

// Encode returns the snapshot bytes (the format above): sorted, so equal
// content gives identical bytes. Safe on any goroutine; call it once.
func (f *Frozen) Encode() []byte {
	slices.SortFunc(f.entries, func(a, b slot) int { return bytes.Compare(a.keyBytes(), b.keyBytes()) })
	slices.SortFunc(f.sessions, func(a, b frozenSession) int { return cmp.Compare(a.id, b.id) })
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
	b = binary.AppendUvarint(b, uint64(len(f.sessions)))
	for _, fs := range f.sessions {
		s := fs.s
		b = binary.LittleEndian.AppendUint64(b, fs.id)
		b = binary.LittleEndian.AppendUint64(b, s.token)
		b = binary.AppendUvarint(b, s.seq)
		b = binary.AppendUvarint(b, s.last)
		b = append(b, byte(s.res.Status))
		b = appendBytes(b, s.res.Value)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptSnapshot}, args...)...)
}

// Restore replaces the Machine's state with the snapshot in b. It copies
// what it keeps, so b may be reused afterwards. On error (wrapping
// ErrCorruptSnapshot) the Machine is unchanged.
func (m *Machine) Restore(b []byte) error {
	if len(b) < snapshotHeader+4 {
		return corrupt("%d bytes, too short", len(b))
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return corrupt("checksum %#08x, want %#08x", got, sum)
	}
	if string(body[:4]) != snapshotMagic {
		return corrupt("bad magic %q", body[:4])
	}
	if body[4] != snapshotVersion {
		return corrupt("version %d, want %d", body[4], snapshotVersion)
	}
	applied := binary.LittleEndian.Uint64(body[5:])
	d := decoder{b: body[snapshotHeader:], what: "snapshot"}

	// Every entry takes at least 2 bytes and every session 20, so counts
	// larger than the input allows are refused before any allocation.
	nKeys := d.uvarint("key count")
	if d.err == nil && nKeys > uint64(len(d.b))/2 {
		return corrupt("%d keys in %d bytes", nKeys, len(d.b))
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
			return corrupt("key %d %q not after %q", i, k, prev)
		}
		prev = k
		if v = append([]byte(nil), v...); v == nil {
			v = []byte{}
		}
		ents = append(ents, slot{})
		ents[len(ents)-1].set(keys.hash(k), k, v)
	}

	nSessions := d.uvarint("session count")
	if d.err == nil && nSessions > uint64(len(d.b))/20 {
		return corrupt("%d sessions in %d bytes", nSessions, len(d.b))
	}
	sessions := make(map[uint64]*session, nSessions)
	var prevID uint64
	for i := uint64(0); i < nSessions && d.err == nil; i++ {
		id := d.u64("client id")
		var s session
		s.token = d.u64("token")
		s.seq = d.uvarint("seq")
		s.last = d.uvarint("last slot")
		s.res.Status = Status(d.u8("status"))
		v := d.bytes("result value")
		if d.err != nil {
			break
		}
		switch {
		case id == 0 || s.seq == 0:
			return corrupt("session %d: client %d seq %d", i, id, s.seq)
		case i > 0 && id <= prevID:
			return corrupt("session %d: client %d not after %d", i, id, prevID)
		case !s.res.Status.valid():
			return corrupt("session %d: status %d", i, s.res.Status)
		case s.last > applied:
			return corrupt("session %d: used at slot %d after applied slot %d", i, s.last, applied)
		}
		prevID = id
		if len(v) > 0 {
			s.res.Value = append([]byte(nil), v...)
		}
		sessions[id] = &s
	}
	if err := d.finish(); err != nil {
		return fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
	}
	// Keys are distinct (strictly increasing, checked above).
	keys.addAll(ents)
	if invariants.Enabled {
		keys.check()
	}
	m.keys, m.sessions, m.applied = keys, sessions, applied
	return nil
}

// Hash returns a digest of the Machine's content: keys and values, sessions
// and the applied slot. It is deterministic across processes and independent
// of map iteration order, so replicas that applied the same log prefix can be
// compared by their Hash. It is a consistency check, not a cryptographic
// digest.
//
// Each key/value pair and each session is hashed on its own (a multiply-
// xorshift over 8-byte words, lengths first so field boundaries cannot
// shift, then the splitmix64 finalizer) and the per-item hashes are added:
// addition is commutative, so iteration order does not matter, and unlike
// XOR two equal items do not cancel out.
func (m *Machine) Hash() uint64 {
	var kvSum, sessSum uint64
	for _, st := range m.keys.subs {
		for i := range st.slots {
			e := &st.slots[i]
			if e.kind == kindEmpty {
				continue
			}
			k, v := e.keyBytes(), e.val
			h := hashWord(hashSeed, uint64(len(k)))
			h = hashWord(h, uint64(len(v)))
			h = hashWords(h, k)
			kvSum += mix64(hashWords(h, v))
		}
	}
	for id, s := range m.sessions {
		h := hashWord(hashSeed, id)
		h = hashWord(h, s.token)
		h = hashWord(h, s.seq)
		h = hashWord(h, s.last)
		h = hashWord(h, uint64(s.res.Status))
		h = hashWord(h, uint64(len(s.res.Value)))
		sessSum += mix64(hashWords(h, s.res.Value))
	}
	return mix64(mix64(kvSum)^uint64(m.keys.n)) ^
		mix64(sessSum+hashPrime*uint64(len(m.sessions)+1)) ^
		mix64(m.applied^hashSeed)
}

const (
	hashSeed  = 0x5851f42d4c957f2d
	hashPrime = 0x9e3779b97f4a7c15
)

func hashWord(h, w uint64) uint64 {
	h = (h ^ w) * hashPrime
	return h ^ h>>29
}

// hashWords hashes b 8 bytes at a time (little endian; the tail is padded
// with zeros, which is unambiguous because the caller hashed len(b) first).
func hashWords[T string | []byte](h uint64, b T) uint64 {
	for len(b) >= 8 {
		w := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		h = hashWord(h, w)
		b = b[8:]
	}
	if len(b) > 0 {
		var w uint64
		for i := range len(b) {
			w |= uint64(b[i]) << (8 * i)
		}
		h = hashWord(h, w)
	}
	return h
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
