// Package check turns what the benchmark's clients saw and what the nodes
// applied into a correctness verdict. It is pure: it imports nothing of the
// engine, the network or the store, and the harness wires it.
//
// Four checks, each with its report line:
//
//   - Linearizability (CheckLinearizable): the operations on a sample of
//     keys, recorded by a History, are checked with porcupine against a
//     key-value map, partitioned per key. An operation whose outcome is
//     unknown (the client timed out) is modeled as what it is: a write that
//     may have taken effect at any time after its call, or never; an
//     unknown read is dropped. The check is bounded in time and says
//     "unknown (timed out)" rather than guess; on a violation it writes
//     porcupine's HTML visualization of the offending keys.
//   - Lost writes (LostWrites): every key written is read back after the
//     run; the report line is "acknowledged writes lost: N". Concurrent
//     writes and writes with unknown outcomes are accounted for, so a later
//     write of the same key is never mistaken for a loss.
//   - Sessions (CheckSessions): each node applied each client's commands in
//     increasing sequence order, none twice, and the nodes agree wherever
//     their applied sequences overlap.
//   - State machines (CompareHashes): every node's state machine hash is
//     the same at the same applied slot.
//
// Recording (History, Recorder) is built for the hot path: one Recorder per
// logical client, with pre-sized slices and its own uncontended mutex, and
// values kept as 64-bit fingerprints (Value) instead of copies.
//
// What the client's answers mean here: success is OK; client.ErrCASFailed is
// OK with CASOK false; ErrTimeout, ErrNoQuorum, ErrClosed and a cancelled
// context are Unknown (the command may still be applied, exactly once, by a
// retry already in flight); only an answer that says the command was not
// executed (a malformed request) is Failed. Reads the client asked to be
// served stale must not be recorded: they are not meant to be linearizable.
// Every value written should be unique per key (tag it with the client and
// sequence number), so a read names the write it saw.
//
// Typical use by the harness:
//
//	h, _ := check.NewHistory(check.HistoryConfig{OpsPerClient: 1 << 16, Sample: sampled})
//	rec := h.NewRecorder() // one per session
//	call := h.Now()
//	err := sess.Put(ctx, key, value)
//	rec.Put(string(key), value, call, h.Now(), outcomeOf(err))
//	...
//	lin, _ := check.CheckLinearizable(h.Ops(), check.LinConfig{Timeout: time.Minute, VisualizePath: "run.html"})
//	lost, _ := check.LostWrites(ctx, h.Writes(), readBack, check.DefaultLostConfig())
//	fmt.Println(lin, "\n", lost)
package check
