package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
	"github.com/mpaxos/mpaxos/net/transport"
	"github.com/mpaxos/mpaxos/store"
)

// group is the one Paxos group of the ledger. A service with many groups
// runs one engine per group over the same Peers and Store, each message
// and store key carrying its group.
const group engine.GroupID = 0

// framePaxos is the frame type of an engine message on the peer mesh
// (types below transport.FirstReservedType are ours).
const framePaxos byte = 1

// maxWaiters bounds the client calls one replica holds at once; more are
// answered 503 at once.
const maxWaiters = 10000

// ErrStopped is returned by calls on a replica that stopped (Close, or a
// store failure: see Err).
var ErrStopped = errors.New("replica: stopped")

// Replica is one ledger replica: engine, store, peer mesh and HTTP API.
type Replica struct {
	cfg   Config
	log   *slog.Logger
	st    *store.Store
	peers *transport.Peers
	srv   *http.Server
	wg    sync.WaitGroup // the HTTP server's Serve

	// Owned by loop (run) alone.
	eng      *engine.Engine
	sm       *ledger.Machine
	lastSnap engine.Slot
	members  engine.Membership
	waiters  map[sessionKey][]chan<- outcome
	leading  bool
	taken    int // snapshots taken
	installs int // snapshots installed from the leader

	inbox chan engine.Message // from the peers' reader goroutines
	props chan proposal       // from HTTP handlers
	calls chan func()         // run on loop: status and test inspection
	stop  chan struct{}
	done  chan struct{} // closed when loop has exited
	err   error         // why loop exited; read after done

	leader    atomic.Uint32 // the leader loop last saw (this ID when leading), 0 unknown
	closeOnce sync.Once
}

type sessionKey struct{ client, seq uint64 }

// proposal is one client call handed to loop.
type proposal struct {
	cmd []byte // encoded ledger.Command; the engine keeps it
	key sessionKey
	res chan<- outcome // buffered: loop never blocks on it
}

// outcome answers a proposal: its result once applied, or why not.
type outcome struct {
	res    ledger.Result
	err    error         // nil: res holds
	leader engine.NodeID // with a *engine.NotLeaderError
}

// Start opens the store, restores the ledger from its snapshot, starts the
// engine (which replays the log above the snapshot), the peer mesh, the
// HTTP API and the event loop.
func Start(cfg Config) (*Replica, error) {
	if err := cfg.Validate(); err != nil {
		if cfg.PeerListener != nil {
			cfg.PeerListener.Close()
		}
		if cfg.HTTPListener != nil {
			cfg.HTTPListener.Close()
		}
		return nil, err
	}
	r := &Replica{
		cfg:     cfg,
		log:     cfg.Logger,
		sm:      ledger.NewMachine(),
		waiters: map[sessionKey][]chan<- outcome{},
		inbox:   make(chan engine.Message, 4096),
		props:   make(chan proposal, 1024),
		calls:   make(chan func()),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("node", cfg.ID)
	ok := false
	defer func() {
		if !ok {
			r.closeParts()
		}
	}()
	if err := r.openStore(); err != nil {
		return nil, err
	}
	if err := r.startPeers(); err != nil {
		return nil, err
	}
	if err := r.startHTTP(); err != nil {
		return nil, err
	}
	ok = true
	go r.run()
	return r, nil
}

func (r *Replica) openStore() error {
	scfg := store.DefaultConfig()
	scfg.Dir = r.cfg.Dir
	scfg.Logger = r.log
	st, err := store.Open(scfg)
	if err != nil {
		return err
	}
	r.st = st
	lg := st.Log(group)
	snap, err := lg.Snapshot()
	if err != nil {
		return fmt.Errorf("replica: reading snapshot: %w", err)
	}
	if snap.Slot > 0 {
		if err := r.sm.RestoreBytes(snap.Data); err != nil {
			return fmt.Errorf("replica: snapshot at slot %d: %w", snap.Slot, err)
		}
		if r.sm.Applied() != snap.Slot {
			return fmt.Errorf("replica: snapshot at slot %d holds the ledger of slot %d", snap.Slot, r.sm.Applied())
		}
		r.lastSnap = snap.Slot
	}
	ecfg := engine.DefaultConfig()
	ecfg.ID = r.cfg.ID
	ecfg.Group = group
	for id := range r.cfg.Peers {
		ecfg.Peers = append(ecfg.Peers, id)
	}
	slices.Sort(ecfg.Peers)
	ecfg.ElectionTicks = r.cfg.ElectionTicks
	// A different seed every run (engine.Config.Seed says why); the
	// runtime, unlike the engine, may read the clock.
	ecfg.Seed = time.Now().UnixNano() ^ int64(r.cfg.ID)<<48
	ecfg.Logger = r.cfg.Logger // the engine names the node itself
	if ecfg.Logger == nil {
		ecfg.Logger = slog.Default()
	}
	if r.eng, err = engine.New(ecfg, lg); err != nil {
		return err
	}
	r.members = r.eng.Status().Membership
	return nil
}

func (r *Replica) startPeers() error {
	pcfg := transport.DefaultPeersConfig()
	pcfg.ClusterID = r.cfg.ClusterID
	pcfg.ID = uint64(r.cfg.ID)
	pcfg.Listen = r.cfg.Peers[r.cfg.ID]
	pcfg.Listener = r.cfg.PeerListener
	r.cfg.PeerListener = nil // Peers owns it now
	pcfg.Peers = map[uint64]string{}
	for id, addr := range r.cfg.Peers {
		if id != r.cfg.ID {
			pcfg.Peers[uint64(id)] = addr
		}
	}
	pcfg.Seed = uint64(r.cfg.ID)
	pcfg.MaxFrameSize = r.cfg.MaxPeerFrame
	pcfg.Logger = r.cfg.Logger // the transport names the node itself
	if pcfg.Logger == nil {
		pcfg.Logger = slog.Default()
	}
	p, err := transport.NewPeers(pcfg, r.onPeerFrame)
	if err != nil {
		return err
	}
	r.peers = p
	p.Start()
	return nil
}

func (r *Replica) startHTTP() error {
	ln := r.cfg.HTTPListener
	r.cfg.HTTPListener = nil
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", r.cfg.HTTP[r.cfg.ID]); err != nil {
			return fmt.Errorf("replica: client API: %w", err)
		}
	}
	ln = newLimitListener(ln, r.cfg.MaxClients)
	r.srv = &http.Server{
		Handler:           r.mux(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("client API stopped", "err", err)
		}
	}()
	return nil
}

