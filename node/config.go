package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/mpaxos/mpaxos/batch"
	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/internal/config"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/naive"
	"github.com/mpaxos/mpaxos/net/transport"
	"github.com/mpaxos/mpaxos/sm"
	"github.com/mpaxos/mpaxos/store"
)

// Config is one server's configuration.
type Config struct {
	// ID is this node's id, a key of Peers. Required.
	ID engine.NodeID
	// ClusterID must match on every member; the peer handshake refuses
	// nodes of another cluster. The default is 1.
	ClusterID uint64
	// Peers maps every member (this node included) to its peer address
	// (host:port). 1, 3, 5 or 7 members are typical. Required.
	Peers map[engine.NodeID]string
	// ClientAddr is where clients connect (host:port). Required.
	ClientAddr string
	// AdminAddr serves /status, /metrics and /faults over HTTP. Empty
	// disables it. An address without a host (":9001") binds to
	// 127.0.0.1, not to every interface: the admin port controls the node.
	// The default is empty.
	AdminAddr string
	// AdminToken is the bearer token the admin port's mutating endpoints
	// (POST /faults) require ("Authorization: Bearer <token>"), unless
	// the request comes with a client certificate (see AdminTLS). Empty,
	// and without AdminTLS, no request can mutate: they answer 403. The
	// default is empty.
	AdminToken string
	// AdminTLS, when its files are set, serves the admin port over HTTPS
	// with this certificate; a client certificate that chains to
	// AdminTLS.CA then authorizes the mutating endpoints as the token
	// does. Cert, Key and CA are all set or all empty. The default is
	// empty: plain HTTP.
	AdminTLS transport.CertFiles
	// EnableFaultHook serves POST /faults, which lets an authorized caller
	// partition, delay and drop this node's peer traffic. Off, POST
	// /faults answers 403 whatever the credentials. Benchmarks that inject
	// faults turn it on for the clusters they start. The default is false.
	EnableFaultHook bool
	// PeerTLS, when its files are set, runs the peer port over mutual TLS:
	// every node presents its certificate, which must chain to PeerTLS.CA
	// and name the node (a URI SAN mpaxos://cluster/<ClusterID>/node/<ID>,
	// see transport.Identity), and refuses a peer whose certificate does
	// not chain, has expired, or names another node or cluster than the
	// one it claims. Start refuses a certificate that does not name this
	// node. Cert, Key and CA are all set or all empty. The default is
	// empty: plain TCP.
	PeerTLS transport.CertFiles
	// ClientTLS, when its files are set, serves the client port over TLS
	// with this certificate; CA verifies client certificates when
	// ClientCertAuth is set. Cert, Key and CA are all set or all empty.
	// The default is empty: plain TCP.
	ClientTLS transport.CertFiles
	// ClientCertAuth makes the client port require a client certificate
	// that chains to ClientTLS.CA. It needs ClientTLS. The default is
	// false.
	ClientCertAuth bool
	// TLSWatch is how often the node checks its TLS files (those of
	// PeerTLS, ClientTLS and AdminTLS that are set) for a change of
	// modification time or size, and reloads them when one changed, as
	// ReloadTLS does. 0 turns the check off (ReloadTLS, and SIGHUP in
	// cmd/node, still work). The default is 10s; it must not be negative.
	TLSWatch time.Duration
	// Pprof serves /debug/pprof on the admin port (CPU profiles cost the
	// node while they run and show its internals). The default is false.
	Pprof bool
	// DataDir holds the Pebble store. Required unless Null is set.
	DataDir string
	// Sync makes every persisted group durable (fsync) before the node
	// acknowledges it. The default is true; false is for benchmarks that
	// say so in their results.
	Sync bool
	// Batch bounds the batches of client commands the leader proposes.
	Batch batch.Config
	// Pipeline is the number of proposed but not yet chosen slots the
	// leader allows (the engine's MaxInflight). The default is 64.
	Pipeline int
	// Tick is the engine's clock period. The default is 10ms.
	Tick time.Duration
	// Heartbeat is how often the leader speaks when idle; it is rounded to
	// whole ticks. The default is 50ms.
	Heartbeat time.Duration
	// ElectionTimeout is how long a follower waits without hearing from a
	// leader before it campaigns (randomized up to twice that); rounded to
	// whole ticks and at least 3 heartbeats. The default is 500ms.
	ElectionTimeout time.Duration
	// Protocol is the replication protocol: naive.Paxos (Multi-Paxos), or
	// one of package naive's schemes, which exist to show what goes wrong
	// without Paxos (see naive/doc.go); never for data that matters. The
	// default is naive.Paxos.
	Protocol naive.Protocol
	// PrePrepare makes a node whose election timeout passed first ask
	// whether a majority would promise it a higher ballot (engine
	// Config.PrePrepare), so a node that was cut off does not depose a
	// healthy leader when it rejoins. The default is true.
	PrePrepare bool
	// Thrifty makes a leader of 5 voters or more send its Accepts to its
	// fastest majority only; the other followers get the chosen entries
	// with the commit and write them without a sync (engine
	// Config.Thrifty). A follower of that majority that leaves a slot
	// uncommitted for a Heartbeat (at least 2 ticks) swaps places with one
	// of the others. The default is true; false sends every Accept to
	// every follower.
	Thrifty bool
	// SnapshotEvery is how many applied slots pass between snapshots of the
	// state machine (after which the log below is truncated). 0 disables
	// snapshots. The default is 10000.
	SnapshotEvery uint64
	// SnapshotBytes also starts a snapshot once this many bytes of log
	// (batch payloads) were applied since the last one, whichever of it and
	// SnapshotEvery comes first; 0 disables this trigger. With large batches
	// 10000 slots can be gigabytes of log. The default, 64 MiB, is a
	// quarter of the default MemTable, so most log entries are truncated
	// while still in a memtable and are never written to an sstable.
	SnapshotBytes uint64
	// MemTable is the size of the store's Pebble memtable in bytes, between
	// 1 MiB and 1 GiB. The log since the last snapshots lives there: a
	// memtable that holds several snapshot intervals lets the range
	// deletion of a snapshot drop the entries below it before they are
	// flushed, instead of writing them to sstables and compacting them
	// away later. It costs resident memory up to about twice its size (a
	// full memtable and the next). The default is 256 MiB.
	MemTable int
	// SpaceQuota is how many bytes of disk the store may use (Pebble's
	// files and the WAL spare). At or above it the leader refuses new
	// client writes with kv.StatusNoSpace (reads still work) until usage
	// falls below it again; the node checks every SpaceCheck. Leave
	// headroom below the disk's size: a memtable flush and a compaction
	// can each write about MemTable bytes after the check. The default is
	// 0, no quota.
	SpaceQuota int64
	// MinFreeBytes refuses new client writes the same way while the
	// filesystem holding DataDir has less than this free. The default is
	// 256 MiB; 0 turns the check off.
	MinFreeBytes int64
	// SpaceCheck is how often the node measures its disk use against
	// SpaceQuota and MinFreeBytes; rounded to whole ticks. The default is
	// 100ms.
	SpaceCheck time.Duration
	// SessionTTL is how many slots a client session survives without use
	// (sm.NewSessions); every member must use the same. The default is
	// sm.DefaultSessionTTL.
	SessionTTL uint64
	// Machine is the state machine every group runs (one per group, made
	// by Machine.New) and how client commands are checked for it; see
	// package sm. Every member must run the same. The zero Type means
	// kv.Type(), the key-value machine.
	Machine sm.Type
	// MaxFrame is the largest frame accepted on a peer connection, in
	// bytes. It must fit a snapshot of the state machine plus the log since
	// the last snapshot: a new leader's Promises and a lagging follower's
	// catch-up carry them in one message. The default is 256 MiB (a limit,
	// not an allocation: a frame's buffer grows with the bytes received,
	// and only after the peer's handshake).
	MaxFrame int
	// ClientMaxFrame is the largest frame accepted on the client port, in
	// bytes; a client sending a longer one is disconnected before its body
	// is read. Zero (the default) means the largest request whose command
	// fits one batch, kv.RequestHeaderSize + Batch.MaxCommand() (1 MiB
	// minus a few bytes with the default Batch.MaxBytes): the batcher
	// refuses any longer command, so a larger limit would only let
	// strangers make the node buffer bytes it must throw away. Otherwise
	// it must lie in [64 KiB, MaxFrame].
	ClientMaxFrame int
	// ClientIdleTimeout closes a client connection on which no frame has
	// arrived for this long; clients redial when they next have a request.
	// The default is 5 minutes (transport.DefaultClientIdleTimeout); it
	// must be positive.
	ClientIdleTimeout time.Duration
	// MaxClientConns bounds the open client connections; when it is
	// reached a new connection closes the longest-idle one. The default is
	// 4096. MaxClientConnsPerIP bounds those from one remote IP address (one
	// more is refused); the default is 256. Both must be at least 1.
	MaxClientConns, MaxClientConnsPerIP int
	// Null answers client requests at once, without replicating or storing
	// them: the ceiling the benchmark harness itself can reach.
	Null bool
	// RecordApplied, when positive, keeps the last RecordApplied executed
	// commands' (slot, client id, seq) in memory for GET /applied, so a
	// benchmark can check every node executed each client's commands in
	// order and once. The default is 0 (off).
	RecordApplied int
	// UnsafeNoPersist skips every store write while reporting it durable:
	// the node acknowledges what it never stored. It exists only so tests
	// can show the benchmark's lost-write check catches a broken node.
	UnsafeNoPersist bool
	// ReadMode is how a linearizable get that names no mode of its own
	// (kv.ReadDefault) is served: kv.ReadLog (proposed like a write),
	// kv.ReadIndex (a heartbeat round confirms leadership; no log entry,
	// no disk write) or kv.ReadLease (answered at once while the leader
	// holds a lease, which trusts MaxClockDrift). The default is
	// kv.ReadLease: the fastest, and safe while no node's clock runs more
	// than 1/(1-MaxClockDrift) times as fast as another's (see README.md).
	ReadMode kv.ReadMode
	// MaxClockDrift bounds how much the nodes' clock rates may differ
	// (engine Config.MaxClockDrift): a lease lasts ElectionTimeout x (1 -
	// MaxClockDrift) less a tick. Every member must use the same. The
	// default is 0.1, far above the drift of real monotonic clocks (parts
	// per million); it must lie in [0, 1).
	MaxClockDrift float64
	// Groups is how many independent Paxos groups the node runs, each with
	// its own engine, state machine, leader and log, over one peer
	// connection per node pair and one store. A key belongs to group
	// route.GroupOf(key, Groups). Every member must run the same number:
	// the peer handshake refuses a peer that runs another. 1 to MaxGroups;
	// the default is 1.
	Groups int
	// InitialMembers is, by group, the configuration each group starts
	// in when the store holds none of its own: for a node that joins a
	// running cluster (cmd/node -join), the configuration it was added
	// to, in which it is a learner. Every member must be a key of Peers.
	// Empty (the default): every member of Peers is a voter of every
	// group, the cluster's initial configuration. Otherwise it has one
	// entry per group.
	InitialMembers []engine.Membership
	// Seed feeds the engine's randomized election timeout. The default
	// (0) derives one from ID.
	Seed int64
	// Logger receives structured logs. The default is slog.Default().
	Logger *slog.Logger

	// hooks, set only by this package's tests, are called at points the
	// tests need to line up with.
	hooks *testHooks
}

