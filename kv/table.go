package kv

// Key table: where a Machine keeps its keys and values.
//
//	 table.dir, indexed by bits 10.. of the key's hash (len(dir) = 2^depth)
//	 +-----+-----+-----+-----+
//	 |  *  |  *  |  *  |  *  |    several entries may share a subtable
//	 +--|--+--|--+--|--+--|--+    (its local depth is below the table's)
//	    v     v      \   /
//	 subtable: 8..1024 slots, linear probing from hash & (len-1); a slot:
//	 +------+------+--------------------+-------------------+------------+
//	 | hash | kind | val (slice header) | long (str header) | short key  |
//	 | u32  | u32  | 24 bytes           | 16 bytes          | 16 bytes   |
//	 +------+------+--------------------+-------------------+------------+
//	 0      4      8                    32                  48           64
//
// One slot is one 64-byte cache line (tables of 64 KiB are page aligned,
// smaller ones sit at multiples of their power-of-two size), holding the
// hash, the value header and, for keys of up to inlineKey bytes, the key
// itself. So a lookup of a short key that is not in cache costs one miss,
// where a Go map[string]uint32 plus a value slice cost four: the control
// word, the slot, the key string's bytes and the value header. An
// overwrite writes the value header into the slot it found, with no second
// lookup. kind is 0 for an empty slot, 1+len(key) for a key in short (zero
// padded), kindLong for a key in long.
//
// Growth follows Go's own maps (extendible hashing): a subtable below 1024
// slots doubles, a full one of 1024 (at 3/4 load) splits in two by the next
// hash bit, doubling the directory when its local depth reaches the
// table's. So no insert ever moves more than 64 KiB, unlike one big table
// that would stall the apply loop while it doubles. Deletes shift the rest
// of the probe run back (no tombstones), so memory stays bounded by the
// most keys held at once and deleted values are released at once.
//
// The hash is maphash with a seed drawn per table: keys chosen by clients
// cannot be crafted to collide. The seed decides only where keys sit in
// memory, never what Apply, Get, Hash or Snapshot return.

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"unsafe"

	"github.com/mpaxos/mpaxos/internal/invariants"
)

const (
	inlineKey = 16 // keys up to this long live in the slot itself

	subBits     = 10 // hash bits below the directory's
	maxSubSlots = 1 << subBits
	minSubSlots = 8
	// maxDepth keeps the directory's bits within the stored 32-bit hash;
	// a subtable at that depth doubles instead of splitting. Its probe
	// runs then lengthen (its keys share the bits above the low 10), but
	// 2^22 subtables hold over 3 billion keys, far beyond the memory a
	// node has.
	maxDepth = 32 - subBits

	kindEmpty = 0
	kindLong  = inlineKey + 2
)

type slot struct {
	hash  uint32
	kind  uint32
	val   []byte // immutable; never nil in a used slot
	long  string
	short [inlineKey]byte
}

// keyBytes returns the slot's key. It aliases the slot (or the key string,
// read only): callers must not modify it nor keep it past a change of s.
func (s *slot) keyBytes() []byte {
	if s.kind == kindLong {
		return unsafe.Slice(unsafe.StringData(s.long), len(s.long))
	}
	return s.short[:s.kind-1]
}

func (s *slot) is(h uint32, key []byte) bool {
	if s.hash != h {
		return false
	}
	if s.kind == kindLong {
		return s.long == string(key)
	}
	return int(s.kind)-1 == len(key) && string(s.short[:len(key)]) == string(key)
}

type subtable struct {
	depth uint8 // local: its keys agree on this many directory bits
	n     int   // used slots
	slots []slot
}

type table struct {
	seed  maphash.Seed
	dir   []*subtable // len 1<<depth
	subs  []*subtable // each subtable once, for iteration
	depth uint8
	n     int
}

