package naive

import (
	"github.com/mpaxos/mpaxos/engine"
)

// A node's forwards are a stream: it numbers its own writes 1, 2, 3, ...
// (seq) within its incarnation, and each receiver acknowledges the highest
// seq it executed in order. TCP orders one connection, but the transport
// drops frames while a connection is down (at start, after a peer
// restarts), so the sender keeps what some peer has not acknowledged and
// resends it; a scheme that loses writes then loses them by its design,
// not by a reconnect. The buffer is bounded: past its limit the oldest
// entries go, and a peer that needed them skips the gap, which loses them
// for it: every forward says, in Commit, the oldest seq its sender still
// holds, and a receiver missing an older one takes the forward that
// starts there.
//
// On the wire a forward is a MsgAccept: Ballot is the sender's
// incarnation, Slot the seq of Entries[0] (consecutive seqs follow),
// Commit the oldest seq the sender holds, and the Entries' own Slots are
// the sender's local slots. A MsgAccepted
// carries back the incarnation and, in Slot, the acknowledged seq.

// streamLimit is how many of its writes a node keeps for peers that have
// not acknowledged them by default (Config.StreamLimit): a few seconds of
// batches under load.
const streamLimit = 8192

// resendMax is the most entries one resend message carries.
const resendMax = 64

type outStream struct {
	inc   uint64
	limit int
	seq   uint64         // last seq pushed
	buf   []engine.Entry // seqs (seq-len(buf), seq]
	acked map[engine.NodeID]uint64
	// checked is, per peer, its acknowledgement and the last seq sent at
	// the previous resend check.
	checked map[engine.NodeID]check
}

type check struct{ acked, sent uint64 }

// inStream is what a receiver has of one sender's stream.
type inStream struct {
	inc uint64
	seq uint64
}

func (o *outStream) init(inc uint64, limit int) {
	o.inc, o.limit = inc, limit
	o.acked = make(map[engine.NodeID]uint64)
	o.checked = make(map[engine.NodeID]check)
}

func (o *outStream) base() uint64 { return o.seq - uint64(len(o.buf)) }

func (o *outStream) push(en engine.Entry) uint64 {
	o.seq++
	o.buf = append(o.buf, en)
	if len(o.buf) > o.limit {
		o.buf = o.buf[len(o.buf)-o.limit:]
	}
	return o.seq
}

// ack records p's acknowledgement and drops what every peer has, but
// not entries above local slot keep (PrimaryBackupAck's uncommitted ones).
func (o *outStream) ack(p engine.NodeID, seq uint64, peers []engine.NodeID, keep engine.Slot) {
	if seq > o.seq {
		return // of a stream this incarnation never sent
	}
	o.acked[p] = max(o.acked[p], seq)
	low := o.seq
	for _, q := range peers {
		low = min(low, o.acked[q])
	}
	n := 0
	for n < len(o.buf) && o.base()+uint64(n) < low && o.buf[n].Slot <= keep {
		n++
	}
	if n > 0 {
		o.buf = append(o.buf[:0], o.buf[n:]...)
	}
}

// unacked returns what to resend p: every buffered entry it has not
// acknowledged, from first on. ok is false unless something already sent at the previous
// check is still unacknowledged and the acknowledgement has not moved
// since: what is merely in flight is not sent twice.
func (o *outStream) unacked(p engine.NodeID) (first uint64, ents []engine.Entry, ok bool) {
	a, prev := o.acked[p], o.checked[p]
	o.checked[p] = check{acked: a, sent: o.seq}
	if a != prev.acked || prev.sent <= a || len(o.buf) == 0 {
		return 0, nil, false
	}
	first = max(a+1, o.base()+1)
	i := int(first - o.base() - 1)
	return first, o.buf[i:], true
}

// oldest is the oldest seq the buffer holds (seq+1 when it is empty).
func (o *outStream) oldest() uint64 { return o.base() + 1 }

// seqOf finds the seq of the buffered entry at local slot s.
func (o *outStream) seqOf(s engine.Slot) (uint64, bool) {
	for i := len(o.buf) - 1; i >= 0; i-- {
		if o.buf[i].Slot == s {
			return o.base() + 1 + uint64(i), true
		}
	}
	return 0, false
}

func (o *outStream) entry(seq uint64) engine.Entry { return o.buf[seq-o.base()-1] }

// dropAbove forgets the buffered entries above local slot s (a demoted
// primary's unanswered writes); their seqs are not reused.
func (o *outStream) dropAbove(s engine.Slot) {
	for len(o.buf) > 0 && o.buf[len(o.buf)-1].Slot > s {
		o.buf = o.buf[:len(o.buf)-1]
	}
}
