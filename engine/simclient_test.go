package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// Clients and their state machine in the simulator. A client has a session
// (its id) and issues one command at a time, numbered 1, 2, 3, ...: a put
// of a unique value or a get, on one of simKeys keys. It sends the command
// to the node it believes leads and retries it, same session and number,
// every 30 ticks until it sees a result, to whichever node it then
// believes leads, across crashes and leader changes. It sees a result when
// the node it last sent the command to applies it. Each node runs a model
// of kv's state machine: a key-value map and, per session, the last number
// applied and its reply; a retry of the last number gets the stored reply
// and does not execute again.
//
// At the end of a run the history of calls and results must be
// linearizable (porcupine, per key) and every session must have executed
// each of its commands exactly once, in order, on every node.

const (
	simKeys       = 3
	simMaxClients = 8
	simCmdBytes   = 32
)

// A command's encoding in a batch:
//
//	0       8        12    16   17    18      24      32
//	+-------+--------+-----+----+-----+-------+-------+
//	| cmd id| client | seq | op | key | zero  | value |
//	+-------+--------+-----+----+-----+-------+-------+
//
// cmd id is unique per command (retries share it); op is simOpPut or
// simOpGet.
const (
	simOpPut = 1
	simOpGet = 2
)

type simOp struct {
	id       uint64
	client   uint32
	seq      uint32
	put      bool
	key      uint8
	value    uint64 // put: the value written
	call     int    // tick the client issued it
	lastSent int    // tick of the latest proposal carrying it
	target   NodeID // node of the latest proposal: the one whose result counts
	done     bool
	out      uint64 // get: the value read
	ret      int    // tick the client saw the result
	// mode is how a get reads when not through the log (simread_test.go);
	// 0: it is a command in the log.
	mode ReadMode
}

func (op *simOp) appendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, op.id)
	b = binary.LittleEndian.AppendUint32(b, op.client)
	b = binary.LittleEndian.AppendUint32(b, op.seq)
	kind := byte(simOpGet)
	if op.put {
		kind = simOpPut
	}
	b = append(b, kind, op.key, 0, 0, 0, 0, 0, 0)
	return binary.LittleEndian.AppendUint64(b, op.value)
}

type simClient struct {
	id  uint32
	seq uint32 // number of the latest command issued
	cur *simOp // the command awaiting its result, nil when idle
}

// simSession is what a state machine keeps per session.
type simSession struct {
	seq   uint32 // last command number executed
	reply uint64
}

// simKV is one node's state machine.
type simKV struct {
	vals [simKeys]uint64
	sess [simMaxClients]simSession
}

const simKVBytes = 8*simKeys + 12*simMaxClients