// newTable returns an empty table sized for about hint keys, so that
// filling it (Restore) neither doubles nor splits subtables.
func newTable(hint int) table {
	t := table{seed: maphash.MakeSeed()}
	size := minSubSlots
	for size < maxSubSlots && size*3 < hint*4+4 {
		size *= 2
	}
	// Subtables of 1024 slots get 512 keys on average, so a few more than
	// that in one (a binomial spread of about 23) does not split it.
	for hint > 512<<t.depth && t.depth < maxDepth {
		t.depth++
	}
	for range 1 << t.depth {
		st := &subtable{depth: t.depth, slots: make([]slot, size)}
		t.dir = append(t.dir, st)
		t.subs = append(t.subs, st)
	}
	return t
}

func (t *table) hash(key []byte) uint32 { return uint32(maphash.Bytes(t.seed, key)) }

func (t *table) sub(h uint32) *subtable {
	return t.dir[(h>>subBits)&uint32(len(t.dir)-1)]
}

// find returns the position of key in st (found), or the empty slot that
// ends its probe run.
func (st *subtable) find(h uint32, key []byte) (i int, found bool) {
	mask := len(st.slots) - 1
	for i = int(h) & mask; ; i = (i + 1) & mask {
		s := &st.slots[i]
		if s.kind == kindEmpty {
			return i, false
		}
		if s.is(h, key) {
			return i, true
		}
	}
}

// lookup returns key's subtable and position in it, as find.
func (t *table) lookup(key []byte) (st *subtable, i int, h uint32, found bool) {
	h = t.hash(key)
	st = t.sub(h)
	i, found = st.find(h, key)
	return st, i, h, found
}

func (t *table) get(key []byte) ([]byte, bool) {
	st, i, _, found := t.lookup(key)
	if !found {
		return nil, false
	}
	return st.slots[i].val, true
}

// insert stores a key that lookup did not find (at st, i) with value v,
// which the table then owns.
func (t *table) insert(st *subtable, i int, h uint32, key, v []byte) {
	if (st.n+1)*4 > len(st.slots)*3 {
		t.grow(st)
		st = t.sub(h)
		i, _ = st.find(h, key)
	}
	s := &st.slots[i]
	if invariants.Enabled && s.kind != kindEmpty {
		panic(fmt.Sprintf("kv: insert of %q into used slot %d (kind %d)", key, i, s.kind))
	}
	s.set(h, key, v)
	st.n++
	t.n++
}

// set fills s with key (copied: inline, or into a new string), its hash h
// and value v.
func (s *slot) set(h uint32, key, v []byte) {
	s.hash, s.val = h, v
	if len(key) <= inlineKey {
		s.kind = uint32(len(key)) + 1
		copy(s.short[:], key)
	} else {
		s.kind, s.long = kindLong, string(key)
	}
}

