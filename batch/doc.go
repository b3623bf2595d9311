// Package batch collects client commands into batches for the consensus
// engine.
//
// A Batcher is driven entirely by its caller: it starts no goroutines and
// reads no clock (the caller passes now to Next), so it is tested without a
// network, a disk or sleeps. The caller's loop is:
//
//	for each command that arrived:  b.Add(cmd)
//	for {
//	        batch, ok := b.Next(now, engine.CanPropose())
//	        if !ok { break }
//	        engine.Propose(batch)
//	}
//	arm a timer for b.Deadline()
//
// Each command is copied exactly once, into the buffer of the batch it joins.
// A batch is one []byte holding the commands back to back and a compact index
// of their lengths (the format is drawn in format.go); Decode and ForEach read
// it back without copying and reject malformed input with ErrMalformed.
//
// Ownership: a batch returned by Next belongs to the caller forever. The
// Batcher never writes into it again (later batches are carved from memory
// after it, and its capacity is clipped so an append by the caller cannot
// reach a neighbour either). The engine may therefore retain it until the slot
// is applied and stored.
//
// Order: commands leave in the order they were added, inside a batch and
// across batches, so one client's commands keep their order (FIFO).
package batch