func (kv *simKV) appendTo(b []byte) []byte {
	for _, v := range kv.vals {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	for _, ss := range kv.sess {
		b = binary.LittleEndian.AppendUint32(b, ss.seq)
		b = binary.LittleEndian.AppendUint64(b, ss.reply)
	}
	return b
}

func (kv *simKV) decode(b []byte) error {
	if len(b) != simKVBytes {
		return fmt.Errorf("snapshot state of %d bytes, want %d", len(b), simKVBytes)
	}
	for i := range kv.vals {
		kv.vals[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	b = b[8*simKeys:]
	for i := range kv.sess {
		kv.sess[i] = simSession{seq: binary.LittleEndian.Uint32(b[12*i:]), reply: binary.LittleEndian.Uint64(b[12*i+4:])}
	}
	return nil
}

// snapshotData is node n's snapshot payload: the checker's state hash,
// then the key-value state.
func (n *simNode) snapshotData() []byte {
	b := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+simKVBytes), n.smState)
	return n.kv.appendTo(b)
}

// restoreSnapshot sets n's state machine from a snapshot payload.
func (s *sim) restoreSnapshot(n *simNode, slot Slot, data []byte) {
	n.smSlot = slot
	n.smState = binary.LittleEndian.Uint64(data)
	n.kv = simKV{}
	if err := n.kv.decode(data[8:]); err != nil {
		s.chk.fail("node %d: snapshot %d: %v", n.id, slot, err)
	}
	s.chk.restore(n.id, slot, n.smState)
}

// execute applies the commands of a committed entry to n's state machine,
// and delivers results to the clients whose latest proposal went to n.
func (s *sim) execute(n *simNode, en *Entry) {
	if en.Type != EntryBatch {
		return
	}
	if len(en.Data)%simCmdBytes != 0 {
		s.chk.fail("node %d: slot %d holds %d bytes, not whole commands", n.id, en.Slot, len(en.Data))
		return
	}
	for b := en.Data; len(b) > 0; b = b[simCmdBytes:] {
		id := binary.LittleEndian.Uint64(b)
		c := binary.LittleEndian.Uint32(b[8:])
		seq := binary.LittleEndian.Uint32(b[12:])
		kind, key, value := b[16], b[17], binary.LittleEndian.Uint64(b[24:])
		if int(c) >= simMaxClients || int(key) >= simKeys || (kind != simOpPut && kind != simOpGet) {
			s.chk.fail("node %d: slot %d: malformed command %x", n.id, en.Slot, b[:simCmdBytes])
			return
		}
		ss := &n.kv.sess[c]
		switch {
		case seq < ss.seq:
			continue // a stale retry: the client has seen its result
		case seq == ss.seq:
			// A retry of the last command: the stored reply, no execution.
		case seq == ss.seq+1:
			ss.seq = seq
			ss.reply = 0
			if kind == simOpPut {
				n.kv.vals[key] = value
			} else {
				ss.reply = n.kv.vals[key]
			}
		default:
			s.chk.fail("node %d: slot %d: session %d command %d executes after %d (a command lost or reordered)", n.id, en.Slot, c, seq, ss.seq)
			return
		}
		op := s.clients[c].cur
		if op == nil || op.id != id || op.target != n.id {
			continue
		}
		op.done, op.out, op.ret = true, ss.reply, s.now
		s.clients[c].cur = nil
		s.history = append(s.history, op)
		delete(s.pending, id)
	}
}

// issue makes up to k idle clients issue their next command. It returns
// how many did.
func (s *sim) issue(k int) int {
	issued := 0
	for _, i := range s.r.Perm(len(s.clients)) {
		if issued == k {
			break
		}
		c := &s.clients[i]
		if c.cur != nil {
			continue
		}
		s.nextCmd++
		put := s.r.IntN(2) == 0
		mode := s.drawReadMode(put)
		if mode == 0 {
			c.seq++ // a read without the log takes no number of the session
		}
		op := &simOp{id: s.nextCmd, client: c.id, seq: c.seq, put: put, key: uint8(s.r.IntN(simKeys)), call: s.now, lastSent: -1000, mode: mode}
		if mode != 0 {
			op.seq = 0
		}
		if op.put {
			op.value = s.nextCmd
		}
		c.cur = op
		s.pending[op.id] = true
		issued++
	}
	return issued
}

// newBatch makes up to k idle clients issue a command.
func (s *sim) newBatch(k int) { s.issue(k) }

// runClients has clients issue new commands (while faulting) and (re)propose pending ones.
func (s *sim) runClients() {
	if s.faulting && s.r.IntN(3) == 0 {
		s.issue(1 + s.r.IntN(2))
	}
	s.runReads()
	// Like a runtime's batcher: every command not returned 30 ticks after
	// it was last sent goes, with the others, into one proposal to the
	// node believed to lead.
	var data []byte
	var sent []*simOp
	for i := range s.clients {
		op := s.clients[i].cur
		if op != nil && op.mode == 0 && s.now-op.lastSent >= 30 {
			data = op.appendTo(data)
			sent = append(sent, op)
		}
	}
	if len(sent) == 0 {
		return
	}
	target := s.hint
	if target == 0 || s.r.IntN(4) == 0 {
		target = NodeID(1 + s.r.IntN(len(s.nodes)))
	}
	if s.o.writeTarget != 0 {
		target = s.o.writeTarget
	}
	n := s.nodes[target-1]
	if !n.up {
		s.hint = 0
		return
	}
	err := n.eng.Propose(data)
	var nle *NotLeaderError
	switch {
	case err == nil:
		for _, op := range sent {
			op.lastSent, op.target = s.now, target
		}
		s.hint = target
	case errors.As(err, &nle):
		s.hint = nle.Leader
	case errors.Is(err, ErrPipelineFull):
	default:
		s.chk.fail("node %d: Propose: %v", target, err)
	}
}

// checkClients checks, once every node applied the whole log, that every
// session executed each of its commands exactly once on every node and
// that the history the clients saw is linearizable.
func (s *sim) checkClients() error {
	// A session's number rises by one per execution and a command
	// executes only as its predecessor's successor (execute), so a node
	// whose session reached the client's last number executed each of the
	// client's commands exactly once.
	for _, n := range s.nodes {
		if s.o.members && (n.out || !s.latestConf().Contains(n.id)) {
			continue // no member of the final configuration
		}
		for _, c := range s.clients {
			if got := n.kv.sess[c.id].seq; got != c.seq {
				return fmt.Errorf("exactly once: node %d executed session %d through command %d, the client issued %d", n.id, c.id, got, c.seq)
			}
		}
	}
	ops := make([]porcupine.Operation, 0, len(s.history))
	for _, op := range s.history {
		ops = append(ops, porcupine.Operation{
			ClientId: int(op.client),
			Input:    simKVInput{put: op.put, key: op.key, value: op.value},
			Output:   op.out,
			// Within a tick, clients issue before nodes apply.
			Call:   3 * int64(op.call),
			Return: 3*int64(op.ret) + 2,
		})
	}
	if !porcupine.CheckOperations(simKVModel, ops) {
		return fmt.Errorf("linearizability: the %d results the clients saw are not linearizable%s", len(ops), s.describeKeys(ops))
	}
	return nil
}

// describeKeys names the keys whose history is not linearizable and, when
// tracing, lists that history.
func (s *sim) describeKeys(ops []porcupine.Operation) string {
	var b strings.Builder
	for k := range uint8(simKeys) {
		var kops []porcupine.Operation
		var hist []*simOp
		for i, op := range ops {
			if op.Input.(simKVInput).key == k {
				kops = append(kops, op)
				hist = append(hist, s.history[i])
			}
		}
		if porcupine.CheckOperations(simKVModel, kops) {
			continue
		}
		fmt.Fprintf(&b, " (key %d", k)
		if s.tracing {
			for _, op := range hist {
				fmt.Fprintf(&b, "\n  client %d [%d, %d] put=%v value=%d out=%d mode=%v node=%d", op.client, op.call, op.ret, op.put, op.value, op.out, op.mode, op.target)
			}
		}
		b.WriteString(")")
	}
	return b.String()
}

type simKVInput struct {
	put   bool
	key   uint8
	value uint64
}

// simKVModel is the sequential specification of the simulated key-value
// store: a put sets its key, a get returns the key's value (0 if never
// put). It is checked per key.
var simKVModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		var byKey [simKeys][]porcupine.Operation
		for _, op := range h {
			k := op.Input.(simKVInput).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			if len(ops) > 0 {
				out = append(out, ops)
			}
		}
		return out
	},
	Init: func() any { return uint64(0) },
	Step: func(state, input, output any) (bool, any) {
		in := input.(simKVInput)
		if in.put {
			return true, in.value
		}
		return output.(uint64) == state.(uint64), state
	},
}

