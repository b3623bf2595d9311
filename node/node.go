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

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/net/transport"
	"github.com/mpaxos/mpaxos/store"
)

// framePaxos is the frame type of an encoded engine.Message between peers.
const framePaxos byte = 8

// Node is one running server. Its fields fall into what is fixed at Start
// (config, the store, the groups, the ports), the channels between its
// goroutines, what the loop goroutine alone owns (ls), what has a lock of
// its own (each group's inbox, stages), and what loop publishes atomically
// for every other goroutine (noSpace, stats, each group's leader).
type Node struct {
	cfg Config
	log *slog.Logger

	st *store.Store
	// groups are the Paxos groups the node runs, by id (group.go).
	groups  []*group
	peers   *transport.Peers
	clients *transport.Server
	admin   *http.Server
	// peerCerts, clientCerts and adminCerts are the ports' TLS material,
	// nil for plain TCP (see tls.go).
	peerCerts, clientCerts, adminCerts *transport.Certs
	// tlsStamps are the TLS files' stamps when loadCerts read them, where
	// watchTLS starts.
	tlsStamps []fileStamp

	peerIn     chan engine.Message
	wake       chan struct{} // capacity 1: the inbox has new commands
	staleReads chan staleRead
	reads      chan linRead     // gets served by engine.Read (reads.go)
	queries    chan func()      // run on loop, for admin reads of loop-owned state
	snapDone   chan snapResult  // from the snapshot goroutine to loop
	jobs       chan *persistJob // loop -> writer, in Ready order
	persisted  chan *persistJob // writer -> loop, in the same order
	stop       chan struct{}
	stopOnce   sync.Once
	wg         sync.WaitGroup
	fatalErr   atomic.Pointer[error]
	closed     chan struct{}

	// readBytes is the bytes of keys of the gets in reads or held by
	// loop, kept at most readBudget (the constant, unless a test's hooks
	// lower it).
	readBytes  atomic.Int64
	readBudget int64

	peerPool bytebufferpool.Pool
	stages   stageClock

	ls loopState
	// heard counts the frames received from each other member, for
	// maybeHandOff's health check: a map never changed once stored
	// (syncPeers stores a new one when a member joins).
	heard atomic.Pointer[map[engine.NodeID]*atomic.Uint64]

	// Published by loop for readers on other goroutines (admin, clients).
	// noSpace: the store is out of space (checkSpace); writes are refused.
	noSpace atomic.Bool
	stats   stats
	// adminBound is the address the admin port listens on, once it does.
	adminBound atomic.Pointer[string]
	// linkedIDs is peerIDs' list, published by syncPeers.
	linkedIDs atomic.Pointer[[]engine.NodeID]
}

// loopState is what the loop goroutine owns: nothing else reads or writes
// it, except through onLoop.
type loopState struct {
	results     []applied    // apply's reusable scratch
	inflight    int          // persist jobs handed to the writer, not yet back
	loopJob     persistJob   // persistOnLoop's reusable job
	loopWrites  writeSet     // persistOnLoop's reusable write scratch
	pass        []groupReady // handleReadies' reusable list of one pass's Readies
	replyInline bool         // reply writes inline (see decide)
	reads       readState    // gets served without the log (reads.go)
	snapTaking  bool         // a snapshot of some group is being taken
	members     memberState  // the peer transport's members (members.go)
	snapNext    int          // the group maybeSnapshot looks at first
	// tickStart is when loop started on the monotonic clock, and ticked
	// how many engine Ticks it has given since (catchUpTicks).
	tickStart time.Time
	ticked    int
	// proposedAt maps a proposed batch (by the address of its first byte,
	// which the engine hands back unchanged in Committed) to its proposal
	// time, for the quorum-wait and request stages.
	proposedAt map[*byte]proposal
}

