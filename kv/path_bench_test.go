package kv

import (
	"encoding/binary"
	"testing"

	"github.com/mpaxos/mpaxos/sm"
)

// BenchmarkNodeApplyPath is what node.apply does per command: the
// session table (sm.Applier) decodes the header and, for a new Seq, hands
// the command bytes to Machine.Apply, which decodes the rest. The commands
// are encoded into one reused buffer first (that cost is in the figure);
// 64 clients over 10,000 keys with 100-byte values, puts or gets, every one
// a new Seq of its session.
func BenchmarkNodeApplyPath(b *testing.B) {
	for _, op := range []Op{OpPut, OpGet} {
		b.Run(op.String(), func(b *testing.B) {
			const clients, keys = 64, 10000
			m := NewMachine()
			a, _ := sm.NewApplier(m, DefaultSessionTTL)
			value := make([]byte, 100)
			var raw []byte
			seqs := make([]uint64, clients)
			mk := func(i uint64) []byte {
				c := i % clients
				seqs[c]++
				k := binary.BigEndian.AppendUint64([]byte("key-"), i%keys)
				cmd := Command{Op: op, ClientID: c + 1, Token: 7, Seq: seqs[c], Key: k}
				if op == OpPut {
					cmd.Value = value
				}
				return AppendCommand(raw[:0], &cmd)
			}
			for i := range uint64(keys) {
				raw = AppendCommand(raw[:0], &Command{Op: OpPut, Key: binary.BigEndian.AppendUint64([]byte("key-"), i), Value: value})
				a.Apply(1, raw)
			}
			k := make([]byte, 0, 16)
			mk = func(i uint64) []byte {
				c := i % clients
				seqs[c]++
				k = binary.BigEndian.AppendUint64(append(k[:0], "key-"...), i%keys)
				cmd := Command{Op: op, ClientID: c + 1, Token: 7, Seq: seqs[c], Key: k}
				if op == OpPut {
					cmd.Value = value
				}
				raw = AppendCommand(raw[:0], &cmd)
				return raw
			}
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				if _, _, _, err := a.Apply(2+uint64(n)/100, mk(uint64(n))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
