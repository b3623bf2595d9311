package node

import (
	"fmt"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/sm"
)

// machineType is the state machine the node runs: Config.Machine, or kv
// when it is the zero Type.
func (c *Config) machineType() sm.Type {
	if c.Machine.New == nil && c.Machine.Check == nil {
		return kv.Type()
	}
	return c.Machine
}

// newMachine makes group id's state machine behind a session table of the
// configured TTL.
func (n *Node) newMachine(id engine.GroupID) (*sm.Applier, error) {
	t := n.cfg.machineType()
	if err := t.Validate(); err != nil {
		return nil, err
	}
	m, err := t.New(int(id))
	if err != nil {
		return nil, fmt.Errorf("node: group %d: new %s machine: %w", id, t.Name, err)
	}
	return sm.NewApplier(m, n.cfg.SessionTTL)
}
