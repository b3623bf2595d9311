package benchkit

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
)

// workload generates one client's operations without allocating: the key and
// value buffers are reused for every Op (see Session.Do for ownership).
//
// Key layout (KeySize = 16 bytes), zero-padded decimal so keys read well in
// logs and sort by index:
//
//	+---+-------------------------+
//	| k |  key index, 15 digits   |
//	+---+-------------------------+
//
// Value layout (ValueSize bytes): the writer's client number and a per-client
// counter, so every written value is distinct (the later linearizability
// check needs that), the run's seed, so a value differs from those earlier
// runs left on a running cluster, then filler:
//
//	+----------------+----------------+--------------+---------------+
//	| client (8, BE) | counter (8, BE)| seed (8, BE) | filler 'x'... |
//	+----------------+----------------+--------------+---------------+
//	(values shorter than 24 bytes hold a prefix of this)
type workload struct {
	pcg       rand.PCG // inline: one allocation fewer, next to the rest
	rng       *rand.Rand
	zipf      *rand.Zipf // nil for uniform
	keys      uint64
	readRatio float64
	key       [KeySize]byte
	value     []byte
	client    uint64
	counter   uint64
}

func newWorkload(cfg Config, client int) *workload {
	w := &workload{
		keys:      uint64(cfg.Keys),
		readRatio: cfg.ReadRatio,
		value:     make([]byte, cfg.ValueSize),
		client:    uint64(client),
	}
	w.pcg.Seed(cfg.Seed, uint64(client))
	w.rng = rand.New(&w.pcg)
	if cfg.Dist == Zipf {
		w.zipf = rand.NewZipf(w.rng, cfg.ZipfS, 1, w.keys-1)
	}
	for i := range w.value {
		w.value[i] = 'x'
	}
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], cfg.Seed)
	if len(w.value) > 16 {
		copy(w.value[16:], seed[:])
	}
	return w
}

// keyIndex picks the next key's index in [0, keys).
func (w *workload) keyIndex() uint64 {
	if w.zipf != nil {
		return w.zipf.Uint64()
	}
	return w.rng.Uint64N(w.keys)
}

// next returns the next operation; its slices are valid until the next call.
func (w *workload) next() Op {
	k := formatKey(w.key[:], w.keyIndex())
	if w.readRatio > 0 && w.rng.Float64() < w.readRatio {
		return Op{Kind: OpGet, Key: k}
	}
	w.counter++
	var stamp [16]byte
	binary.BigEndian.PutUint64(stamp[:8], w.client)
	binary.BigEndian.PutUint64(stamp[8:], w.counter)
	copy(w.value, stamp[:])
	return Op{Kind: OpPut, Key: k, Value: w.value}
}

// formatKey writes key index i into dst (KeySize bytes) and returns it.
func formatKey(dst []byte, i uint64) []byte {
	dst = dst[:KeySize]
	dst[0] = 'k'
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], i, 10)
	pad := KeySize - 1 - len(d)
	for j := 1; j <= pad; j++ {
		dst[j] = '0'
	}
	copy(dst[1+pad:], d)
	return dst
}
