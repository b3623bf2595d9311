package engine

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// The seeded simulator: the evidence that the protocol is safe.
//
// A run drives N engines (1 to 7) tick by tick through a simulated
// network that drops, duplicates, delays (1..4 ticks, sometimes up to 30),
// hence reorders, and cuts links both ways (partitions) or one way; nodes
// crash, losing every Ready whose sync had not completed and every Ready
// written without a sync since the last one that completed (commit
// indexes, chosen entries: a thrifty follower's pushes), and restart from
// their memStorage alone. Syncs take a random 0..3 ticks and complete in
// order, so several Readies are often outstanding (the async persistence
// path). Clients with sessions issue puts and gets throughout and retry
// whatever has not returned 30 ticks after it was sent, to whichever node
// they believe leads; their history must be linearizable and every
// command execute exactly once (simclient_test.go). Nodes snapshot and
// compact at random intervals. Two seeds in three run with pre-prepare
// (Config.PrePrepare), the third without; two in three (another two) run
// with thrifty phase 2 (Config.Thrifty), at 5 to 7 nodes, or on some seeds
// from 3. An unsynced Ready may hold only chosen entries (checkUnsynced). The heartbeat and election
// timeouts are drawn per seed too. Gray failures (paused nodes, a slow
// disk, long replays) and Storage read errors are injected too
// (simgray_test.go), and two seeds in three ask nodes at random times to
// hand their leadership off to random targets (simhandoff_test.go).
//
// Work is bounded (simbudget_test.go): no node may have more messages in
// the network at once than inflightLimit (a message storm fails as such),
// and a seed that goes over its budget of ticks and messages fails at once
// with its number. Liveness and cost are measured per seed and their means
// bounded against today's engine (simperf_test.go).
//
// The checker (simcheck_test.go) never looks inside an engine: it learns
// acceptances from what nodes make durable and decisions from what they
// apply, and it checks at every event that at most one value is chosen per
// slot, that every applied value was chosen, that all nodes apply one
// sequence (prefixes of each other, across restarts and snapshots), that no
// ballot has two leaders and every leader's ballot was durably promised by a
// majority. After the faults stop, all nodes restart and a random minority
// is cut off: the majority must commit every pending command within
// settleTicks, and within three election timeouts no minority node may
// still lead. Then the cut heals and every submitted command must apply on
// every node within settleTicks (simrun_test.go).
//
// Every random choice comes from the seed, so a seed replays exactly; a
// failing seed is printed with the command that replays it.
//
// simscenario_test.go drives the same simulator through scripted fault
// scenarios (a follower cut off and rejoining, the leader crashing or cut
// off) and checks liveness properties the random runs cannot pin down.

var (
	simSeeds  = flag.Int("sim.seeds", 6000, "number of simulator seeds TestSim runs (CI's default; -sim.seeds=100000 for a long run)")
	simFirst  = flag.Uint64("sim.first", 1, "first simulator seed of the -sim.seeds run")
	simSeed   = flag.Uint64("sim.seed", 0, "run only this simulator seed (replay)")
	simSettle = flag.Int("sim.settle", 0, "override the ticks allowed after healing for liveness (0: default)")
	simTrace  = flag.Bool("sim.trace", false, "print the simulator's event trace of a failing seed")
)

