package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/batch"
	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/net/transport"
	"github.com/mpaxos/mpaxos/store"
)

// framePaxos is the frame type of an encoded engine.Message between peers.
const framePaxos byte = 8

// group is the only Paxos group today; see DESIGN.md on sharding later.
const group engine.GroupID = 0

// Node is one running server.
type Node struct {
	cfg Config
	log *slog.Logger

	st      *store.Store
	eng     *engine.Engine
	sm      *kv.Machine
	peers   *transport.Peers
	clients *transport.Server
	admin   *http.Server
	// peerCerts, clientCerts and adminCerts are the ports' TLS material,
	// nil for plain TCP (see tls.go).
	peerCerts, clientCerts, adminCerts *transport.Certs

	peerIn     chan engine.Message
	wake       chan struct{} // capacity 1: the inbox has new commands
	staleReads chan staleRead
	queries    chan func()      // run on loop, for admin reads of loop-owned state
	snapDone   chan snapResult  // from the snapshot goroutine to loop
	jobs       chan *persistJob // loop -> writer, in Ready order
	persisted  chan *persistJob // writer -> loop, in the same order
	stop       chan struct{}
	stopOnce   sync.Once
	wg         sync.WaitGroup
	fatalErr   atomic.Pointer[error]
	closed     chan struct{}

	peerPool bytebufferpool.Pool
	inbox    inbox
	stages   stages

	// Owned by loop.
	appliedLog   *appliedRing   // nil unless Config.RecordApplied > 0
	results      []applied      // apply's reusable scratch
	status       engine.Status  // publish's, reused every loop pass
	inflight     int            // persist jobs handed to the writer, not yet back
	loopJob      persistJob     // persistOnLoop's reusable job
	loopScratch  []engine.Entry // persistOnLoop's reusable entry slice
	replyInline  bool           // reply writes inline (see handleReadies)
	applied      engine.Slot    // last slot applied to sm
	lastSnapshot engine.Slot    // slot of the last snapshot taken or installed
	logBytes     uint64         // batch bytes applied since lastSnapshot
	// snapStagger and snapStaggerBytes bring this node's first snapshot
	// forward by its share of SnapshotEvery and SnapshotBytes (see
	// maybeSnapshot); 0 once it has snapshotted.
	snapStagger      engine.Slot
	snapStaggerBytes uint64
	wasLeader        bool
	snapshotting     bool
	// snapSlot is the slot of the snapshot being taken (while
	// snapshotting) and snapCancel its cancel flag, set by loop when a
	// newer snapshot is installed meanwhile, read by the snapshot's
	// goroutine; a new flag per snapshot.
	snapSlot   engine.Slot
	snapCancel *atomic.Bool

	// Published by loop for readers on other goroutines (admin, clients).
	isLeader atomic.Bool
	// noSpace: the store is out of space (checkSpace); writes are refused.
	noSpace atomic.Bool
	leader  atomic.Uint32
	stats   stats
	// peerLag is, on the leader, how far each member's acknowledged slot
	// trails the commit index; refreshed every tick.
	peerLag atomic.Pointer[[]PeerLag]
}

