package naive

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/mpaxos/mpaxos/engine"
)

// Config configures one Engine.
type Config struct {
	// Protocol is the scheme; it must be one of this package's (not Paxos).
	Protocol Protocol
	// ID is this node; it must be non-zero and in Peers.
	ID engine.NodeID
	// Group is stamped on every message. The default is 0.
	Group engine.GroupID
	// Peers lists every member, this node included.
	Peers []engine.NodeID
	// HeartbeatTicks is how many Ticks pass between two heartbeats. The
	// default is 1; it must be at least 1.
	HeartbeatTicks int
	// ElectionTicks is the failure detector's timeout in Ticks: a peer not
	// heard from for that long is dead. The default is 10; it must be
	// greater than HeartbeatTicks.
	ElectionTicks int
	// MaxInflight bounds PrimaryBackupAck's writes waiting for their
	// acknowledgements, in slots. The default is 256; at least 1.
	MaxInflight int
	// Incarnation names this run of the node in its forwards, so peers
	// start a new stream when it restarts: it must differ between runs of
	// one node (node/ passes the engine's Seed, which is time-based). The
	// default, 0, is allowed for tests that never restart a node.
	Incarnation uint64
	// StreamLimit is how many of its own writes a node keeps for peers
	// that have not acknowledged them (stream.go); a peer that falls
	// further behind loses the older ones. The default is 8192; at least 1.
	StreamLimit int
	// Logger receives role changes. The default is slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; ID, Peers and Protocol are the
// caller's.
func DefaultConfig() Config {
	return Config{HeartbeatTicks: 1, ElectionTicks: 10, MaxInflight: 256, StreamLimit: streamLimit}
}

// ErrInvalidConfig wraps every problem Validate finds.
var ErrInvalidConfig = errors.New("naive: invalid config")

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...))
	}
	if !c.Protocol.Naive() {
		bad("Protocol %v is not a naive scheme", c.Protocol)
	}
	if c.ID == 0 || !slices.Contains(c.Peers, c.ID) {
		bad("ID %d must be non-zero and in Peers %v", c.ID, c.Peers)
	}
	if c.HeartbeatTicks < 1 {
		bad("HeartbeatTicks %d must be at least 1", c.HeartbeatTicks)
	}
	if c.ElectionTicks <= c.HeartbeatTicks {
		bad("ElectionTicks %d must be greater than HeartbeatTicks %d", c.ElectionTicks, c.HeartbeatTicks)
	}
	if c.MaxInflight < 1 {
		bad("MaxInflight %d must be at least 1", c.MaxInflight)
	}
	if c.StreamLimit < 1 {
		bad("StreamLimit %d must be at least 1", c.StreamLimit)
	}
	return errors.Join(errs...)
}

// Engine is one node of a naive scheme. Every slot of its local log is
// executed, in slot order: slots are this node's arrival order, not an
// agreed one.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	others []engine.NodeID // Peers without ID, ascending

	tick  int
	heard map[engine.NodeID]int // tick a peer was last heard
	// primary is, in the primary-backup schemes, the node this one takes
	// for the primary (itself included); 0 in the others, and while it
	// knows none.
	// claims is the primary each peer named in its last heartbeat.
	claims  map[engine.NodeID]engine.NodeID
	primary engine.NodeID

	last    engine.Slot // highest slot in the local log
	commit  engine.Slot // highest slot handed out in Committed
	durable engine.Slot // highest slot a Ready persisted and Advance saw
	// out is this node's forward stream (stream.go).
	out outStream
	// in is, per peer, the stream this node receives from it.
	in map[engine.NodeID]inStream

	// What the next Ready carries.
	entries   []engine.Entry
	committed []engine.Entry
	msgs      []engine.Message
	after     []engine.Message
	reads     []engine.ReadState
	saveHS    bool
}

// New starts an engine from what storage holds: every stored entry
// through the durable commit index is handed out again in the first
// Ready's Committed (above the snapshot, which the caller restored).
func New(cfg Config, storage engine.Storage) (*Engine, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:    cfg,
		log:    cfg.Logger.With("protocol", cfg.Protocol.String()),
		heard:  make(map[engine.NodeID]int),
		claims: make(map[engine.NodeID]engine.NodeID),
		in:     make(map[engine.NodeID]inStream),
	}
	e.out.init(cfg.Incarnation, cfg.StreamLimit)
	for _, id := range cfg.Peers {
		if id != cfg.ID {
			e.others = append(e.others, id)
		}
	}
	slices.Sort(e.others)
	if err := e.recover(storage); err != nil {
		return nil, err
	}
	e.updatePrimary()
	return e, nil
}