// simOptions shape one simulated run. They are drawn from the seed, so a
// seed alone replays a run.
type simOptions struct {
	nodes       int
	faultTicks  int     // ticks with faults injected
	settleTicks int     // after healing, ticks allowed for every pending command to commit
	drop, dup   float64 // per-message probabilities
	maxDelay    int     // network delay in ticks: 1..maxDelay
	late        float64 // probability that a message is held up to 30 ticks instead
	maxPersist  int     // delay of a sync in ticks: 0..maxPersist
	crash       float64 // per-tick probability of crashing a node
	partition   float64 // per-tick probability of a new (symmetric) partition
	oneway      float64 // per-tick probability of cutting one direction of one link
	heal        float64 // per-tick probability of healing every cut
	snapEvery   int     // slots between snapshots (0: never)
	maxMsgBytes uint64
	maxInflight int
	// noPrePrepare turns Config.PrePrepare off (a third of the seeds), so
	// both ways to an election stay under the checks.
	noPrePrepare bool
	// thrifty turns Config.Thrifty on, with Config.ThriftyLateTicks
	// thriftyLate, from thriftyMin voters on (0: the engine's 5), after
	// probes of thriftyProbe commits (0: the engine's).
	thrifty                               bool
	thriftyLate, thriftyMin, thriftyProbe int
	// heartbeat and election are Config.HeartbeatTicks and ElectionTicks
	// (0: 2 and 10).
	heartbeat, election int
	// budgetMsgs and budgetTicks override the work budget's (0: budget's).
	budgetMsgs, budgetTicks int
	// clients is the number of client sessions (0: 3).
	clients int
	// Gray failures (simgray_test.go).
	pause          float64 // per-tick probability of pausing a node
	slowDisk       NodeID  // this node's syncs take 10..40 ticks more (0: none)
	replay         float64 // per-message probability of a copy replayed 100..500 ticks later
	compactPending bool    // snapshot and compact while Readies are still being synced
	storageFault   float64 // per-call probability that a Storage read fails
	// handoff is the per-tick probability of asking a node to hand its
	// leadership off (simhandoff_test.go).
	handoff float64
	// Reads without the log and clock rates (simread_test.go).
	directReads float64    // fraction of gets issued through Read (0: every get goes through the log)
	readModes   []ReadMode // the modes those reads use, one drawn per read
	drift       float64    // Config.MaxClockDrift; node clocks run at rates in [1-drift, 1]
	rates       []float64  // per node (index id-1) ticks per simulator step; nil: all 1
	// readTarget, when set, receives every Read (scenarios); 0: the
	// leader the clients believe in, or a random node.
	readTarget NodeID
	// writeTarget, when set, receives every proposal (scenarios).
	writeTarget NodeID
	// Membership changes (simmember_test.go): slots is the number of
	// node ids the run may use (0: nodes), of which 1..nodes start as
	// the voters; members runs a plan of changes during the faults;
	// eager proposes a plan's next change without waiting for the one
	// in flight.
	slots          int
	members, eager bool
}

// slotCount is the number of node ids of a run.
func (o simOptions) slotCount() int { return max(o.nodes, o.slots) }

func (o simOptions) clientCount() int {
	if o.clients == 0 {
		return 3
	}
	return o.clients
}

// simElection is the election timeout of a run with these options.
func (o simOptions) electionTicks() int {
	if o.election == 0 {
		return 10
	}
	return o.election
}

func (o simOptions) heartbeatTicks() int {
	if o.heartbeat == 0 {
		return 2
	}
	return o.heartbeat
}

