package check

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unsafe"
)

// Value is a fingerprint of a value written or read: a 64-bit hash, the
// length, and the first bytes for humans. Recording a fingerprint instead of
// the bytes keeps the hot path free of allocation and the history small
// whatever the benchmark's value size; two values are taken to be equal when
// their fingerprints are (a false match needs a 64-bit hash collision between
// values of the same length and prefix).
//
// Value is comparable with ==. The zero Value is the fingerprint of the empty
// value.
type Value struct {
	sum  uint64
	n    uint32
	hlen uint8
	head [headLen]byte
}

// headLen is how many leading bytes a Value keeps for descriptions. The
// benchmark writes values that start with a short unique tag (client, seq),
// so the head is enough to tell them apart when reading a visualization.
const headLen = 12

// V returns the fingerprint of b. It does not retain b.
func V(b []byte) Value {
	v := Value{sum: fingerprint(b), n: uint32(len(b))}
	v.hlen = uint8(copy(v.head[:], b))
	return v
}

// VS is V for a string.
func VS(s string) Value {
	// The conversion copies; VS is meant for tests and setup code, the
	// hot path records []byte with V.
	return V([]byte(s))
}

// Len is the length of the value the fingerprint was taken from.
func (v Value) Len() int { return int(v.n) }

// String quotes the value's head, with "…" and the length when the value
// was longer than the head.
func (v Value) String() string {
	s := strconv.Quote(string(v.head[:v.hlen]))
	if int(v.n) > int(v.hlen) {
		s += "…(" + strconv.Itoa(int(v.n)) + "B)"
	}
	return s
}

// fingerprintString is fingerprint of a string's bytes, without a copy:
// the slice is a read-only view that fingerprint does not retain.
func fingerprintString(s string) uint64 {
	return fingerprint(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// fingerprint is a 64-bit non-cryptographic hash, deterministic across
// processes (hash/maphash is not) so that a failing history hashes the same
// when it is replayed. It reads 8 bytes per step (about 0.3 ns/byte) and
// finishes with the splitmix64 mixer so every input bit reaches every output
// bit.
func fingerprint(b []byte) uint64 {
	const (
		m1 = 0x9e3779b97f4a7c15
		m2 = 0xc2b2ae3d27d4eb4f
	)
	h := uint64(len(b))*m1 ^ 0x27d4eb2f165667c5
	for len(b) >= 8 {
		k := binary.LittleEndian.Uint64(b) * m2
		k = bits.RotateLeft64(k, 31) * m1
		h = bits.RotateLeft64(h^k, 27)*m1 + 0x52dce729
		b = b[8:]
	}
	if len(b) > 0 {
		var tail [8]byte
		copy(tail[:], b)
		k := binary.LittleEndian.Uint64(tail[:]) * m2
		k = bits.RotateLeft64(k, 31) * m1
		h = bits.RotateLeft64(h^k, 27)*m1 + 0x52dce729
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