// The client checks can fail: a stale read and a lost command are caught.
func TestSimClientChecksFail(t *testing.T) {
	o := scenarioOptions(3, true)
	s := newSim(t, 1, o, false)
	put := &simOp{client: 0, seq: 1, put: true, key: 1, value: 7, call: 1, ret: 5, done: true}
	get := &simOp{client: 1, seq: 1, key: 1, out: 0, call: 6, ret: 8, done: true}
	s.history = []*simOp{put, get}
	s.clients[0].seq, s.clients[1].seq = 1, 1
	for _, n := range s.nodes {
		n.kv.sess[0].seq, n.kv.sess[1].seq = 1, 1
	}
	if err := s.checkClients(); err == nil || !strings.Contains(err.Error(), "linearizab") {
		t.Fatalf("a read of 0 after a put of 7 returned: %v, want a linearizability failure", err)
	}
	get.out = 7
	if err := s.checkClients(); err != nil {
		t.Fatalf("a read of 7 after a put of 7: %v", err)
	}
	s.nodes[2].kv.sess[1].seq = 0
	if err := s.checkClients(); err == nil || !strings.Contains(err.Error(), "exactly once") {
		t.Fatalf("a node that never executed a command: %v, want an exactly-once failure", err)
	}
}

// A retry of a command that already executed gets the stored reply and does
// not execute again; a command after a gap in its session fails the run.
func TestSimSessionDedup(t *testing.T) {
	s := newSim(t, 1, scenarioOptions(1, true), false)
	n := s.nodes[0]
	c := &s.clients[0]
	cmd := func(seq uint32, put bool, value uint64) *Entry {
		op := simOp{id: uint64(seq), client: c.id, seq: seq, put: put, value: value}
		return &Entry{Slot: 1, Type: EntryBatch, Data: op.appendTo(nil)}
	}
	s.execute(n, cmd(1, true, 5))
	s.execute(n, cmd(2, true, 6))
	s.execute(n, cmd(2, true, 6))
	s.execute(n, cmd(1, true, 5)) // stale: must not set the key back to 5
	if n.kv.vals[0] != 6 || n.kv.sess[0].seq != 2 || s.chk.err != nil {
		t.Fatalf("after retries: value %d, session %+v, err %v", n.kv.vals[0], n.kv.sess[0], s.chk.err)
	}
	s.execute(n, cmd(4, true, 8))
	if s.chk.err == nil || !strings.Contains(s.chk.err.Error(), "lost or reordered") {
		t.Fatalf("a command after a gap: %v", s.chk.err)
	}
}