func optionsForSeed(seed uint64) simOptions {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	o := simOptions{
		// Every size from 1 to 7: even sizes have their own quorum
		// arithmetic (a majority of 4 is 3, not 2).
		nodes:       1 + int(seed%7),
		faultTicks:  300 + r.IntN(300),
		drop:        []float64{0, 0.02, 0.1, 0.25}[r.IntN(4)],
		dup:         []float64{0, 0.05, 0.2}[r.IntN(3)],
		maxDelay:    1 + r.IntN(4),
		late:        []float64{0, 0, 0.01, 0.05}[r.IntN(4)],
		maxPersist:  r.IntN(4),
		crash:       []float64{0, 0.005, 0.02}[r.IntN(3)],
		partition:   []float64{0, 0.005, 0.02}[r.IntN(3)],
		oneway:      []float64{0, 0.01, 0.03}[r.IntN(3)],
		heal:        []float64{0.01, 0.05}[r.IntN(2)],
		snapEvery:   []int{0, 3, 10, 40}[r.IntN(4)],
		maxMsgBytes: []uint64{64, 1 << 20}[r.IntN(2)],
		maxInflight: []int{1, 4, 64}[r.IntN(3)],
		// From the seed, not r: the other options of a seed stay the
		// same with it on or off.
		noPrePrepare: seed%3 == 2,
		// Thrifty phase 2 (thrifty.go) on two seeds in three; it acts
		// at 5 to 7 nodes. Also from the seed, not r.
		thrifty: (seed/7)%3 != 0,
	}
	// A slot is late once it waited a round trip and a sync at their
	// slowest, plus 0..3 ticks (a runtime's ticks are coarse against
	// both; in the simulator they are its unit).
	o.thriftyLate = 2*o.maxDelay + o.maxPersist + int(seed/21)%4
	// Runs commit a few dozen slots: probe for 2..5 commits, not the
	// engine's 16, and on every other thrifty seed go thrifty at 3 and 4
	// voters too.
	o.thriftyProbe = 2 + int(seed/21)%4
	if (seed/7)%6 == 1 {
		o.thriftyMin = 3
	}
	// Timing from the seed too: heartbeat 1..3 ticks, election timeout
	// 10..22 ticks but at least four heartbeats (a timeout shorter than a
	// few network round trips is a misconfiguration, not a fault).
	o.heartbeat = 1 + r.IntN(3)
	o.election = max(10, 4*o.heartbeat) + r.IntN(13)
	// The liveness bounds scale with the election timeout: 600 ticks for
	// the default 10.
	o.settleTicks = 60 * o.election
	o.clients = 3 + r.IntN(simMaxClients-2)
	o.pause = []float64{0, 0, 0.002, 0.01}[r.IntN(4)]
	if r.IntN(3) == 0 {
		o.slowDisk = NodeID(1 + r.IntN(o.nodes))
	}
	o.replay = []float64{0, 0, 0.002, 0.01}[r.IntN(4)]
	o.compactPending = r.IntN(2) == 0
	o.storageFault = []float64{0, 0, 0.05, 0.3}[r.IntN(4)]
	o.handoff = handoffRate(seed)
	o.drawReads(r)
	return o
}

type simStats struct {
	msgs, crashes, partitions, leaders, snapshots, ticks int
	applied                                              int
	byType                                               [maxMessageType + 1]int
	installs                                             int
	lazy                                                 int // Readies written without a sync (MustSync false)
	pauses, replays, storageFaults                       int
	campaigns                                            int // ballots some Prepare was delivered for
	settle                                               int // ticks from healing to convergence
	majority                                             int // ticks the majority side took to commit everything
	sent                                                 int // messages handed to the network (copies included)
	maxInflight                                          int // most messages one node had in the network at once
	ops                                                  int // client commands whose result the client saw
	handoffs, handoffsDone                               int // hand-offs started; of those, how many the target completed
	reads                                                int // Reads answered with an index
	pushes                                               int // thrifty pushes of chosen entries delivered
}

type simMsg struct {
	at       int
	from, to NodeID
	body     []byte
	// counted: the message is in its sender's inflight count (until it is
	// due; a replayed copy or one held for a paused node is the
	// network's, not the sender's, backlog).
	counted bool
}

type simPending struct {
	rd Ready
	at int // tick at which its sync completes
}

type simNode struct {
	id       NodeID
	eng      *Engine
	st       *memStorage
	up       bool
	inc      int
	restarts int // tick to restart at, when down
	pending  []simPending
	smSlot   Slot
	smState  uint64 // the checker's hash of the applied log
	kv       simKV  // the state machine the clients see
	// After a restart: the durable commit index, which the first Ready's
	// Committed must reach (nothing committed is lost).
	mustReach   Slot
	pausedUntil int // the node neither ticks nor handles anything before this tick
	// volatile holds the Readies written without a sync (MustSync false:
	// a commit index that moved, chosen entries), in order: they become
	// durable with the next synced Ready and are lost in a crash before
	// that.
	volatile []Ready
	// Its clock (simread_test.go): the fraction of a tick accrued, and
	// the ticks it missed while paused, delivered when it resumes.
	clock  float64
	missed int
	// Reads answered by the engine, waiting for the state machine to
	// apply through their index.
	readWait []simReadWait
	// Membership (simmember_test.go): out is a node not running for
	// good (not added yet, or removed and stopped); join is the
	// configuration it was started with (Config.Peers and Learners);
	// conf the one in force at smSlot, recorded with its snapshots;
	// stopAt the tick at which the runtime stops a removed node.
	out    bool
	join   Membership
	conf   Membership
	stopAt int
}

