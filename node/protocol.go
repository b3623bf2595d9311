package node

import (
	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/naive"
)

// protocol is what the loop drives: exactly the methods node calls.
// *engine.Engine (Multi-Paxos) satisfies it, and so do the naive schemes
// of package naive, which Config.Protocol selects for comparisons.
type protocol interface {
	Step(m engine.Message) error
	Tick()
	Propose(data []byte) error
	CanPropose() bool
	Read(ctx uint64, mode engine.ReadMode) error
	HasReady() bool
	Ready() engine.Ready
	Advance(rd engine.Ready)
	Compact(through engine.Slot) error
	Status() engine.Status
	StatusInto(s *engine.Status)
}

var (
	_ protocol = (*engine.Engine)(nil)
	_ protocol = (*naive.Engine)(nil)
)

// newProtocol builds the engine Config.Protocol names from the Paxos
// engine's config, over the node's log.
func newProtocol(p naive.Protocol, ecfg engine.Config, lg engine.Storage) (protocol, error) {
	if p == naive.Paxos {
		return engine.New(ecfg, lg)
	}
	ncfg := naive.DefaultConfig()
	ncfg.Protocol = p
	ncfg.ID = ecfg.ID
	ncfg.Group = ecfg.Group
	ncfg.Peers = ecfg.Peers
	ncfg.HeartbeatTicks = ecfg.HeartbeatTicks
	ncfg.ElectionTicks = ecfg.ElectionTicks
	ncfg.MaxInflight = ecfg.MaxInflight
	ncfg.Incarnation = uint64(ecfg.Seed)
	ncfg.Logger = ecfg.Logger
	return naive.New(ncfg, lg)
}