// Start opens the store, recovers, and starts serving. The returned Node
// runs until Close, or until a fatal error (a failed disk write), which
// Done and Err report.
func Start(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{
		cfg:        cfg,
		log:        cfg.Logger.With("node", cfg.ID),
		peerIn:     make(chan engine.Message, 4096),
		wake:       make(chan struct{}, 1),
		staleReads: make(chan staleRead, 1024),
		queries:    make(chan func()),
		snapDone:   make(chan snapResult, 1),
		jobs:       make(chan *persistJob, 1024),
		persisted:  make(chan *persistJob, 1024),
		stop:       make(chan struct{}),
		closed:     make(chan struct{}),
	}
	n.stages.init()
	if cfg.RecordApplied > 0 {
		n.appliedLog = &appliedRing{buf: make([]AppliedCommand, cfg.RecordApplied)}
	}
	if err := n.inbox.init(cfg.Batch); err != nil {
		return nil, err
	}
	if err := n.loadCerts(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			n.closeResources()
		}
	}()
	if err := cfg.addrsFree(); err != nil {
		return nil, err
	}
	if !cfg.Null {
		if err := n.recover(); err != nil {
			return nil, err
		}
		if err := n.startPeers(); err != nil {
			return nil, err
		}
	}
	scfg := cfg.clientServer()
	scfg.Conn.Logger = n.log
	if n.clientCerts != nil {
		scfg.Conn.TLS = n.clientCerts.ServerTLS(cfg.ClientCertAuth)
	}
	srv, err := transport.Listen(scfg, n.onClientFrame)
	if err != nil {
		return nil, fmt.Errorf("node: client listener: %w", err)
	}
	n.clients = srv
	if cfg.AdminAddr != "" {
		if err := n.startAdmin(); err != nil {
			return nil, err
		}
	}
	if !cfg.Null {
		n.wg.Add(2)
		go n.writer()
		go n.loop()
	}
	if cfg.TLSWatch > 0 && len(n.tlsFiles()) > 0 {
		n.wg.Add(1)
		go n.watchTLS()
	}
	ok = true
	if cfg.UnsafeNoPersist {
		n.log.Warn("UNSAFE: -unsafe-no-persist is set; this node acknowledges writes it never stores (tests only)")
	}
	n.log.Info("node started", "peers", len(cfg.Peers), "client_addr", cfg.ClientAddr,
		"sync", cfg.Sync, "null", cfg.Null, "peer_tls", n.peerCerts != nil, "client_tls", n.clientCerts != nil)
	return n, nil
}

// recover opens the store and rebuilds the state machine and the engine
// from it: the latest snapshot, then the log above it (the engine hands the
// committed part back in its first Readies).
func (n *Node) recover() error {
	scfg := store.DefaultConfig()
	scfg.Dir = n.cfg.DataDir
	scfg.Logger = n.log
	scfg.MemTableSize = uint64(n.cfg.MemTable)
	scfg.SpaceQuota = n.cfg.SpaceQuota
	scfg.MinFreeBytes = n.cfg.MinFreeBytes
	if !n.cfg.Sync {
		scfg.Durability = store.NoSync
	}
	st, err := store.Open(scfg)
	if err != nil {
		return err
	}
	n.st = st
	mcfg := kv.DefaultMachineConfig()
	mcfg.SessionTTL = n.cfg.SessionTTL
	if n.sm, err = kv.NewMachine(mcfg); err != nil {
		return err
	}
	lg := st.Log(group)
	snap, err := lg.Snapshot()
	if err != nil {
		return fmt.Errorf("node: reading snapshot: %w", err)
	}
	if snap.Slot > 0 {
		if err := n.sm.Restore(snap.Data); err != nil {
			return fmt.Errorf("node: restoring snapshot at slot %d: %w", snap.Slot, err)
		}
		n.applied, n.lastSnapshot = snap.Slot, snap.Slot
	}
	members := n.cfg.members()
	for i, id := range members {
		if id == n.cfg.ID {
			n.snapStagger = engine.Slot(n.cfg.SnapshotEvery * uint64(i) / uint64(len(members)))
			n.snapStaggerBytes = n.cfg.SnapshotBytes / uint64(len(members)) * uint64(i)
		}
	}
	ecfg := engine.DefaultConfig()
	ecfg.ID = n.cfg.ID
	ecfg.Group = group
	ecfg.Peers = members
	ecfg.HeartbeatTicks = n.cfg.ticks(n.cfg.Heartbeat)
	ecfg.ElectionTicks = n.cfg.ticks(n.cfg.ElectionTimeout)
	ecfg.MaxInflight = n.cfg.Pipeline
	ecfg.PrePrepare = n.cfg.PrePrepare
	ecfg.Seed = n.cfg.Seed
	if ecfg.Seed == 0 {
		ecfg.Seed = int64(n.cfg.ID)*7919 + time.Now().UnixNano()
	}
	ecfg.Logger = n.log
	eng, err := engine.New(ecfg, lg)
	if err != nil {
		return err
	}
	n.eng = eng
	hs, _ := lg.InitialState()
	last, _ := lg.LastSlot()
	n.log.Info("recovered", "snapshot", snap.Slot, "promised", hs.Promised.String(),
		"commit", hs.Commit, "last_slot", last)
	return nil
}