type sim struct {
	t         testing.TB
	seed      uint64
	o         simOptions
	r         *rand.Rand
	now       int
	nodes     []*simNode
	peers     []NodeID
	net       []simMsg
	campaigns map[Ballot]bool
	// inflight counts, per sender (index id-1), its messages in net.
	inflight []int
	cut      map[[2]NodeID]bool
	chk      *checker

	nextCmd  uint64
	pending  map[uint64]bool // command ids issued whose result no client saw yet
	clients  []simClient
	history  []*simOp // commands whose result the client saw
	hint     NodeID
	reading  map[uint64]*simOp // Read ctx -> the client's get it serves
	readCtx  uint64            // the last Read ctx used
	faulting bool
	tracing  bool
	// Hand-offs (simhandoff_test.go) draw from hr, not r.
	hr          *rand.Rand
	lastHandoff simHandoff
	mb          simMembers
	stats       simStats
	trace       []string
}

func newSim(t testing.TB, seed uint64, o simOptions, tracing bool) *sim {
	s := &sim{
		t: t, seed: seed, o: o, tracing: tracing,
		r:         rand.New(rand.NewPCG(seed, 0xfa17)),
		hr:        rand.New(rand.NewPCG(seed, 0x4a0d0ff)),
		cut:       make(map[[2]NodeID]bool),
		pending:   make(map[uint64]bool),
		inflight:  make([]int, o.slotCount()),
		campaigns: make(map[Ballot]bool),
		reading:   make(map[uint64]*simOp),
	}
	for i := range o.clientCount() {
		s.clients = append(s.clients, simClient{id: uint32(i)})
	}
	for i := 1; i <= o.slotCount(); i++ {
		s.peers = append(s.peers, NodeID(i))
	}
	founders := newMembership(s.peers[:o.nodes], nil)
	s.chk = newChecker(founders)
	for _, id := range s.peers {
		n := &simNode{id: id, st: newMemStorage(), join: founders}
		n.st.fault = s.storageFault
		s.nodes = append(s.nodes, n)
		if int(id) > o.nodes {
			n.out = true // joins later, if the plan adds it
			continue
		}
		s.start(n)
	}
	return s
}

func (s *sim) tracef(format string, args ...any) {
	if !s.tracing {
		return
	}
	s.trace = append(s.trace, fmt.Sprintf("%5d ", s.now)+fmt.Sprintf(format, args...))
}

func (s *sim) config(id NodeID, inc int) Config {
	cfg := DefaultConfig()
	cfg.ID = id
	cfg.Peers = s.peers
	if int(id) <= len(s.nodes) {
		cfg.Peers, cfg.Learners = s.nodes[id-1].join.Voters, s.nodes[id-1].join.Learners
	}
	cfg.HeartbeatTicks = s.o.heartbeatTicks()
	cfg.ElectionTicks = s.o.electionTicks()
	cfg.MaxInflight = s.o.maxInflight
	cfg.MaxMsgBytes = s.o.maxMsgBytes
	cfg.PrePrepare = !s.o.noPrePrepare
	cfg.Thrifty = s.o.thrifty
	cfg.thriftyMinVoters, cfg.thriftyProbe = s.o.thriftyMin, s.o.thriftyProbe
	if s.o.thriftyLate > 0 {
		cfg.ThriftyLateTicks = s.o.thriftyLate
	}
	cfg.MaxClockDrift = s.o.drift
	cfg.Seed = int64(s.seed*131 + uint64(inc))
	return cfg
}

