package kv_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/batch"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/sm"
)

// TestPipeline runs commands the way a node will: request bodies are
// decoded, their command bytes batched as is, batches "committed" at
// increasing slots, decoded and applied on two replicas, whose results and
// hashes must agree, and whose results answer the requests.
func TestPipeline(t *testing.T) {
	cfg := batch.DefaultConfig()
	cfg.MaxCount = 7
	b, err := batch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := kv.NewMachine(), kv.NewMachine()
	r1, _ := sm.NewApplier(m1, sm.DefaultSessionTTL)
	r2, _ := sm.NewApplier(m2, sm.DefaultSessionTTL)

	var body []byte
	for i := range 100 {
		req := kv.Request{ReqID: uint64(i), Cmd: kv.Command{
			ClientID: uint64(i%3 + 1), Seq: uint64(i/3 + 1), Op: kv.OpPut,
			Key: fmt.Appendf(nil, "k%d", i%10), Value: fmt.Appendf(nil, "v%d", i),
		}}
		if i%4 == 3 {
			req.Cmd.Op, req.Cmd.Value = kv.OpGet, nil
		}
		body = kv.AppendRequest(body[:0], &req) // reused: Add copies
		if _, err := kv.DecodeRequest(body); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(body[kv.RequestHeaderSize:]); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			// Also retry the previous request: it must not execute twice.
			if err := b.Add(body[kv.RequestHeaderSize:]); err != nil {
				t.Fatal(err)
			}
		}
	}
	slot, executed, dups := uint64(0), 0, 0
	for {
		data, ok := b.Next(time.Time{}, true)
		if !ok {
			break
		}
		slot++
		err := batch.ForEach(data, func(raw []byte) error {
			h, res1, dup1, err := r1.Apply(slot, raw)
			if err != nil {
				return err
			}
			_, res2, dup2, _ := r2.Apply(slot, raw)
			if res1.Status != res2.Status || string(res1.Value) != string(res2.Value) || dup1 != dup2 {
				return fmt.Errorf("replicas disagree on %v %q", kv.Op(h.Op), h.Key)
			}
			if dup1 {
				dups++
			} else {
				executed++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("slot %d: %v", slot, err)
		}
	}
	if executed != 100 || dups != 20 {
		t.Fatalf("executed %d, deduplicated %d; want 100, 20", executed, dups)
	}
	if r1.Hash() != r2.Hash() || m1.AppliedSlot() != slot {
		t.Fatal("replicas diverged")
	}
	if v, _ := m1.Get([]byte("k8")); string(v) != "v98" {
		t.Fatalf("k8 = %q, want v98", v)
	}
}