// testHooks are the points of a node's work that its tests can stop at.
type testHooks struct {
	// beforeSnapshotSave runs on the snapshot goroutine once the node's own
	// snapshot at slot is encoded, before it is cancelled or saved.
	beforeSnapshotSave func(slot engine.Slot)
	// space adjusts each measurement of the store's space before the node
	// judges it.
	space func(*store.Space)
	// fs, if set, is the filesystem the store lives on (store.Config.FS),
	// for tests that inject disk errors.
	fs vfs.FS
	// readBudget, if positive, replaces readBudget (reads.go).
	readBudget int64
	// watchStarts runs when the TLS watcher's goroutine starts, before it
	// looks at the files.
	watchStarts func()
}

// DefaultConfig returns a Config with every default filled in; ID, Peers,
// ClientAddr and DataDir are left for the caller.
func DefaultConfig() Config {
	return Config{
		ClusterID:       1,
		Sync:            true,
		Batch:           batch.DefaultConfig(),
		Pipeline:        64,
		Tick:            10 * time.Millisecond,
		Heartbeat:       50 * time.Millisecond,
		ElectionTimeout: 500 * time.Millisecond,
		PrePrepare:      true,
		Thrifty:         true,
		Groups:          1,
		ReadMode:        kv.ReadLease,
		MaxClockDrift:   0.1,
		SnapshotEvery:   10000,
		SnapshotBytes:   64 << 20,
		MemTable:        256 << 20,
		SessionTTL:      kv.DefaultSessionTTL,
		MinFreeBytes:    256 << 20,
		SpaceCheck:      100 * time.Millisecond,
		MaxFrame:        256 << 20,
		TLSWatch:        10 * time.Second,

		ClientIdleTimeout:   transport.DefaultClientIdleTimeout,
		MaxClientConns:      4096,
		MaxClientConnsPerIP: 256,
	}
}

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("node: bad config")

