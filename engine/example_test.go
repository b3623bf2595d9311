package engine_test

import (
	"fmt"

	"github.com/mpaxos/mpaxos/engine"
)

// The runtime's loop around one engine: act on each Ready in the order
// doc.go gives, here with every write durable at once. A real runtime
// hands step 3 to a writer goroutine and calls Ready again meanwhile; it
// then sends AfterSync and calls Advance, in order, as each write syncs.
func Example() {
	st := engine.NewMemoryStorage() // store.Log in the real runtime
	cfg := engine.DefaultConfig()
	cfg.ID, cfg.Peers = 1, []engine.NodeID{1} // a one-node group, to stay short
	e, err := engine.New(cfg, st)
	if err != nil {
		panic(err)
	}
	send := func(m engine.Message) { /* transport: m.MarshalAppend into a frame to m.To */ }
	drain := func() {
		for e.HasReady() {
			rd := e.Ready()
			for _, m := range rd.Messages { // 1. may precede the write
				send(m)
			}
			for _, en := range rd.Committed { // 2. apply in slot order
				if en.Type == engine.EntryBatch {
					fmt.Printf("apply slot %d: %s\n", en.Slot, en.Data)
				}
			}
			if err := st.Save(&rd); err != nil { // 3. one durable write
				panic(err)
			}
			for _, m := range rd.AfterSync { // 4. only once durable
				send(m)
			}
			e.Advance(rd) // 5. once per Ready, in order
		}
	}
	e.Tick() // the timer; a one-node group campaigns at once
	drain()
	if err := e.Propose([]byte("put x=1")); err != nil {
		panic(err)
	}
	drain()
	fmt.Println(e.Status().Role, "commit", e.Status().Commit)
	// Output:
	// apply slot 1: put x=1
	// leader commit 1
}