// onPeerFrame runs on a peer connection's reader goroutine.
func (r *Replica) onPeerFrame(from uint64, typ byte, body []byte) {
	if typ != framePaxos {
		r.log.Warn("unknown peer frame type", "from", from, "type", typ)
		return
	}
	// body is the connection's until we return, and the engine keeps the
	// entries' Data it is stepped with: the message needs bytes of its own.
	own := make([]byte, len(body))
	copy(own, body)
	var m engine.Message
	if err := m.Unmarshal(own); err != nil {
		r.log.Warn("bad peer message", "from", from, "err", err)
		return
	}
	if uint64(m.From) != from || m.Group != group {
		r.log.Warn("peer message with wrong sender or group", "conn_from", from, "msg_from", m.From, "group", m.Group)
		return
	}
	m.To = r.cfg.ID
	select {
	case r.inbox <- m:
	case <-r.stop:
	}
}

// Close stops the replica: the HTTP API, the loop, the peer mesh and the
// store, in that order. What was acknowledged is durable already; Close
// flushes nothing, so it stands in for a crash as far as the log goes.
func (r *Replica) Close() error {
	var err error
	r.closeOnce.Do(func() {
		if r.srv != nil {
			r.srv.Close()
			r.wg.Wait()
		}
		close(r.stop)
		<-r.done
		err = r.closeParts()
	})
	return err
}

func (r *Replica) closeParts() error {
	var errs []error
	if r.peers != nil {
		errs = append(errs, r.peers.Close())
	}
	if r.cfg.PeerListener != nil {
		r.cfg.PeerListener.Close()
	}
	if r.cfg.HTTPListener != nil {
		r.cfg.HTTPListener.Close()
	}
	if r.st != nil {
		errs = append(errs, r.st.Close())
	}
	return errors.Join(errs...)
}

// Done is closed when the event loop has stopped (Close, or a store
// failure reported by Err).
func (r *Replica) Done() <-chan struct{} { return r.done }

// Err is why the loop stopped on its own (a failed store write), or nil.
func (r *Replica) Err() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

// Faults is the peer mesh's fault hook: tests partition a replica with it.
func (r *Replica) Faults() *transport.Faults { return r.peers.Faults() }

// ID returns the replica's node id.
func (r *Replica) ID() engine.NodeID { return r.cfg.ID }

// Leader returns the leader this replica knows (its own id when it leads),
// 0 when none.
func (r *Replica) Leader() engine.NodeID { return engine.NodeID(r.leader.Load()) }

// call runs f on the loop and waits for it.
func (r *Replica) call(f func()) error {
	ran := make(chan struct{})
	select {
	case r.calls <- func() { f(); close(ran) }:
	case <-r.done:
		return ErrStopped
	}
	<-ran
	return nil
}

// State is a consistent view of one replica's ledger, for status pages and
// tests.
type State struct {
	Status   engine.Status
	Applied  engine.Slot
	Hash     [32]byte
	Balances map[string]int64
	Deposits int64
	// Invariant is the ledger's Check: nil when balances sum to the
	// deposits and none is negative.
	Invariant error
	// SnapshotsTaken and SnapshotsInstalled count, since Start, the
	// snapshots this replica took of its ledger and those it installed
	// from the leader.
	SnapshotsTaken, SnapshotsInstalled int
}

// State returns the ledger as the loop sees it now.
func (r *Replica) State() (State, error) {
	var s State
	err := r.call(func() {
		s = State{
			Status:    r.eng.Status(),
			Applied:   r.sm.Applied(),
			Hash:      r.sm.Hash(),
			Balances:  r.sm.Balances(),
			Deposits:  r.sm.Deposits(),
			Invariant: r.sm.Check(),

			SnapshotsTaken:     r.taken,
			SnapshotsInstalled: r.installs,
		}
	})
	return s, err
}
