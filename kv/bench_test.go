package kv

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkApply measures one command through the session table and
// Machine.Apply, encoding it first (testMachine.Apply). 64 clients take
// turns, each with its own session, over 10,000 keys with 100-byte values.
// The unavoidable allocations are the stored copies: one per value written,
// plus the key string for a key that did not exist.
func BenchmarkApply(b *testing.B) {
	const clients, keys = 64, 10000
	value := make([]byte, 100)
	keyOf := func(dst []byte, i uint64) []byte {
		return binary.BigEndian.AppendUint64(append(dst[:0], "key-"...), i)
	}
	setup := func(b *testing.B) *testMachine {
		m := newMachine(b, DefaultSessionTTL)
		var k []byte
		for i := range uint64(keys) {
			k = keyOf(k, i)
			m.Apply(1, Command{Op: OpPut, Key: k, Value: value})
		}
		return m
	}
	run := func(name string, mk func(i uint64, k []byte) Command) {
		b.Run(name, func(b *testing.B) {
			m := setup(b)
			seqs := make([]uint64, clients)
			var k []byte
			b.ReportAllocs()
			var i uint64
			cpu := processCPU()
			for b.Loop() {
				c := i % clients
				seqs[c]++
				k = keyOf(k, i%keys)
				if name == "delete-put" {
					k = keyOf(k, i/2%keys) // re-insert the key just deleted
				}
				cmd := mk(i, k)
				cmd.ClientID, cmd.Seq = c+1, seqs[c]
				m.Apply(2+i/100, cmd)
				i++
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
	run("put", func(_ uint64, k []byte) Command { return Command{Op: OpPut, Key: k, Value: value} })
	run("get", func(_ uint64, k []byte) Command { return Command{Op: OpGet, Key: k} })
	nope := []byte("nope")
	run("cas-fail", func(_ uint64, k []byte) Command {
		return Command{Op: OpCAS, Key: k, Expect: nope, Value: value}
	})
	run("delete-put", func(i uint64, k []byte) Command {
		if i%2 == 0 {
			return Command{Op: OpDelete, Key: k}
		}
		return Command{Op: OpPut, Key: k, Value: value}
	})
	b.Run("retry", func(b *testing.B) {
		m := setup(b)
		cmd := Command{ClientID: 1, Seq: 1, Op: OpPut, Key: []byte("key"), Value: value}
		m.Apply(2, cmd)
		b.ReportAllocs()
		for b.Loop() {
			if _, dup := m.Apply(3, cmd); !dup {
				b.Fatal("retry executed")
			}
		}
	})
}

func BenchmarkDecodeCommand(b *testing.B) {
	enc := AppendCommand(nil, &Command{ClientID: 1 << 60, Seq: 1000, Op: OpPut, Key: []byte("some-key-0001"), Value: make([]byte, 100)})
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeCommand(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendCommand(b *testing.B) {
	c := Command{ClientID: 1 << 60, Seq: 1000, Op: OpPut, Key: []byte("some-key-0001"), Value: make([]byte, 100)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCommand(buf[:0], &c)
	}
}

// BenchmarkSnapshot measures Snapshot, Restore and Hash of a machine with
// 100,000 keys of 100 bytes and 1,000 sessions.
func BenchmarkSnapshot(b *testing.B) {
	m := newMachine(b, DefaultSessionTTL)
	value := make([]byte, 100)
	for i := range 100000 {
		m.Apply(1, Command{ClientID: uint64(i%1000 + 1), Seq: uint64(i/1000 + 1), Op: OpPut, Key: fmt.Appendf(nil, "key-%d", i), Value: value})
	}
	snap := m.Snapshot()
	b.Run("snapshot", func(b *testing.B) {
		b.SetBytes(int64(len(snap)))
		b.ReportAllocs()
		for b.Loop() {
			m.Snapshot()
		}
	})
	b.Run("freeze", func(b *testing.B) {
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			m.Freeze()
		}
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("restore", func(b *testing.B) {
		r := newMachine(b, DefaultSessionTTL)
		b.SetBytes(int64(len(snap)))
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			if err := r.Restore(snap); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("hash", func(b *testing.B) {
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			m.Hash()
		}
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	})
}

// BenchmarkApplyUniform reproduces the load measured on real nodes: 100,000
// existing keys of 16 bytes, 128-byte values, keys chosen uniformly at
// random (seeded), 200 client sessions taking turns, and the slot advancing
// every 50 commands (one slot holds a batch). The map of 100,000 keys does
// not fit in cache, so this measures the cache misses of the lookup, unlike
// BenchmarkApply's 10,000 keys. The commands are precomputed and laid out
// one after the other, as in a decoded batch, so the loop measures Apply
// alone. cpu-ns/op is the process's CPU time per command, garbage collection
// included; on a shared machine it is steadier than ns/op.
func BenchmarkApplyUniform(b *testing.B) {
	const (
		keys, keyLen, valueLen = 100000, 16, 128
		clients, perSlot       = 200, 50
		cmds                   = 1 << 17 // precomputed commands, reused cyclically
	)
	keyOf := func(dst []byte, i int) []byte { return fmt.Appendf(dst, "user%012d", i) }
	m := newMachine(b, DefaultSessionTTL)
	value := make([]byte, valueLen)
	for i := range keys {
		m.Apply(1, Command{Op: OpPut, Key: keyOf(nil, i), Value: value})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	stream := make([]byte, 0, cmds*keyLen) // the keys of the commands, in order
	for range cmds {
		stream = keyOf(stream, rng.IntN(keys))
	}
	for i := range value {
		value[i] = byte(i)
	}
	seqs := make([]uint64, clients) // shared: the sub-benchmarks use the same sessions
	run := func(name string, op Op) {
		b.Run(name, func(b *testing.B) {
			slot := m.AppliedSlot() + 1
			b.ReportAllocs()
			i := 0
			cpu := processCPU()
			for b.Loop() {
				c := i % clients
				seqs[c]++
				k := i % cmds * keyLen
				cmd := Command{ClientID: uint64(c + 1), Seq: seqs[c], Op: op, Key: stream[k : k+keyLen : k+keyLen]}
				if op == OpPut {
					cmd.Value = value
				}
				if res, dup := m.Apply(slot+uint64(i/perSlot), cmd); res.Status != StatusOK || dup {
					b.Fatalf("command %d: %v dup=%v", i, res.Status, dup)
				}
				i++
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
	run("put", OpPut)
	run("get", OpGet)
}