// Validate reports every problem in c at once.
func (c Config) Validate() error {
	v := config.NewCollector(ErrConfig)
	if c.ID == 0 {
		v.Bad("ID", nil, "must be set (1..65535)")
	}
	if len(c.Peers) == 0 {
		v.Bad("Peers", nil, "must list every member")
	} else if _, ok := c.Peers[c.ID]; !ok && c.ID != 0 {
		v.Bad("Peers", nil, "must include this node's id %d", c.ID)
	}
	for id, addr := range c.Peers {
		if id == 0 {
			v.Bad("Peers", nil, "peer id 0 is reserved")
		}
		if addr == "" {
			v.Bad("Peers", nil, "peer %d has no address", id)
		}
	}
	if c.ClientAddr == "" {
		v.Bad("ClientAddr", nil, "must be set")
	}
	if c.DataDir == "" && !c.Null {
		v.Bad("DataDir", nil, "must be set")
	}
	v.Nested("Batch", c.Batch.Validate())
	if c.Protocol != naive.Paxos && !c.Protocol.Naive() {
		v.Bad("Protocol", c.Protocol, "is not a known protocol")
	}
	if c.Pipeline < 1 {
		v.Bad("Pipeline", c.Pipeline, "must be at least 1")
	}
	if c.Tick <= 0 {
		v.Bad("Tick", c.Tick, "must be positive")
	}
	if c.Heartbeat < c.Tick {
		v.Bad("Heartbeat", c.Heartbeat, "is shorter than one tick (%v)", c.Tick)
	}
	if c.ElectionTimeout < 3*c.Heartbeat {
		v.Bad("ElectionTimeout", c.ElectionTimeout, "must be at least 3 heartbeats (%v)", 3*c.Heartbeat)
	}
	if c.RecordApplied < 0 {
		v.Bad("RecordApplied", c.RecordApplied, "must not be negative")
	}
	if c.MemTable < 1<<20 || c.MemTable > 1<<30 {
		v.Bad("MemTable", c.MemTable, "is outside [1 MiB, 1 GiB]")
	}
	if c.SpaceQuota < 0 {
		v.Bad("SpaceQuota", c.SpaceQuota, "must not be negative")
	}
	if c.MinFreeBytes < 0 {
		v.Bad("MinFreeBytes", c.MinFreeBytes, "must not be negative")
	}
	if c.SpaceCheck <= 0 {
		v.Bad("SpaceCheck", c.SpaceCheck, "must be positive")
	}
	if c.MaxFrame < 1<<16 {
		v.Bad("MaxFrame", c.MaxFrame, "is below 64 KiB")
	}
	if c.ClientMaxFrame != 0 && (c.ClientMaxFrame < 1<<16 || c.ClientMaxFrame > c.MaxFrame) {
		v.Bad("ClientMaxFrame", c.ClientMaxFrame, "is outside [64 KiB, max frame %d]", c.MaxFrame)
	}
	if c.ClientIdleTimeout <= 0 {
		v.Bad("ClientIdleTimeout", c.ClientIdleTimeout, "must be positive")
	}
	for _, f := range []struct {
		name  string
		files transport.CertFiles
	}{{"PeerTLS", c.PeerTLS}, {"ClientTLS", c.ClientTLS}, {"AdminTLS", c.AdminTLS}} {
		if set := f.files.Cert != ""; set != (f.files.Key != "") || set != (f.files.CA != "") {
			v.Bad(f.name, nil, "needs a certificate, a key and a CA file, got %q, %q and %q", f.files.Cert, f.files.Key, f.files.CA)
		}
	}
	if c.TLSWatch < 0 {
		v.Bad("TLSWatch", c.TLSWatch, "must not be negative")
	}
	if c.ClientCertAuth && c.ClientTLS.Cert == "" {
		v.Bad("ClientCertAuth", nil, "needs client TLS files")
	}
	if c.AdminToken != "" && len(c.AdminToken) < minAdminToken {
		v.Bad("AdminToken", nil, "is %d bytes, shorter than %d", len(c.AdminToken), minAdminToken)
	}
	switch c.ReadMode {
	case kv.ReadLog, kv.ReadIndex, kv.ReadLease:
	default:
		v.Bad("ReadMode", c.ReadMode, "must be log, index or lease")
	}
	if !(c.MaxClockDrift >= 0 && c.MaxClockDrift < 1) {
		v.Bad("MaxClockDrift", c.MaxClockDrift, "must be in [0, 1)")
	}
	if c.Groups < 1 || c.Groups > MaxGroups {
		v.Bad("Groups", c.Groups, "must be 1..%d", MaxGroups)
	}
	if len(c.InitialMembers) > 0 && len(c.InitialMembers) != c.Groups {
		v.Bad("InitialMembers", len(c.InitialMembers), "must have one configuration per group (%d)", c.Groups)
	}
	for g, m := range c.InitialMembers {
		if !m.Contains(c.ID) {
			v.Bad("InitialMembers", g, "group %d's configuration %v does not name this node %d", g, m, c.ID)
		}
		if len(m.Voters) == 0 {
			v.Bad("InitialMembers", g, "group %d's configuration has no voter", g)
		}
		for _, l := range [][]engine.NodeID{m.Voters, m.Learners} {
			for _, id := range l {
				if _, ok := c.Peers[id]; !ok {
					v.Bad("InitialMembers", g, "group %d's member %d has no address in Peers", g, id)
				}
			}
		}
	}
	if c.MaxClientConns < 1 {
		v.Bad("MaxClientConns", c.MaxClientConns, "must be at least 1")
	}
	if c.MaxClientConnsPerIP < 1 {
		v.Bad("MaxClientConnsPerIP", c.MaxClientConnsPerIP, "must be at least 1")
	}
	return v.Err()
}