// start (re)creates n's engine from its durable state alone.
func (s *sim) start(n *simNode) {
	eng, err := New(s.config(n.id, n.inc), n.st)
	if errors.Is(err, errSimStorage) {
		// An injected read error: New must say so (ErrStorage) and the
		// node tries again later, from the same durable state.
		if !errors.Is(err, ErrStorage) {
			s.chk.fail("node %d: New returned a storage error not marked ErrStorage: %v", n.id, err)
		}
		s.tracef("node %d cannot start: %v", n.id, err)
		n.restarts = s.now + 5 + s.r.IntN(20)
		return
	}
	if err != nil {
		s.chk.fail("node %d: restart: %v", n.id, err)
		return
	}
	n.eng = eng
	n.up = true
	n.pending = nil
	n.smSlot, n.smState, n.kv = 0, 0, simKV{}
	n.conf = n.join
	if n.st.snapshot().Slot > 0 {
		s.restoreSnapshot(n, n.st.snapshot().Slot, n.st.snapshot().Data)
		if m := n.st.snapshot().Membership; !m.IsZero() {
			n.conf = m
		}
	}
	n.mustReach = max(n.st.hardState().Commit, n.st.snapshot().Slot)
	s.tracef("node %d starts (incarnation %d): hs %+v snapshot %d", n.id, n.inc, n.st.hardState(), n.st.snapshot().Slot)
}

func (s *sim) crash(n *simNode) {
	s.tracef("node %d crashes, losing %d unsynced readies", n.id, len(n.pending))
	n.up = false
	n.eng = nil
	n.pending = nil
	n.volatile = nil
	n.readWait = nil
	n.missed = 0
	n.inc++
	n.restarts = s.now + 5 + s.r.IntN(40)
	s.stats.crashes++
}

func (s *sim) send(from NodeID, m *Message) {
	if m.To == from || m.To == 0 {
		s.chk.fail("node %d sends %v to node %d", from, m.Type, m.To)
		return
	}
	if m.From != from {
		s.chk.fail("node %d sends a message marked from %d", from, m.From)
	}
	copies := 1
	if s.faulting {
		if s.r.Float64() < s.o.drop {
			copies = 0
		} else if s.r.Float64() < s.o.dup {
			copies = 2
		}
	}
	for range copies {
		body := m.MarshalAppend(make([]byte, 0, m.Size()))
		delay := 1 + s.r.IntN(s.o.maxDelay)
		if s.faulting && s.r.Float64() < s.o.late {
			delay = 1 + s.r.IntN(30)
		}
		s.net = append(s.net, simMsg{at: s.now + delay, from: from, to: m.To, body: body, counted: true})
		if s.faulting && s.r.Float64() < s.o.replay {
			s.net = append(s.net, simMsg{at: s.now + 100 + s.r.IntN(400), from: from, to: m.To, body: body})
			s.stats.replays++
		}
		s.stats.sent++
		s.inflight[from-1]++
		if c := s.inflight[from-1]; c > s.stats.maxInflight {
			s.stats.maxInflight = c
			if lim := s.inflightLimit(); c > lim {
				s.chk.fail("node %d has %d messages in flight, more than the bound %d (a message storm)", from, c, lim)
			}
		}
	}
}

func (s *sim) deliver() {
	var due []simMsg
	var held map[[2]NodeID]int
	kept := s.net[:0]
	for _, m := range s.net {
		if m.at <= s.now && m.counted {
			s.inflight[m.from-1]--
			m.counted = false
		}
		switch {
		case m.at > s.now:
			kept = append(kept, m)
		case !s.paused(s.nodes[m.to-1]):
			due = append(due, m)
		default:
			// For a paused node the network holds a link's first
			// simPausedBacklog messages and drops the rest, as a
			// transport's bounded queue to a stalled peer does.
			if held == nil {
				held = make(map[[2]NodeID]int)
			}
			link := [2]NodeID{m.from, m.to}
			if held[link] < simPausedBacklog {
				held[link]++
				kept = append(kept, m)
			}
		}
	}
	s.net = kept
	s.r.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	for _, dm := range due {
		n := s.nodes[dm.to-1]
		if !n.up || s.cut[[2]NodeID{dm.from, dm.to}] {
			continue
		}
		var m Message
		if err := m.Unmarshal(dm.body); err != nil {
			s.chk.fail("decode: %v", err)
			return
		}
		m.To = dm.to
		s.stats.msgs++
		s.stats.byType[m.Type]++
		if m.Chosen {
			s.stats.pushes++
		}
		if m.Type == MsgPrepare && !s.campaigns[m.Ballot] {
			s.campaigns[m.Ballot] = true
			s.stats.campaigns++
		}
		if s.tracing {
			s.tracef("%d->%d %v b=%v slot=%d commit=%d ents=%d%s", dm.from, dm.to, m.Type, m.Ballot, m.Slot, m.Commit, len(m.Entries), traceDetail(m))
		}
		if err := n.eng.Step(m); err != nil {
			// A node removed from the configuration, or one it does not
			// know yet, may still send; the receiver must refuse it.
			if !errors.Is(err, ErrBadMessage) || n.eng.Status().Membership.Contains(dm.from) {
				s.chk.fail("node %d: Step: %v", n.id, err)
			}
		}
	}
}