func (e *Engine) recover(storage engine.Storage) error {
	hs, err := storage.InitialState()
	if err != nil {
		return fmt.Errorf("%w: %v", engine.ErrStorage, err)
	}
	snap, err := storage.Snapshot()
	if err != nil {
		return fmt.Errorf("%w: %v", engine.ErrStorage, err)
	}
	last, err := storage.LastSlot()
	if err != nil {
		return fmt.Errorf("%w: %v", engine.ErrStorage, err)
	}
	// Entries above the commit index were PrimaryBackupAck writes never
	// acknowledged; the slots are reused (a Ready's entry replaces a stored
	// one of the same slot).
	through := min(last, max(hs.Commit, snap.Slot))
	e.last, e.commit, e.durable = snap.Slot, snap.Slot, snap.Slot
	for lo := snap.Slot + 1; lo <= through; {
		ents, err := storage.Entries(lo, through+1, 64<<20)
		if err != nil {
			return fmt.Errorf("%w: %v", engine.ErrStorage, err)
		}
		if len(ents) == 0 || ents[0].Slot != lo {
			return fmt.Errorf("%w: slot %d missing below the commit index %d", engine.ErrStorage, lo, through)
		}
		for _, en := range ents {
			if en.Slot != e.last+1 {
				return fmt.Errorf("%w: slot %d missing below the commit index %d", engine.ErrStorage, e.last+1, through)
			}
			e.last, e.commit, e.durable = en.Slot, en.Slot, en.Slot
			e.committed = append(e.committed, en)
		}
		lo = e.last + 1
	}
	return nil
}

// primaryBackup reports whether the scheme has a primary.
func (e *Engine) primaryBackup() bool {
	return e.cfg.Protocol == PrimaryBackup || e.cfg.Protocol == PrimaryBackupAck
}

// leading reports whether this node accepts client writes.
func (e *Engine) leading() bool {
	return !e.primaryBackup() || e.primary == e.cfg.ID
}

// alive is the failure detector: p was heard within ElectionTicks.
// Before ElectionTicks have passed every peer is presumed alive.
func (e *Engine) alive(p engine.NodeID) bool {
	return e.tick-e.heard[p] < e.cfg.ElectionTicks
}

// choosePrimary is the failure detector's decision, from what this node
// heard (see doc.go): keep a live primary that still claims to be one;
// follow the node its primary now follows; give way to a lower id that
// claims to be primary; without a primary, take one a live peer follows,
// or, after the first ElectionTicks (time to hear the others), the lowest
// id believed alive.
func (e *Engine) choosePrimary() engine.NodeID {
	self, cur := e.cfg.ID, e.primary
	switch {
	case cur == self:
		for _, p := range e.others {
			if p < self && e.alive(p) && e.claims[p] == p {
				return p
			}
		}
		return self
	case cur != 0 && e.alive(cur):
		if q := e.claims[cur]; q != 0 && q != cur && (q == self || e.alive(q)) {
			return q
		}
		return cur
	}
	for _, p := range e.others {
		if q := e.claims[p]; e.alive(p) && q != 0 && (q == self && e.tick >= e.cfg.ElectionTicks || q != self && e.alive(q)) {
			return q
		}
	}
	if e.tick < e.cfg.ElectionTicks {
		return 0
	}
	next := self
	for _, p := range e.others {
		if p < next && e.alive(p) {
			next = p
		}
	}
	return next
}

// updatePrimary applies choosePrimary.
func (e *Engine) updatePrimary() {
	if !e.primaryBackup() {
		return
	}
	next := e.choosePrimary()
	if next == e.primary {
		return
	}
	was := e.primary == e.cfg.ID
	e.primary = next
	e.log.Info("primary changed", "primary", next, "self", next == e.cfg.ID, "slot", e.last)
	if was && e.last > e.commit {
		// Writes waiting for acknowledgements were never answered; their
		// slots are reused by what the new primary forwards. Backups that
		// have them keep them: nothing is reconciled.
		e.out.dropAbove(e.commit)
		e.entries = slices.DeleteFunc(e.entries, func(en engine.Entry) bool { return en.Slot > e.commit })
		e.last = e.commit
	}
}

// Tick advances time by one tick: heartbeats and the failure detector.
func (e *Engine) Tick() {
	e.tick++
	if e.cfg.Protocol == Unsync {
		return
	}
	if e.tick%e.cfg.HeartbeatTicks == 0 {
		for _, p := range e.others {
			e.send(engine.Message{Type: engine.MsgCommit, To: p, Commit: e.commit, Slot: engine.Slot(e.primary)})
			// A peer not heard from is not resent to: a dead one would
			// cost the whole buffer every heartbeat.
			if e.leading() && e.alive(p) {
				e.resend(p)
			}
		}
	}
	e.updatePrimary()
	e.maybeCommit()
}