// snapState is the loop's bookkeeping of one group's snapshots
// (snapshot.go).
type snapState struct {
	last     engine.Slot // slot of the last snapshot taken or installed
	logBytes uint64      // batch bytes applied since last
	// stagger and staggerBytes bring this node's first snapshot forward by
	// its share of SnapshotEvery and SnapshotBytes (see maybeSnapshot); 0
	// once it has snapshotted.
	stagger      engine.Slot
	staggerBytes uint64
	taking       bool
	// slot is the slot of the snapshot being taken (while taking) and
	// cancel its cancel flag, set by loop when a newer snapshot is
	// installed meanwhile, read by the snapshot's goroutine; a new flag per
	// snapshot.
	slot   engine.Slot
	cancel *atomic.Bool
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
	cfg.Machine = cfg.machineType()
	n := &Node{
		cfg:        cfg,
		log:        cfg.Logger.With("node", cfg.ID),
		peerIn:     make(chan engine.Message, 4096),
		wake:       make(chan struct{}, 1),
		staleReads: make(chan staleRead, 1024),
		reads:      make(chan linRead, 4096),
		readBudget: readBudget,
		queries:    make(chan func()),
		snapDone:   make(chan snapResult, 1),
		jobs:       make(chan *persistJob, 1024),
		persisted:  make(chan *persistJob, 1024),
		stop:       make(chan struct{}),
		closed:     make(chan struct{}),
	}
	n.stages.init()
	n.ls.proposedAt = make(map[*byte]proposal)
	n.ls.reads.init()
	heard := make(map[engine.NodeID]*atomic.Uint64, len(cfg.Peers))
	for id := range cfg.Peers {
		heard[id] = new(atomic.Uint64)
	}
	n.heard.Store(&heard)
	n.ls.pass = make([]groupReady, 0, cfg.Groups)
	n.ls.loopWrites.init(cfg.Groups)
	if cfg.hooks != nil && cfg.hooks.readBudget > 0 {
		n.readBudget = cfg.hooks.readBudget
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
	if cfg.Null {
		// Null answers at once; the groups exist only so the client port
		// routes as a real node does.
		for id := range cfg.Groups {
			g := &group{id: engine.GroupID(id)}
			if err := g.inbox.init(cfg.Batch); err != nil {
				return nil, err
			}
			n.groups = append(n.groups, g)
		}
	} else {
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
		"groups", cfg.Groups, "sync", cfg.Sync, "null", cfg.Null, "peer_tls", n.peerCerts != nil, "client_tls", n.clientCerts != nil)
	return n, nil
}

// recover opens the store and rebuilds every group from it (newGroup).
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
	if n.cfg.hooks != nil && n.cfg.hooks.fs != nil {
		scfg.FS = n.cfg.hooks.fs
	}
	st, err := store.Open(scfg)
	if err != nil {
		return err
	}
	n.st = st
	for id := range n.cfg.Groups {
		g, err := n.newGroup(engine.GroupID(id))
		if err != nil {
			return err
		}
		n.groups = append(n.groups, g)
	}
	return nil
}

// engineConfig is group id's engine configuration. Each group's engine
// draws its election timeouts from a seed of its own, so the groups of a
// node do not all campaign at the same instant.
func (n *Node) engineConfig(id engine.GroupID) engine.Config {
	ecfg := engine.DefaultConfig()
	ecfg.ID = n.cfg.ID
	ecfg.Group = id
	ecfg.Peers = n.cfg.members()
	if int(id) < len(n.cfg.InitialMembers) {
		m := n.cfg.InitialMembers[id]
		ecfg.Peers, ecfg.Learners = m.Voters, m.Learners
	}
	ecfg.HeartbeatTicks = n.cfg.ticks(n.cfg.Heartbeat)
	ecfg.ElectionTicks = n.cfg.ticks(n.cfg.ElectionTimeout)
	ecfg.MaxInflight = n.cfg.Pipeline
	ecfg.PrePrepare = n.cfg.PrePrepare
	ecfg.Thrifty = n.cfg.Thrifty
	// A slot a heartbeat late: a 10 ms tick is well above a loopback
	// round trip and a sync, but a loaded machine stalls a process for
	// that long often enough to make 2 ticks fall back every second.
	ecfg.ThriftyLateTicks = max(ecfg.ThriftyLateTicks, ecfg.HeartbeatTicks)
	ecfg.MaxClockDrift = n.cfg.MaxClockDrift
	ecfg.Seed = n.cfg.Seed
	if ecfg.Seed == 0 {
		ecfg.Seed = int64(n.cfg.ID)*7919 + time.Now().UnixNano()
	}
	ecfg.Seed += int64(id) * 104729
	ecfg.Logger = n.log
	return ecfg
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
	pcfg.Groups = uint32(n.cfg.Groups)
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
	n.ls.members = memberState{linked: make(map[engine.NodeID]string, len(peers)), unwanted: map[engine.NodeID]int{}}
	for id, addr := range peers {
		n.ls.members.linked[engine.NodeID(id)] = addr
	}
	// A restarted node's configuration may have moved on from Peers.
	n.syncPeers(0)
	p.Start()
	return nil
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