// addAll adds the filled slots in ents, whose keys are distinct and not in
// the table (Restore). It adds them grouped by subtable, so that each
// subtable is filled while it is in cache: added in key order, every slot
// would land in a random cache line and page of the whole table, which
// made Restore of 100,000 keys 2.5 times slower than with a Go map.
func (t *table) addAll(ents []slot) {
	mask := uint32(len(t.dir) - 1)
	bucket := func(s *slot) uint32 { return (s.hash >> subBits) & mask }
	start := make([]int, len(t.dir)+1) // a counting sort by directory index
	for i := range ents {
		start[bucket(&ents[i])+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	order := make([]int32, len(ents))
	for i := range ents {
		b := bucket(&ents[i])
		order[start[b]] = int32(i)
		start[b]++
	}
	for _, i := range order {
		s := &ents[i]
		st := t.sub(s.hash)
		if (st.n+1)*4 > len(st.slots)*3 {
			t.grow(st)
			st = t.sub(s.hash)
		}
		st.place(s)
		t.n++
	}
}

// remove empties position i of st, shifting back the rest of its probe run
// so that every key stays reachable from its home position without
// crossing an empty slot.
func (t *table) remove(st *subtable, i int) {
	if invariants.Enabled && st.slots[i].kind == kindEmpty {
		panic(fmt.Sprintf("kv: remove of empty slot %d", i))
	}
	mask := len(st.slots) - 1
	for j := (i + 1) & mask; st.slots[j].kind != kindEmpty; j = (j + 1) & mask {
		// The key at j may fill the hole at i unless its home lies in
		// (i, j]: then it would sit before its home.
		if home := int(st.slots[j].hash) & mask; (j-home)&mask >= (j-i)&mask {
			st.slots[i] = st.slots[j]
			i = j
		}
	}
	st.slots[i] = slot{}
	st.n--
	t.n--
}

// grow makes room in st: doubles it, or splits it when it is at the
// largest size.
func (t *table) grow(st *subtable) {
	old := st.slots
	if len(old) < maxSubSlots || st.depth >= maxDepth {
		st.slots = make([]slot, 2*len(old))
		st.n = 0
		st.reinsert(old)
		return
	}
	if st.depth == t.depth {
		// Directory bits are the low ones, so the doubled directory maps
		// index j and j+len to the same subtable until one splits.
		t.dir = append(t.dir, t.dir...)
		t.depth++
	}
	bit := uint32(1) << st.depth
	hi := &subtable{depth: st.depth + 1, slots: make([]slot, len(old))}
	st.depth++
	st.slots, st.n = make([]slot, len(old)), 0
	for k := range old {
		if old[k].kind == kindEmpty {
			continue
		}
		if (old[k].hash>>subBits)&bit != 0 {
			hi.place(&old[k])
		} else {
			st.place(&old[k])
		}
	}
	for j, d := range t.dir {
		if d == st && uint32(j)&bit != 0 {
			t.dir[j] = hi
		}
	}
	t.subs = append(t.subs, hi)
}

func (st *subtable) reinsert(old []slot) {
	for k := range old {
		if old[k].kind != kindEmpty {
			st.place(&old[k])
		}
	}
}

// place puts s, whose key is not in st, at the end of its probe run.
func (st *subtable) place(s *slot) {
	mask := len(st.slots) - 1
	i := int(s.hash) & mask
	for st.slots[i].kind != kindEmpty {
		i = (i + 1) & mask
	}
	st.slots[i] = *s
	st.n++
}

// check panics if the table breaks its invariants. It costs O(slots +
// directory); tests call it.
func (t *table) check() {
	n := 0
	for _, st := range t.subs {
		used := 0
		mask := len(st.slots) - 1
		for i := range st.slots {
			s := &st.slots[i]
			if s.kind == kindEmpty {
				continue
			}
			used++
			if s.val == nil || s.kind > kindLong || (s.kind == kindLong) != (len(s.long) > 0) {
				panic(fmt.Sprintf("kv: slot %d: kind %d, %d-byte long key, nil value %v", i, s.kind, len(s.long), s.val == nil))
			}
			key := s.keyBytes()
			if h := t.hash(key); h != s.hash || t.sub(h) != st {
				panic(fmt.Sprintf("kv: key %q: hash %#x stored %#x, or in the wrong subtable", key, h, s.hash))
			}
			for j := int(s.hash) & mask; j != i; j = (j + 1) & mask {
				if st.slots[j].kind == kindEmpty {
					panic(fmt.Sprintf("kv: key %q at %d unreachable: empty slot %d on its probe run", key, i, j))
				}
				if bytes.Equal(st.slots[j].keyBytes(), key) {
					panic(fmt.Sprintf("kv: key %q at both %d and %d", key, j, i))
				}
			}
		}
		if used != st.n || used*4 > len(st.slots)*3 {
			panic(fmt.Sprintf("kv: subtable counts %d keys, holds %d in %d slots", st.n, used, len(st.slots)))
		}
		n += used
	}
	if n != t.n || len(t.dir) != 1<<t.depth {
		panic(fmt.Sprintf("kv: table counts %d keys, holds %d; directory %d at depth %d", t.n, n, len(t.dir), t.depth))
	}
}