// Propose appends a batch of client commands to the local log and, as the
// scheme says, executes and forwards it.
func (e *Engine) Propose(data []byte) error {
	if !e.leading() {
		return &engine.NotLeaderError{Leader: e.primary}
	}
	if !e.CanPropose() {
		return engine.ErrPipelineFull
	}
	en := e.appendLocal(data)
	if e.cfg.Protocol != PrimaryBackupAck {
		e.commitEntry(en) // execute (and answer) first
	}
	if e.cfg.Protocol == Unsync {
		return nil
	}
	seq := e.out.push(en)
	for _, p := range e.others {
		e.send(engine.Message{Type: engine.MsgAccept, To: p, Ballot: engine.Ballot(e.out.inc),
			Slot: engine.Slot(seq), Commit: engine.Slot(e.out.oldest()), Entries: []engine.Entry{en}})
	}
	return nil
}

// CanPropose reports whether Propose would take a batch now.
func (e *Engine) CanPropose() bool {
	return e.leading() && (e.cfg.Protocol != PrimaryBackupAck || e.last-e.commit < engine.Slot(e.cfg.MaxInflight))
}

func (e *Engine) appendLocal(data []byte) engine.Entry {
	e.last++
	en := engine.Entry{Slot: e.last, Type: engine.EntryBatch, Data: data}
	e.entries = append(e.entries, en)
	return en
}

// commitEntry hands out en, the next slot to execute.
func (e *Engine) commitEntry(en engine.Entry) {
	if en.Slot != e.commit+1 {
		panic(fmt.Sprintf("naive: committing slot %d after slot %d", en.Slot, e.commit))
	}
	e.committed = append(e.committed, en)
	e.commit = en.Slot
	e.saveHS = true
}

func (e *Engine) send(m engine.Message) {
	m.From, m.Group = e.cfg.ID, e.cfg.Group
	e.msgs = append(e.msgs, m)
}

// Step handles a peer's message.
func (e *Engine) Step(m engine.Message) error {
	if m.Group != e.cfg.Group || m.From == e.cfg.ID || !slices.Contains(e.others, m.From) {
		return fmt.Errorf("%w: from %d group %d", engine.ErrBadMessage, m.From, m.Group)
	}
	if !e.alive(m.From) {
		// What it claimed before it went quiet (or restarted) is stale.
		delete(e.claims, m.From)
	}
	e.heard[m.From] = e.tick
	if m.Type == engine.MsgCommit { // heartbeat: Slot is the primary the sender follows
		e.claims[m.From] = engine.NodeID(m.Slot)
	}
	e.updatePrimary()
	switch m.Type {
	case engine.MsgCommit:
	case engine.MsgAccept:
		e.onForward(m)
	case engine.MsgAccepted:
		if engine.Ballot(e.out.inc) == m.Ballot {
			e.out.ack(m.From, uint64(m.Slot), e.others, e.commit)
			e.maybeCommit()
		}
	default:
		return fmt.Errorf("%w: message type %v", engine.ErrBadMessage, m.Type)
	}
	return nil
}

// onForward executes another node's entries in the order they arrive;
// the primary-backup schemes take them only from the node they think
// primary. It acknowledges what it has of the sender's stream, so the
// sender resends what a dropped connection lost (stream.go).
func (e *Engine) onForward(m engine.Message) {
	switch e.cfg.Protocol {
	case Unsync:
		return
	case PrimaryBackup, PrimaryBackupAck:
		if m.From != e.primary {
			e.log.Debug("forward from a node not primary here: dropped", "from", m.From, "primary", e.primary)
			return
		}
	}
	in := e.in[m.From]
	if in.inc != uint64(m.Ballot) {
		in = inStream{inc: uint64(m.Ballot)} // the sender restarted
	}
	first := uint64(m.Slot)
	if first > in.seq+1 && !(uint64(m.Commit) > in.seq+1 && first == uint64(m.Commit)) {
		return // a gap the sender can still fill: wait for the resend
	}
	for i, en := range m.Entries {
		if first+uint64(i) <= in.seq {
			continue // had it
		}
		e.commitEntry(e.appendLocal(en.Data))
		in.seq = first + uint64(i)
	}
	e.in[m.From] = in
	ack := engine.Message{Type: engine.MsgAccepted, From: e.cfg.ID, To: m.From, Group: e.cfg.Group,
		Ballot: m.Ballot, Slot: engine.Slot(in.seq)}
	if e.cfg.Protocol == PrimaryBackupAck {
		e.after = append(e.after, ack) // it acknowledges a durable write
	} else {
		e.msgs = append(e.msgs, ack)
	}
}

