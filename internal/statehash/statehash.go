// Package statehash is the order-independent hash that state machines
// and the runtime's session table give /hash (and the checks that compare
// replicas): each item is hashed on its own with Word and Words, the
// items' hashes are added (addition commutes, so a map's order does not
// matter), and the sum is finished with Mix. It is for comparing replicas
// of one version, not a cryptographic hash.
package statehash

const (
	// Seed starts an item's hash.
	Seed = 0x5851f42d4c957f2d
	// Prime is the multiplier of Word.
	Prime = 0x9e3779b97f4a7c15
)

// Word mixes one 64-bit word into h.
func Word(h, w uint64) uint64 {
	h = (h ^ w) * Prime
	return h ^ h>>29
}

// Words mixes b into h 8 bytes at a time (little endian; the tail is
// padded with zeros, which is unambiguous when the caller hashed len(b)
// first).
func Words[T string | []byte](h uint64, b T) uint64 {
	for len(b) >= 8 {
		w := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		h = Word(h, w)
		b = b[8:]
	}
	if len(b) > 0 {
		var w uint64
		for i := range len(b) {
			w |= uint64(b[i]) << (8 * i)
		}
		h = Word(h, w)
	}
	return h
}

// Mix is the splitmix64 finalizer.
func Mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
