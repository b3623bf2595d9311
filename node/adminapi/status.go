package adminapi

// Status is what GET /status returns.
type Status struct {
	ID       uint16 `json:"id"`
	Role     string `json:"role"`   // "leader", "follower" or "candidate"
	Leader   uint16 `json:"leader"` // the node's leader hint; 0 unknown
	Ballot   string `json:"ballot"`
	Commit   uint64 `json:"commit"`
	Applied  uint64 `json:"applied"`
	Batches  uint64 `json:"batches"`
	Commands uint64 `json:"commands"`
	// Acked counts the commands this node executed and answered to a
	// waiting client (as leader or primary): which nodes acknowledged
	// writes when, for the split-brain check of naive schemes.
	Acked uint64 `json:"acked"`
	Syncs uint64 `json:"syncs"`
	// LoopWrites counts the store writes made on the event loop itself
	// (a follower's); the rest went through the writer.
	LoopWrites uint64 `json:"loop_writes"`
	Dups       uint64 `json:"dups"`
	Null       bool   `json:"null"`
	// SnapshotsCancelled counts this node's own snapshots dropped because
	// a newer one from the leader was installed while they were taken.
	SnapshotsCancelled uint64 `json:"snapshots_cancelled"`
	// NoSpace: the store is out of space (quota or free bytes); as leader
	// the node refuses client writes.
	NoSpace bool `json:"no_space"`
	// Peers is, on the leader, each member's acknowledged slot and how far
	// it trails the leader's last slot.
	Peers []PeerLag `json:"peers,omitempty"`
	// GroupStatus is every Paxos group's state on this node, by group id
	// (Settings.Groups of them). The single-group fields above (Role,
	// Leader, Ballot, Commit, Applied, Peers) are group 0's.
	GroupStatus []GroupStatus `json:"group_status,omitempty"`
	// Handoffs counts the leadership hand-offs this node started to
	// return a group to its preferred node.
	Handoffs uint64 `json:"handoffs"`
	// Removed: no group's configuration names this node any more (GET
	// /members): it serves nothing, clients get kv.StatusRemoved, and it
	// can be stopped.
	Removed bool `json:"removed"`

	Settings
}

// GroupStatus is one Paxos group's state on a node.
type GroupStatus struct {
	Group   int    `json:"group"`
	Role    string `json:"role"`   // "leader" or "follower" (of this group)
	Leader  uint16 `json:"leader"` // this group's leader hint; 0 unknown
	Ballot  string `json:"ballot"`
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	// Removed: the group's configuration no longer names this node.
	Removed bool `json:"removed"`
}

// Leaders returns each group's leader as s reports it (0: unknown), by
// group id; for a node without GroupStatus, group 0's Leader alone.
func (s Status) Leaders() []uint16 {
	if len(s.GroupStatus) == 0 {
		return []uint16{s.Leader}
	}
	out := make([]uint16, len(s.GroupStatus))
	for i, g := range s.GroupStatus {
		out[i] = g.Leader
	}
	return out
}

// Settings are the node's effective settings, defaults resolved: what a
// benchmark records as measured, rather than the flags it passed or
// assumed.
type Settings struct {
	// Sync: every persisted group is made durable (fsync) before the node
	// acknowledges it. False with -sync=false, and in null mode.
	Sync bool `json:"sync"`
	// BatchSize, BatchBytes and BatchDelayNs bound a proposed batch
	// (commands, bytes, ns).
	BatchSize    int   `json:"batch_size"`
	BatchBytes   int   `json:"batch_bytes"`
	BatchDelayNs int64 `json:"batch_delay_ns"`
	// Batching is "adaptive" (batches go out whenever the pipeline has
	// room; BatchDelayNs is not used) or "fixed" (a batch waits until full
	// or BatchDelayNs).
	Batching string `json:"batching"`
	// Pipeline is the most proposed, not yet chosen slots.
	Pipeline int `json:"pipeline"`
	// Groups is the number of Paxos groups the node hosts; >= 1 on a node
	// that reports its settings.
	Groups int `json:"groups"`
	// ReadMode is how a linearizable get that names no mode is served:
	// "log" (through the log like writes), "index" (a heartbeat round) or
	// "lease" (at once under the leader's lease); see kv.ReadMode.
	ReadMode string `json:"read_mode"`
}

// Reported says whether s came from a node that reports its settings
// (older nodes sent none, and zero values would read as settings).
func (s Settings) Reported() bool { return s.Groups > 0 }

// Durability names the durability mode as results record it: "sync",
// "nosync" or "null".
func (s Status) Durability() string {
	switch {
	case s.Null:
		return "null"
	case s.Sync:
		return "sync"
	}
	return "nosync"
}

// PeerLag is one member's replication progress as the leader sees it.
type PeerLag struct {
	ID    uint16 `json:"id"`
	Match uint64 `json:"match"`
	Lag   uint64 `json:"lag"`
}