func (n *Node) startPeers() error {
	peers := make(map[uint64]string, len(n.cfg.Peers))
	for id, addr := range n.cfg.Peers {
		if id != n.cfg.ID {
			peers[uint64(id)] = addr
		}
	}
	pcfg := transport.DefaultPeersConfig()
	pcfg.ClusterID = n.cfg.ClusterID
	pcfg.ID = uint64(n.cfg.ID)
	pcfg.Listen = n.cfg.Peers[n.cfg.ID]
	pcfg.Peers = peers
	pcfg.MaxFrameSize = n.cfg.MaxFrame
	pcfg.Logger = n.log
	// Accept batches are much larger than client frames; a pool of their
	// own keeps bytebufferpool from discarding them as outliers.
	pcfg.BodyPool = &n.peerPool
	// Heartbeats flow every Heartbeat, so a silent link is a dead one.
	pcfg.IdleTimeout = max(4*n.cfg.ElectionTimeout, 2*time.Second)
	// A restarted peer should be back within an election timeout or so.
	pcfg.BackoffMax = max(n.cfg.ElectionTimeout, 100*time.Millisecond)
	if n.peerCerts != nil {
		pcfg.TLS = n.peerCerts.PeerTLS()
	}
	p, err := transport.NewPeers(pcfg, n.onPeerFrame)
	if err != nil {
		return fmt.Errorf("node: peer transport: %w", err)
	}
	n.peers = p
	p.Start()
	return nil
}

// onPeerFrame runs on a transport reader goroutine. body is only valid
// during the call, and the engine keeps Entries' Data until they are
// applied and persisted, so the frame is copied once here.
func (n *Node) onPeerFrame(from uint64, typ byte, body []byte) {
	if typ != framePaxos {
		n.log.Warn("unknown peer frame type", "from", from, "type", typ)
		return
	}
	own := make([]byte, len(body))
	copy(own, body)
	var m engine.Message
	if err := m.Unmarshal(own); err != nil {
		n.log.Warn("bad peer message", "from", from, "err", err)
		return
	}
	if uint64(m.From) != from || m.Group != group {
		n.log.Warn("peer message with wrong sender or group", "conn_from", from, "msg_from", m.From, "group", m.Group)
		return
	}
	m.To = n.cfg.ID
	select {
	case n.peerIn <- m:
	case <-n.stop:
	}
}

// loop owns the engine: every protocol decision happens here.
func (n *Node) loop() {
	defer n.wg.Done()
	ticker := time.NewTicker(n.cfg.Tick)
	defer ticker.Stop()
	batchTimer := time.NewTimer(time.Hour)
	batchTimer.Stop()
	spaceTicks, sinceSpace := n.cfg.ticks(n.cfg.SpaceCheck), 0
	n.checkSpace()
	for {
		select {
		case <-n.stop:
			n.failPending(kv.StatusRetry)
			return
		case <-ticker.C:
			n.eng.Tick()
			n.publishPeers()
			if sinceSpace++; sinceSpace >= spaceTicks {
				sinceSpace = 0
				n.checkSpace()
			}
		case m := <-n.peerIn:
			n.step(m)
		case j := <-n.persisted:
			n.onPersisted(j)
		case r := <-n.staleReads:
			n.serveStale(r)
		case q := <-n.queries:
			q()
		case r := <-n.snapDone:
			n.onSnapshotDone(r)
		case <-n.wake:
		case <-batchTimer.C:
		}
		n.drain()
		if d, ok := n.propose(); ok {
			batchTimer.Reset(d)
		}
		n.handleReadies()
		n.publish()
	}
}

// drain takes whatever else is already queued, so one Ready covers many
// messages (fewer, larger writes and syncs). Bounded so ticks stay timely.
func (n *Node) drain() {
	for i := 0; i < 1024; i++ {
		select {
		case m := <-n.peerIn:
			n.step(m)
		case j := <-n.persisted:
			n.onPersisted(j)
		default:
			return
		}
	}
}

func (n *Node) step(m engine.Message) {
	if err := n.eng.Step(m); err != nil {
		n.log.Debug("step", "from", m.From, "type", m.Type, "err", err)
	}
}