// process drains n's Ready queue and completes the syncs that are due.
func (s *sim) process(n *simNode) {
	for iter := 0; n.up && iter < 100; iter++ {
		progressed := false
		if n.eng.HasReady() {
			progressed = true
			rd := n.eng.Ready()
			for i := range rd.Messages {
				s.send(n.id, &rd.Messages[i])
			}
			if rd.Snapshot != nil {
				s.restoreSnapshot(n, rd.Snapshot.Slot, rd.Snapshot.Data)
				if !rd.Snapshot.Membership.IsZero() {
					n.conf = rd.Snapshot.Membership
				}
				s.tracef("node %d restores snapshot %d", n.id, n.smSlot)
				s.stats.installs++
			}
			for i := range rd.Committed {
				en := &rd.Committed[i]
				if en.Slot != n.smSlot+1 {
					s.chk.fail("node %d: Committed slot %d after applying %d", n.id, en.Slot, n.smSlot)
					return
				}
				n.smState = s.chk.apply(n.id, n.smState, en)
				n.smSlot = en.Slot
				s.execute(n, en)
				if en.Type == EntryConfChange {
					s.confApplied(n, en)
				}
			}
			s.readsAnswered(n, rd.Reads)
			if n.mustReach > 0 {
				if n.smSlot < n.mustReach {
					s.chk.fail("node %d restarted with durable commit %d but re-applied only through %d", n.id, n.mustReach, n.smSlot)
				}
				n.mustReach = 0
			}
			at := s.now
			if s.o.maxPersist > 0 && rd.MustSync {
				at += s.r.IntN(s.o.maxPersist + 1)
			}
			if n.id == s.o.slowDisk && rd.MustSync && s.faulting {
				at += 10 + s.r.IntN(31)
			}
			// Syncs complete in order.
			if len(n.pending) > 0 {
				at = max(at, n.pending[len(n.pending)-1].at)
			}
			n.pending = append(n.pending, simPending{rd: rd, at: at})
		}
		for len(n.pending) > 0 && n.pending[0].at <= s.now {
			progressed = true
			p := n.pending[0]
			n.pending = n.pending[1:]
			if !p.rd.MustSync {
				s.stats.lazy++
				if !s.checkUnsynced(n, &p.rd) {
					return
				}
				n.volatile = append(n.volatile, Ready{HardState: p.rd.HardState, SaveHardState: p.rd.SaveHardState, Entries: p.rd.Entries})
			} else {
				// A sync makes every earlier write durable too.
				for i := range n.volatile {
					if !s.persistDurable(n, &n.volatile[i]) {
						return
					}
				}
				n.volatile = nil
				if !s.persistDurable(n, &p.rd) {
					return
				}
			}
			for i := range p.rd.AfterSync {
				s.send(n.id, &p.rd.AfterSync[i])
			}
			n.eng.Advance(p.rd)
		}
		if !progressed {
			break
		}
	}
	if s.o.snapEvery > 0 && n.up && (len(n.pending) == 0 || s.o.compactPending) && n.smSlot >= n.st.snapshot().Slot+Slot(s.o.snapEvery) {
		n.st.SetSnapshot(Snapshot{Slot: n.smSlot, Data: n.snapshotData(), Membership: n.conf})
		s.stats.snapshots++
		if err := n.eng.Compact(n.smSlot); err != nil {
			s.chk.fail("node %d: Compact(%d): %v", n.id, n.smSlot, err)
		}
	}
}

