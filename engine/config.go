package engine

import (
	"errors"
	"fmt"
	"log/slog"
)

// Config configures one Engine (one node's view of one Paxos group).
type Config struct {
	// ID is this node. It must be non-zero and appear in Peers.
	ID NodeID
	// Group is the Paxos group this engine runs. Messages of other groups
	// are rejected by Step. The default is 0.
	Group GroupID
	// Peers lists the voters of the group's initial configuration (the
	// one in force before any membership change is chosen), this node
	// included unless it is in Learners. The order does not matter; IDs
	// must be non-zero and distinct. Once the log or a snapshot carries a
	// configuration, that one is in force (ProposeConfChange). A node
	// that joins a running group is started with the configuration it
	// was added to: the voters in Peers, itself in Learners.
	Peers []NodeID
	// Learners lists the initial configuration's learners: they receive
	// the log but never vote. The default is none.
	Learners []NodeID
	// PromoteLag bounds, in slots, how far behind the commit index a
	// learner may be for ProposeConfChange to promote it. The default is
	// 64; it must be >= 0.
	PromoteLag int

	// HeartbeatTicks is how many Ticks pass between two heartbeats
	// (MsgCommit) of a leader. It is also how long a leader waits before
	// resending Accepts to a follower that stopped acknowledging. The
	// default is 1; it must be at least 1.
	HeartbeatTicks int
	// ElectionTicks is the base election timeout in Ticks: a follower that
	// hears no leader for a random duration in [ElectionTicks,
	// 2*ElectionTicks) starts phase 1, and a leader that has not heard from
	// a majority for ElectionTicks steps down. The default is 10; it must
	// be greater than HeartbeatTicks.
	ElectionTicks int
	// MaxInflight is the pipeline window in slots: the leader refuses
	// Propose (ErrPipelineFull) while that many proposed slots are not yet
	// committed. The default is 256; it must be at least 1.
	MaxInflight int
	// MaxMsgBytes bounds, in bytes of entry Data, what one Accept or
	// catch-up reply carries; larger backlogs are split across messages. A
	// single entry larger than this still goes out alone. Promises are not
	// split. The default is 1 MiB; it must be at least 1.
	MaxMsgBytes uint64
	// PrePrepare makes a node whose election timeout passes first ask its
	// peers whether they would promise a higher ballot (MsgPrePrepare),
	// and run phase 1 only if a majority would: a node cut off from the
	// others then raises no ballot, and does not force an election when it
	// rejoins (see preprepare.go). It costs one round trip per election.
	// The default is true.
	PrePrepare bool
	// MaxClockDrift bounds how much faster one node's Ticks may run than
	// another's, for leader leases (lease.go): no node's clock runs more
	// than 1/(1-MaxClockDrift) times as fast as any other's, measured over
	// an election timeout. A lease then lasts ElectionTicks*(1 -
	// MaxClockDrift) - LeaseMarginTicks ticks. The default is 0.1 (clocks
	// may run about 10% apart, far beyond what monotonic clocks do, to
	// cover a runtime's late timers); it must be in [0, 1).
	MaxClockDrift float64
	// LeaseMarginTicks is subtracted from a lease, in ticks, for the
	// discreteness of ticks: a round goes out between two Ticks and a
	// follower may receive it just before its own next Tick. The default
	// is 1; it must be at least 1. A lease of zero ticks or less is never
	// held: ReadLease then always falls back to ReadIndex.
	LeaseMarginTicks int
	// Thrifty makes the leader of a configuration of at least
	// 5 voters (thriftyMinVoters) send its Accepts to the fastest majority
	// only (itself and the peers that acknowledged fastest recently); the
	// other voters receive the chosen entries with the commit index
	// (MsgCommit with Chosen set), write them without a sync of their own
	// (Ready.MustSync false) and acknowledge nothing for them (thrifty.go).
	// A voter of that majority that leaves a slot uncommitted for
	// ThriftyLateTicks swaps places with one of the others; the leader
	// sends to every peer when its own write is the late one, and on
	// every new ballot (until it has watched who is fast), membership
	// change and hand-off. The default is true (5 nodes, 200 clients on
	// this machine: about 17% less node CPU per write and 17% more writes
	// a second; results/README.md, performance log).
	Thrifty bool
	// ThriftyLateTicks is, with Thrifty, how many Ticks a slot sent to the
	// thrifty majority may stay uncommitted before the leader swaps the
	// voters that did not acknowledge it (or falls back to every peer); a
	// slot sent just after a Tick waits up to one Tick more. The default
	// is 2; it must be at least 1.
	ThriftyLateTicks int
	// Seed seeds the engine's private random source (election timeouts,
	// follower read request ids). Give every node a different seed, and a
	// restarting node a different one than before (a follower read's id
	// must not match the answer to a request of an earlier run). The
	// default is 0.
	Seed int64
	// thriftyMinVoters and thriftyProbe, when not 0, replace the constants
	// of those names (thrifty.go): the simulator goes thrifty at 3 and 4
	// voters too, and sooner.
	thriftyMinVoters, thriftyProbe int
	// Logger receives role changes (never per-command events). nil logs
	// nothing.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; the caller still sets ID and Peers.
func DefaultConfig() Config {
	return Config{
		HeartbeatTicks:   1,
		ElectionTicks:    10,
		MaxInflight:      256,
		MaxMsgBytes:      1 << 20,
		PrePrepare:       true,
		MaxClockDrift:    0.1,
		LeaseMarginTicks: 1,
		PromoteLag:       64,
		ThriftyLateTicks: 2,
		Thrifty:          true,
	}
}

// Validate reports every problem of c at once, wrapped in ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	if c.ID == 0 {
		errs = append(errs, errors.New("ID must be non-zero"))
	}
	seen := make(map[NodeID]bool, len(c.Peers))
	for _, p := range c.Peers {
		if p == 0 {
			errs = append(errs, errors.New("Peers contains node 0"))
		} else if seen[p] {
			errs = append(errs, fmt.Errorf("Peers lists node %d twice", p))
		}
		seen[p] = true
	}
	for _, p := range c.Learners {
		if p == 0 {
			errs = append(errs, errors.New("Learners contains node 0"))
		} else if seen[p] {
			errs = append(errs, fmt.Errorf("node %d is listed twice in Peers and Learners", p))
		}
		seen[p] = true
	}
	if c.ID != 0 && !seen[c.ID] {
		errs = append(errs, fmt.Errorf("Peers does not contain ID %d (nor does Learners)", c.ID))
	}
	if len(c.Peers) == 0 {
		errs = append(errs, errors.New("Peers is empty: a group needs a voter"))
	}
	if len(c.Peers)+len(c.Learners) > maxMembers {
		errs = append(errs, fmt.Errorf("%d members, at most %d", len(c.Peers)+len(c.Learners), maxMembers))
	}
	if c.PromoteLag < 0 {
		errs = append(errs, fmt.Errorf("PromoteLag is %d, must be >= 0", c.PromoteLag))
	}
	if c.HeartbeatTicks < 1 {
		errs = append(errs, fmt.Errorf("HeartbeatTicks is %d, must be >= 1", c.HeartbeatTicks))
	}
	if c.ElectionTicks <= c.HeartbeatTicks {
		errs = append(errs, fmt.Errorf("ElectionTicks (%d) must be greater than HeartbeatTicks (%d)", c.ElectionTicks, c.HeartbeatTicks))
	}
	if c.MaxInflight < 1 {
		errs = append(errs, fmt.Errorf("MaxInflight is %d, must be >= 1", c.MaxInflight))
	}
	if c.MaxMsgBytes < 1 {
		errs = append(errs, errors.New("MaxMsgBytes must be >= 1"))
	}
	if !(c.MaxClockDrift >= 0 && c.MaxClockDrift < 1) {
		errs = append(errs, fmt.Errorf("MaxClockDrift is %v, must be in [0, 1)", c.MaxClockDrift))
	}
	if c.LeaseMarginTicks < 1 {
		errs = append(errs, fmt.Errorf("LeaseMarginTicks is %d, must be >= 1", c.LeaseMarginTicks))
	}
	if c.Thrifty && c.ThriftyLateTicks < 1 {
		errs = append(errs, fmt.Errorf("ThriftyLateTicks is %d, must be >= 1 with Thrifty", c.ThriftyLateTicks))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}