// propose hands the leader's queued commands to the engine while its
// pipeline has room. It returns how long until the batcher wants another
// look (a max-delay deadline), if it does.
func (n *Node) propose() (time.Duration, bool) {
	if !n.isLeader.Load() {
		return 0, false
	}
	now := time.Now()
	n.inbox.mu.Lock()
	defer n.inbox.mu.Unlock()
	for n.eng.CanPropose() {
		b, ok := n.inbox.b.Next(now, true)
		if !ok {
			break
		}
		if err := n.eng.Propose(b); err != nil {
			// Leadership or room vanished between CanPropose and Propose;
			// the commands' clients retry.
			n.log.Debug("propose", "err", err)
			break
		}
		n.stats.batches.Add(1)
		if c, err := batch.Count(b); err == nil {
			n.stats.commands.Add(uint64(c))
			n.stages.batchSize(c)
		}
		oldest := now
		if !n.stages.oldest.IsZero() {
			oldest = n.stages.oldest
			n.stages.since(StageBatchWait, n.stages.oldest)
			n.stages.oldest = time.Time{}
			if n.inbox.b.Len() > 0 {
				n.stages.oldest = now // commands left behind wait from here on
			}
		}
		n.stages.proposedAt[&b[0]] = proposal{at: now, oldest: oldest}
	}
	// A full pipeline makes room only when a peer's Accepted or a sync
	// arrives, and either wakes the loop; a deadline timer then would
	// only spin the loop.
	if !n.eng.CanPropose() {
		return 0, false
	}
	if dl, ok := n.inbox.b.Deadline(); ok {
		d := dl.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

func (n *Node) handleReadies() {
	// A lone client's command is all there is to do in a Ready whose new
	// entries carry a command or two while nothing else is in flight
	// (n.status is from the end of the last pass): nothing to gather, and
	// its latency is the hand-offs between goroutines, each a thread
	// wake-up on an idle machine. Then peer frames go out on the sending
	// goroutine (transport.Peers.SetInlineWrites). Otherwise that stays
	// off: the peer writers' yield gathers many frames per writev. (The
	// leader's commit index reaches a follower with the next Accept, so
	// one slot above it is a follower's quiet state.)
	lead := n.status.Role == engine.RoleLeader
	inFlight := n.status.LastSlot - min(n.status.Commit, n.status.LastSlot)
	quiet := inFlight == 0 || !lead && inFlight == 1
	for n.eng.HasReady() {
		rd := n.eng.Ready()
		light := quiet && lightReady(rd.Entries)
		n.peers.SetInlineWrites(light)
		n.send(rd.Messages)
		if rd.Snapshot != nil {
			n.installSnapshot(rd.Snapshot)
		}
		// Answers to a command or two (a lone client's) go out inline
		// too; under load many answers share each client connection's
		// writev.
		n.replyInline = lightReady(rd.Committed)
		n.apply(rd.Committed)
		n.replyInline = false
		persist := rd.SaveHardState || len(rd.Entries) > 0 || rd.Snapshot != nil
		// Done on loop: a Ready with nothing to persist, and a follower's
		// write. A follower persists on loop itself, saving two goroutine
		// hand-offs (to the writer and back) per write. It has nothing to
		// do meanwhile that cannot wait for the sync: messages that arrive
		// queue in peerIn, and the next pass's drain puts them all into
		// one Ready, so under load its writes group as the writer's would
		// (one per sync). Only applying waits for the sync, and on two
		// cores shared by a cluster there is no idle core to apply on
		// meanwhile. A leader must not wait here: it keeps proposing and
		// counting votes while its own sync runs. Either way, not while
		// writes queued on the writer are unfinished (n.inflight, only
		// just after a leader stepped down): Readies stay in order.
		if n.inflight == 0 && (!persist || !lead) {
			if persist {
				if err := n.persistOnLoop(rd); err != nil {
					n.fatal(err)
					return
				}
			}
			n.send(rd.AfterSync)
			n.eng.Advance(rd)
			continue
		}
		n.inflight++
		select {
		case n.jobs <- &persistJob{ready: rd}:
		case <-n.stop:
			return
		}
	}
	n.maybeSnapshot()
}

// lightCommands is the most commands a Ready's new entries may carry for
// handleReadies to treat it as light.
const lightCommands = 2

// lightReady reports whether entries carry at most lightCommands commands.
func lightReady(entries []engine.Entry) bool {
	cmds := 0
	for i := range entries {
		if entries[i].Type != engine.EntryBatch {
			continue
		}
		c, err := batch.Count(entries[i].Data)
		if err != nil {
			return false
		}
		if cmds += c; cmds > lightCommands {
			return false
		}
	}
	return true
}

// onPersisted advances the engine past a durable Ready; the writer already
// sent its AfterSync messages.
func (n *Node) onPersisted(j *persistJob) {
	n.inflight--
	n.eng.Advance(j.ready)
}

func (n *Node) send(msgs []engine.Message) {
	for i := range msgs {
		m := &msgs[i]
		buf := n.peerPool.Get()
		buf.B = m.MarshalAppend(buf.B[:0])
		if !n.peers.Send(uint64(m.To), framePaxos, buf) {
			n.stats.dropped.Add(1)
		}
	}
}

func (n *Node) installSnapshot(s *engine.Snapshot) {
	if err := n.sm.Restore(s.Data); err != nil {
		// The leader's snapshot failed its checksum: refuse to apply past
		// it rather than diverge. The node stops; an operator must look.
		n.fatal(fmt.Errorf("node: snapshot at slot %d from leader: %w", s.Slot, err))
		return
	}
	n.applied, n.lastSnapshot, n.logBytes = s.Slot, s.Slot, 0
	if n.snapshotting && s.Slot >= n.snapSlot {
		// Our own snapshot, still being encoded or saved, is older: it is
		// of no use any more, and saving it after this one would only be
		// refused (store.ErrSnapshotOlder). Cancel it rather than spend a
		// write of many megabytes on it.
		n.snapCancel.Store(true)
	}
	n.log.Info("snapshot installed", "slot", s.Slot, "bytes", len(s.Data))
}

// maybeSnapshot snapshots the state machine every SnapshotEvery slots, or
// every SnapshotBytes of applied log if that comes first.
// Replicas apply the same slots, so without care every node would snapshot
// at once, and the whole cluster would stall together (a 5-node run lost
// two thirds of its throughput for 2 s at each snapshot). Each node's first
// snapshot therefore comes early by its position among the members times
// SnapshotEvery/members (snapStagger; the same for bytes); afterwards the
// interval is SnapshotEvery (SnapshotBytes), so the nodes stay spread over
// it.
// Only the capture (Freeze: copying key and value headers, no sorting)
// runs here on the loop; encoding and the store write run on a goroutine
// of their own, beside the writer, so neither the loop nor the log's
// writes queue behind a snapshot of many megabytes. Entries at or below
// the snapshot that the writer stores after the truncation are harmless:
// the store never returns entries below its snapshot and the next
// snapshot's range deletion removes them. Once the snapshot is durable,
// loop tells the engine to compact (snapDone).
func (n *Node) maybeSnapshot() {
	if n.snapshotting {
		return
	}
	bySlots := n.cfg.SnapshotEvery > 0 &&
		n.applied+n.snapStagger >= n.lastSnapshot+engine.Slot(n.cfg.SnapshotEvery)
	byBytes := n.cfg.SnapshotBytes > 0 && n.applied > n.lastSnapshot &&
		n.logBytes+n.snapStaggerBytes >= n.cfg.SnapshotBytes
	if !bySlots && !byBytes {
		return
	}
	n.snapStagger, n.snapStaggerBytes, n.logBytes = 0, 0, 0
	start := time.Now()
	frozen := n.sm.Freeze()
	slot := n.applied
	n.snapshotting = true
	n.lastSnapshot = slot
	n.snapSlot = slot
	cancel := new(atomic.Bool)
	n.snapCancel = cancel
	freeze := time.Since(start)
	var hook func(engine.Slot)
	if n.cfg.hooks != nil {
		hook = n.cfg.hooks.beforeSnapshotSave
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		snap := engine.Snapshot{Slot: slot, Data: frozen.Encode()}
		if hook != nil {
			hook(slot)
		}
		var err error
		cancelled := cancel.Load()
		if !cancelled && !n.cfg.UnsafeNoPersist {
			// A newer snapshot installed from here on is still safe: the
			// store refuses ours atomically then (ErrSnapshotOlder).
			err = n.st.SaveSnapshot(group, snap)
		}
		r := snapResult{slot: slot, bytes: len(snap.Data), freeze: freeze, took: time.Since(start), cancelled: cancelled, err: err}
		select {
		case n.snapDone <- r:
		case <-n.stop:
		}
	}()
}

// snapResult reports a finished snapshot to loop.
type snapResult struct {
	slot         engine.Slot
	bytes        int
	freeze, took time.Duration
	// cancelled: a newer snapshot was installed before this one was
	// saved, so it was not.
	cancelled bool
	err       error
}

func (n *Node) onSnapshotDone(r snapResult) {
	n.snapshotting = false
	n.snapCancel = nil
	if r.cancelled {
		n.stats.snapshotsCancelled.Add(1)
	}
	if r.cancelled || errors.Is(r.err, store.ErrSnapshotOlder) {
		// A newer snapshot from the leader was installed meanwhile; ours
		// is moot (and the store refuses to go back to it).
		n.log.Info("own snapshot superseded by the leader's", "slot", r.slot, "installed", n.lastSnapshot, "cancelled", r.cancelled)
		return
	}
	if r.err != nil {
		n.fatal(fmt.Errorf("node: saving snapshot at slot %d: %w", r.slot, r.err))
		return
	}
	if err := n.eng.Compact(r.slot); err != nil {
		n.log.Warn("compact", "slot", r.slot, "err", err)
	}
	n.log.Info("snapshot taken", "slot", r.slot, "bytes", r.bytes, "loop_pause", r.freeze, "took", r.took)
}

// publish makes the engine's view visible to other goroutines and, when
// this node stops leading, tells the clients waiting on it to go elsewhere.
func (n *Node) publish() {
	n.eng.StatusInto(&n.status)
	st := &n.status
	lead := st.Role == engine.RoleLeader
	n.isLeader.Store(lead)
	n.leader.Store(uint32(st.Leader))
	n.stats.commit.Store(uint64(st.Commit))
	n.stats.applied.Store(uint64(n.applied))
	n.stats.ballot.Store(uint64(st.Ballot))
	if lead != n.wasLeader {
		n.wasLeader = lead
		n.log.Info("role changed", "leader", lead, "ballot", st.Ballot.String(), "commit", st.Commit)
		if !lead {
			n.failPending(kv.StatusNotLeader)
		}
	}
}

// publishPeers refreshes the per-peer lag the admin endpoint shows.
func (n *Node) publishPeers() {
	st := n.eng.Status()
	lags := make([]PeerLag, 0, len(st.Match))
	for _, m := range st.Match {
		lag := uint64(0)
		if st.LastSlot > m.Match {
			lag = uint64(st.LastSlot - m.Match)
		}
		lags = append(lags, PeerLag{ID: uint16(m.ID), Match: uint64(m.Match), Lag: lag})
	}
	n.peerLag.Store(&lags)
}

// onLoop runs f on the loop goroutine and waits for it; false if the node
// stopped first.
func (n *Node) onLoop(f func()) bool {
	done := make(chan struct{})
	select {
	case n.queries <- func() { f(); close(done) }:
	case <-n.stop:
		return false
	}
	select {
	case <-done:
		return true
	case <-n.stop:
		return false
	}
}

// Done is closed once the node has stopped, by Close or a fatal error.
func (n *Node) Done() <-chan struct{} { return n.closed }

// Err returns the fatal error that stopped the node, if any.
func (n *Node) Err() error {
	if p := n.fatalErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (n *Node) fatal(err error) {
	n.fatalErr.CompareAndSwap(nil, &err)
	n.log.Error("fatal", "err", err)
	go n.Close()
}

// Close stops accepting clients, lets the writer finish every queued write,
// and closes the store. It is safe to call more than once.
func (n *Node) Close() error {
	n.stopOnce.Do(func() {
		close(n.stop)
		if n.clients != nil {
			n.clients.Close()
		}
		n.wg.Wait()
		n.closeResources()
		close(n.closed)
	})
	return n.Err()
}

func (n *Node) closeResources() {
	if n.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		n.admin.Shutdown(ctx)
		cancel()
	}
	if n.clients != nil {
		n.clients.Close()
	}
	if n.peers != nil {
		n.peers.Close()
	}
	if n.st != nil {
		if err := n.st.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			n.log.Warn("closing store", "err", err)
		}
	}
}