// simCheckUnsyncedChosen turns on checkUnsynced's check that an unsynced
// Ready's entries are chosen; off, only the checker's safety checks can
// catch a vote written without a sync (simbugs_test.go).
var simCheckUnsyncedChosen = true

// checkUnsynced checks a Ready written without a sync: it may move the
// commit index and carry chosen entries, nothing else (a new promise, a
// snapshot or a vote must be durable before it is reported).
func (s *sim) checkUnsynced(n *simNode, rd *Ready) bool {
	if rd.Snapshot != nil {
		s.chk.fail("node %d: a Ready with a snapshot says it need not sync", n.id)
		return false
	}
	if rd.SaveHardState {
		promised := n.st.hardState().Promised
		for i := range n.volatile {
			if n.volatile[i].SaveHardState {
				promised = n.volatile[i].HardState.Promised
			}
		}
		if rd.HardState.Promised != promised && rd.HardState.Promised != n.st.hardState().Promised {
			s.chk.fail("node %d: a Ready changing the promise %v -> %v says it need not sync", n.id, promised, rd.HardState.Promised)
			return false
		}
	}
	for i := range rd.Entries {
		en := &rd.Entries[i]
		if !simCheckUnsyncedChosen {
			break
		}
		if v, ok := s.chk.chosen[en.Slot]; !ok || v != valueHash(en) {
			s.chk.fail("node %d: a Ready with entry %d (ballot %v), which is not chosen, says it need not sync", n.id, en.Slot, en.Ballot)
			return false
		}
	}
	return true
}

// persistDurable writes rd to n's storage, durably, and records its
// entries as durable acceptances.
func (s *sim) persistDurable(n *simNode, rd *Ready) bool {
	if err := n.st.persist(rd); err != nil {
		s.chk.fail("node %d: %v", n.id, err)
		return false
	}
	for i := range rd.Entries {
		s.chk.durableAccept(n.id, &rd.Entries[i])
	}
	return true
}

func (s *sim) faults() {
	live := 0
	for _, n := range s.nodes {
		if n.up {
			live++
		}
	}
	if s.r.Float64() < s.o.crash {
		n := s.nodes[s.r.IntN(len(s.nodes))]
		if n.up {
			s.crash(n)
		}
	}
	if s.r.Float64() < s.o.partition {
		clear(s.cut)
		side := make([]bool, len(s.nodes))
		for i := range side {
			side[i] = s.r.IntN(2) == 0
		}
		for i, a := range s.peers {
			for j, b := range s.peers {
				if side[i] != side[j] {
					s.cut[[2]NodeID{a, b}] = true
				}
			}
		}
		s.tracef("partition %v", side)
		s.stats.partitions++
	}
	if s.r.Float64() < s.o.oneway {
		a, b := s.peers[s.r.IntN(len(s.peers))], s.peers[s.r.IntN(len(s.peers))]
		if a != b {
			s.cut[[2]NodeID{a, b}] = true
			s.tracef("cut %d->%d", a, b)
		}
	}
	if s.r.Float64() < s.o.heal {
		clear(s.cut)
		s.tracef("heal")
	}
}

func (s *sim) restartDue(force bool) {
	for _, n := range s.nodes {
		if !n.up && !n.out && (force || s.now >= n.restarts) {
			s.start(n)
		}
	}
}

func (s *sim) step() {
	s.now++
	if s.now > s.budget().ticks || s.stats.sent > s.budget().msgs {
		s.chk.fail("work budget exceeded: %d ticks (budget %d), %d messages sent (budget %d)", s.now, s.budget().ticks, s.stats.sent, s.budget().msgs)
		return
	}
	if s.faulting {
		s.faults()
		s.grayFaults()
		s.maybeHandoff()
		if s.o.members {
			s.changeMembers()
		}
	}
	if s.o.members {
		s.stopRemoved()
	}
	s.restartDue(false)
	s.catchUp()
	s.runClients()
	for _, n := range s.nodes {
		if n.up {
			s.tick(n)
		}
	}
	s.deliver()
	for _, n := range s.nodes {
		if !s.paused(n) {
			s.process(n)
		}
	}
	s.checkLeaders()
}

