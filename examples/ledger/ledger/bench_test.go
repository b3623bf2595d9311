package ledger

import "testing"

// BenchmarkApplyTransfer is the state machine's per-command cost: one
// transfer between existing accounts, decoded from its log entry, through
// the session table.
func BenchmarkApplyTransfer(b *testing.B) {
	m := NewMachine()
	apply(b, m,
		Command{Op: OpOpen, Client: 1, Seq: 1, From: "alice"},
		Command{Op: OpOpen, Client: 1, Seq: 2, From: "bob"},
		Command{Op: OpDeposit, Client: 1, Seq: 3, From: "alice", Amount: MaxAmount},
	)
	cmd := Command{Op: OpTransfer, Client: 2, From: "alice", To: "bob", Amount: 1}
	data := make([][]byte, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%len(data) == 0 {
			b.StopTimer()
			for j := range data {
				cmd.Seq = uint64(i + j + 1)
				data[j] = cmd.AppendEncode(data[j][:0])
			}
			b.StartTimer()
		}
		if r := m.Apply(m.Applied()+1, data[i%len(data)]); r.Code != CodeOK {
			b.Fatal(r.Code)
		}
	}
}