// addrsFree checks, before the store opens (and creates the data
// directory), that every address this node listens on can be bound, so a
// port already in use is a clear error that leaves nothing behind. The
// real listeners bind a moment later; losing that race is reported the
// same way. Port 0 (any free port) is not checked.
func (c Config) addrsFree() error {
	addrs := []struct{ what, addr string }{{"client", c.ClientAddr}, {"admin", adminListenAddr(c.AdminAddr)}}
	if !c.Null {
		addrs = append(addrs, struct{ what, addr string }{"peer", c.Peers[c.ID]})
	}
	for _, a := range addrs {
		if _, port, err := net.SplitHostPort(a.addr); a.addr == "" || err != nil || port == "0" {
			continue
		}
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			return fmt.Errorf("node: %s address %s: %w", a.what, a.addr, err)
		}
		ln.Close()
	}
	return nil
}

// MaxGroups is the most Paxos groups a node runs (Config.Groups). Each
// costs an engine, a state machine and a batcher, and the loop visits
// every group each pass.
const MaxGroups = 64

// minAdminToken is the shortest admin token Validate accepts: a guessable
// token is no gate.
const minAdminToken = 16

// clientServer returns the settings of the client port's listener.
func (c Config) clientServer() transport.ServerConfig {
	s := transport.DefaultServerConfig()
	s.Addr = c.ClientAddr
	s.Conn.MaxFrameSize = c.ClientMaxFrame
	if s.Conn.MaxFrameSize == 0 {
		s.Conn.MaxFrameSize = kv.RequestHeaderSize + c.Batch.MaxCommand()
	}
	s.Conn.IdleTimeout = c.ClientIdleTimeout
	s.MaxConns = c.MaxClientConns
	s.MaxConnsPerIP = c.MaxClientConnsPerIP
	s.Conn.Logger = c.Logger
	return s
}

// members returns the peer ids in ascending order.
func (c Config) members() []engine.NodeID {
	ids := make([]engine.NodeID, 0, len(c.Peers))
	for id := range c.Peers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (c Config) ticks(d time.Duration) int {
	n := int(d / c.Tick)
	if n < 1 {
		n = 1
	}
	return n
}