func (s *sim) checkLeaders() {
	promised := make([]Ballot, len(s.nodes))
	for i, n := range s.nodes {
		promised[i] = n.st.hardState().Promised
	}
	for _, n := range s.nodes {
		if !n.up {
			continue
		}
		if st := n.eng.Status(); st.Role == RoleLeader {
			before := s.chk.newLeaders
			s.chk.leader(n.id, n.inc, st.Ballot, promised)
			if s.chk.newLeaders > before {
				s.noteLeader(n.id)
			}
		}
	}
}

func replayCommand(seed uint64) string {
	return fmt.Sprintf("go test -tags invariants -run 'TestSim$' ./engine/ -sim.seed=%d -sim.trace", seed)
}

func runSeed(t testing.TB, seed uint64) error {
	_, err := playSeed(t, seed)
	return err
}

// playSeed runs seed and returns what it measured.
func playSeed(t testing.TB, seed uint64) (simStats, error) {
	o := optionsForSeed(seed)
	if *simSettle > 0 {
		o.settleTicks = *simSettle
	}
	s := newSim(t, seed, o, *simTrace)
	err := s.run()
	if testing.Verbose() && err == nil {
		t.Logf("seed %d: %d nodes, %+v", seed, s.o.nodes, s.stats)
	}
	if err != nil && *simTrace {
		tail := s.trace[max(0, len(s.trace)-1000):]
		t.Logf("trace (last %d events):\n%s", len(tail), strings.Join(tail, "\n"))
	}
	return s.stats, err
}

// TestSim runs the seeded fault simulator over -sim.seeds seeds (groups of
// 1 to 7 nodes), or only -sim.seed, and reports the run's seeds per second
// and its liveness and cost summary (simperf_test.go).
func TestSim(t *testing.T) {
	seeds := make([]uint64, 0, *simSeeds)
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for i := range uint64(*simSeeds) {
			seeds = append(seeds, *simFirst+i)
		}
	}
	failed := 0
	var sum simSummary
	start := time.Now()
	for _, seed := range seeds {
		st, err := playSeed(t, seed)
		if err != nil {
			failed++
			msg := fmt.Sprintf("seed %d (%+v): %v\nreplay: %s", seed, optionsForSeed(seed), err, replayCommand(seed))
			// Also on stderr at once: a later seed that hangs the run
			// must not lose this one.
			fmt.Fprintf(os.Stderr, "FAIL %s\n", firstLine(msg))
			t.Errorf("%s", msg)
			if failed >= 5 {
				t.Fatal("stopping after 5 failing seeds")
			}
			continue
		}
		sum.add(optionsForSeed(seed), st)
	}
	t.Logf("%d seeds in %v (%.0f seeds/s): %s", len(seeds), time.Since(start).Round(time.Millisecond), float64(len(seeds))/time.Since(start).Seconds(), sum.String())
	if failed == 0 {
		sum.checkRegression(t)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// A seed must replay the same run, event for event: that is what makes a
// printed failing seed useful.
func TestSimDeterministic(t *testing.T) {
	for _, seed := range []uint64{3, 10, 37} {
		var traces [2]string
		for i := range traces {
			s := newSim(t, seed, optionsForSeed(seed), true)
			if err := s.run(); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			traces[i] = strings.Join(s.trace, "\n") + fmt.Sprintf("\n%+v", s.stats)
		}
		if traces[0] != traces[1] {
			t.Fatalf("seed %d ran differently twice", seed)
		}
		if len(traces[0]) < 1000 {
			t.Fatalf("seed %d: suspiciously short trace", seed)
		}
	}
}

// traceDetail is the trace's view of m's flags, snapshot and entries
// (slot, ballot, a short value hash).
func traceDetail(m Message) string {
	out := ""
	if m.Chosen {
		out += " chosen"
	}
	if m.Snapshot != nil {
		out += fmt.Sprintf(" snap=%d", m.Snapshot.Slot)
	}
	for _, en := range m.Entries {
		out += fmt.Sprintf(" [%d %v %x]", en.Slot, en.Ballot, valueHash(&en)&0xffff)
	}
	return out
}