// resend sends p again what it has not acknowledged of this node's stream,
// when its acknowledgement has not moved since the last heartbeat.
func (e *Engine) resend(p engine.NodeID) {
	first, ents, ok := e.out.unacked(p)
	for ok && len(ents) > 0 {
		n := min(len(ents), resendMax)
		e.send(engine.Message{Type: engine.MsgAccept, To: p, Ballot: engine.Ballot(e.out.inc),
			Slot: engine.Slot(first), Commit: engine.Slot(e.out.oldest()), Entries: append([]engine.Entry(nil), ents[:n]...)})
		first, ents = first+uint64(n), ents[n:]
	}
}

// maybeCommit commits a PrimaryBackupAck primary's writes that are durable
// here and acknowledged by every backup it believes alive.
func (e *Engine) maybeCommit() {
	if e.cfg.Protocol != PrimaryBackupAck || !e.leading() {
		return
	}
	for e.commit < e.last && e.commit < e.durable {
		seq, ok := e.out.seqOf(e.commit + 1)
		if !ok {
			panic(fmt.Sprintf("naive: uncommitted slot %d is not in the forward stream", e.commit+1))
		}
		for _, p := range e.others {
			if e.alive(p) && e.out.acked[p] < seq {
				return
			}
		}
		e.commitEntry(e.out.entry(seq))
	}
}

// HasReady reports whether Ready has anything to hand out.
func (e *Engine) HasReady() bool {
	return e.saveHS || len(e.entries) > 0 || len(e.committed) > 0 || len(e.msgs) > 0 ||
		len(e.after) > 0 || len(e.reads) > 0
}

// Ready hands out what to persist, send and apply. The slices are the
// caller's until Advance: the engine starts new ones.
func (e *Engine) Ready() engine.Ready {
	rd := engine.Ready{
		HardState:     engine.HardState{Commit: e.commit},
		SaveHardState: e.saveHS,
		MustSync:      len(e.entries) > 0,
		Entries:       e.entries,
		Messages:      e.msgs,
		AfterSync:     e.after,
		Committed:     e.committed,
		Reads:         e.reads,
	}
	e.entries, e.msgs, e.after, e.committed, e.reads = nil, nil, nil, nil, nil
	e.saveHS = false
	return rd
}

// Advance says rd's state is durable.
func (e *Engine) Advance(rd engine.Ready) {
	if n := len(rd.Entries); n > 0 {
		e.durable = max(e.durable, rd.Entries[n-1].Slot)
		e.maybeCommit()
	}
}

// Compact allows dropping the log through a snapshot's slot; the engine
// keeps no log in memory, so it only checks the slot.
func (e *Engine) Compact(through engine.Slot) error {
	if through > e.commit {
		return fmt.Errorf("naive: compact through slot %d beyond the applied slot %d", through, e.commit)
	}
	return nil
}

// Read answers at once from the local state (Index = the last slot handed
// out), whatever the mode: no scheme here can confirm a read. A node that
// does not take writes (a backup) refuses with a *engine.NotLeaderError
// naming its primary, so reads go where writes go.
func (e *Engine) Read(ctx uint64, _ engine.ReadMode) error {
	if !e.leading() {
		return &engine.NotLeaderError{Leader: e.primary}
	}
	e.reads = append(e.reads, engine.ReadState{Ctx: ctx, Index: e.commit})
	return nil
}

// Status returns the engine's state.
func (e *Engine) Status() engine.Status {
	var s engine.Status
	e.StatusInto(&s)
	return s
}

// StatusInto is Status written into s. In the primary-backup schemes
// Leader is the primary this node believes in. In Unsync and MultiLeader
// every node has Role leader (each takes writes) and names the lowest id
// as Leader, a nominal one, so tools that wait for an agreed leader (the
// benchmark's launcher) and pick "the leader" for a fault proceed.
func (e *Engine) StatusInto(s *engine.Status) {
	*s = engine.Status{ID: e.cfg.ID, Role: engine.RoleFollower, Leader: e.primary,
		Commit: e.commit, Applied: e.commit, LastSlot: e.last}
	if !e.primaryBackup() {
		s.Leader = e.cfg.ID
		if len(e.others) > 0 {
			s.Leader = min(s.Leader, e.others[0])
		}
	}
	if e.leading() {
		s.Role = engine.RoleLeader
	}
}
