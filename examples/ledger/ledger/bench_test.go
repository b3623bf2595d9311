package ledger

import "testing"

// BenchmarkApplyTransfer is the state machine's per-command cost: one
// transfer between existing accounts, decoded from its log entry, through
// the runtime's session table. Its one allocation is the 9-byte Result
// the session keeps.
func BenchmarkApplyTransfer(b *testing.B) {
	r := newReplica(b)
	r.do(b, 1, Command{Op: OpOpen, From: "alice"})
	r.do(b, 1, Command{Op: OpOpen, From: "bob"})
	r.do(b, 1, Command{Op: OpDeposit, From: "alice", Amount: MaxAmount})
	cmd := Command{Op: OpTransfer, From: "alice", To: "bob", Amount: 1}
	data := make([][]byte, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%len(data) == 0 {
			b.StopTimer()
			for j := range data {
				data[j] = cmd.Encode(2, 3, uint64(i+j+1))
			}
			b.StartTimer()
		}
		r.slot++
		if _, res, _, err := r.a.Apply(r.slot, data[i%len(data)]); err != nil || res.Value[0] != byte(CodeOK) {
			b.Fatal(res, err)
		}
	}
}
