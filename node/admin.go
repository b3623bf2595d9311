package node

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"
)

// stats are counters loop and the writer publish for the admin endpoint.
type stats struct {
	commit     atomic.Uint64
	applied    atomic.Uint64
	ballot     atomic.Uint64
	batches    atomic.Uint64
	commands   atomic.Uint64
	syncs      atomic.Uint64
	loopWrites atomic.Uint64
	dups       atomic.Uint64
	dropped    atomic.Uint64
	badEntries atomic.Uint64
	// snapshotsCancelled counts own snapshots dropped because a newer one
	// was installed while they were being taken.
	snapshotsCancelled atomic.Uint64
}

// Status is what /status returns (JSON).
type Status struct {
	ID       uint16 `json:"id"`
	Role     string `json:"role"`
	Leader   uint16 `json:"leader"`
	Ballot   string `json:"ballot"`
	Commit   uint64 `json:"commit"`
	Applied  uint64 `json:"applied"`
	Batches  uint64 `json:"batches"`
	Commands uint64 `json:"commands"`
	Syncs    uint64 `json:"syncs"`
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
}

// PeerLag is one member's replication progress as the leader sees it.
type PeerLag struct {
	ID    uint16 `json:"id"`
	Match uint64 `json:"match"`
	Lag   uint64 `json:"lag"`
}

// Status returns a snapshot of the node's published state. Safe from any
// goroutine.
func (n *Node) Status() Status {
	role := "follower"
	leader := uint16(n.leader.Load())
	switch {
	case n.cfg.Null:
		// Null nodes replicate nothing; the lowest id plays leader so tools
		// that wait for one (the benchmark's launcher) proceed. Null says so.
		leader = uint16(n.cfg.members()[0])
		if leader == uint16(n.cfg.ID) {
			role = "leader"
		}
	case n.isLeader.Load():
		role = "leader"
	}
	b := n.stats.ballot.Load()
	var peers []PeerLag
	if p := n.peerLag.Load(); p != nil && role == "leader" {
		peers = *p
	}
	return Status{
		Peers:      peers,
		ID:         uint16(n.cfg.ID),
		Role:       role,
		Leader:     leader,
		Ballot:     fmt.Sprintf("%d.%d", b>>16, b&0xffff),
		Commit:     n.stats.commit.Load(),
		Applied:    n.stats.applied.Load(),
		Batches:    n.stats.batches.Load(),
		Commands:   n.stats.commands.Load(),
		Syncs:      n.stats.syncs.Load(),
		LoopWrites: n.stats.loopWrites.Load(),
		Dups:       n.stats.dups.Load(),
		Null:       n.cfg.Null,

		SnapshotsCancelled: n.stats.snapshotsCancelled.Load(),
		NoSpace:            n.noSpace.Load(),
	}
}

// FaultSpec is the body of POST /faults: the transport fault hook's
// settings, replacing the previous ones. An empty spec heals everything.
type FaultSpec struct {
	// Isolate drops all traffic to and from these peers.
	Isolate []uint16 `json:"isolate,omitempty"`
	// DropTo drops this node's outgoing traffic to these peers only
	// (a one-way partition).
	DropTo []uint16 `json:"drop_to,omitempty"`
	// DropFrom drops incoming traffic from these peers only.
	DropFrom []uint16 `json:"drop_from,omitempty"`
	// Delay and Jitter delay every outgoing frame (Go duration strings).
	Delay  string `json:"delay,omitempty"`
	Jitter string `json:"jitter,omitempty"`
	// DropRate drops this fraction (0..1) of outgoing frames.
	DropRate float64 `json:"drop_rate,omitempty"`
}

func (n *Node) startAdmin() error {
	ln, err := net.Listen("tcp", n.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("node: admin listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.Status())
	})
	mux.HandleFunc("GET /metrics", n.serveMetrics)
	mux.HandleFunc("GET /stages", n.serveStages)
	mux.HandleFunc("GET /applied", n.serveApplied)
	// Profiles of a node under load are how we learn where time goes.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /hash", n.serveHash)
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var spec FaultSpec
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			http.Error(w, "bad fault spec: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := n.SetFaults(spec); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	n.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go n.admin.Serve(ln)
	return nil
}

// SetFaults replaces the transport's fault settings.
func (n *Node) SetFaults(spec FaultSpec) error {
	if n.peers == nil {
		return fmt.Errorf("node: no peer transport in null mode")
	}
	var delay, jitter time.Duration
	var err error
	if spec.Delay != "" {
		if delay, err = time.ParseDuration(spec.Delay); err != nil {
			return fmt.Errorf("node: fault delay: %w", err)
		}
	}
	if spec.Jitter != "" {
		if jitter, err = time.ParseDuration(spec.Jitter); err != nil {
			return fmt.Errorf("node: fault jitter: %w", err)
		}
	}
	if spec.DropRate < 0 || spec.DropRate > 1 {
		return fmt.Errorf("node: drop rate %v outside 0..1", spec.DropRate)
	}
	f := n.peers.Faults()
	f.Heal()
	ids := func(v []uint16) []uint64 {
		out := make([]uint64, len(v))
		for i, id := range v {
			out[i] = uint64(id)
		}
		return out
	}
	if len(spec.Isolate) > 0 {
		f.Partition(ids(spec.Isolate)...)
	}
	for _, id := range spec.DropTo {
		f.OneWay(uint64(n.cfg.ID), uint64(id))
	}
	for _, id := range spec.DropFrom {
		f.OneWay(uint64(id), uint64(n.cfg.ID))
	}
	if delay > 0 || jitter > 0 {
		f.Delay(delay, jitter)
	}
	if spec.DropRate > 0 {
		f.DropRate(spec.DropRate)
	}
	n.log.Info("faults set", "spec", spec)
	return nil
}

func (n *Node) serveMetrics(w http.ResponseWriter, r *http.Request) {
	s := n.Status()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	lead := 0
	if s.Role == "leader" {
		lead = 1
	}
	fmt.Fprintf(w, "# HELP mpaxos_is_leader 1 if this node leads its group.\n# TYPE mpaxos_is_leader gauge\nmpaxos_is_leader %d\n", lead)
	fmt.Fprintf(w, "# HELP mpaxos_leader_id The leader this node knows (0 = none).\n# TYPE mpaxos_leader_id gauge\nmpaxos_leader_id %d\n", s.Leader)
	fmt.Fprintf(w, "# HELP mpaxos_ballot_round Round of the highest ballot promised.\n# TYPE mpaxos_ballot_round gauge\nmpaxos_ballot_round %d\n", n.stats.ballot.Load()>>16)
	fmt.Fprintf(w, "# HELP mpaxos_commit_slot Highest slot known chosen.\n# TYPE mpaxos_commit_slot gauge\nmpaxos_commit_slot %d\n", s.Commit)
	fmt.Fprintf(w, "# HELP mpaxos_applied_slot Highest slot applied to the state machine.\n# TYPE mpaxos_applied_slot gauge\nmpaxos_applied_slot %d\n", s.Applied)
	fmt.Fprintf(w, "# HELP mpaxos_batches_total Batches proposed as leader.\n# TYPE mpaxos_batches_total counter\nmpaxos_batches_total %d\n", s.Batches)
	fmt.Fprintf(w, "# HELP mpaxos_commands_total Commands proposed as leader.\n# TYPE mpaxos_commands_total counter\nmpaxos_commands_total %d\n", s.Commands)
	fmt.Fprintf(w, "# HELP mpaxos_syncs_total Store writes (one sync each when durable).\n# TYPE mpaxos_syncs_total counter\nmpaxos_syncs_total %d\n", s.Syncs)
	fmt.Fprintf(w, "# HELP mpaxos_loop_writes_total Store writes a follower made on its event loop instead of the writer goroutine.\n# TYPE mpaxos_loop_writes_total counter\nmpaxos_loop_writes_total %d\n", s.LoopWrites)
	fmt.Fprintf(w, "# HELP mpaxos_duplicate_commands_total Retried commands answered from the session table.\n# TYPE mpaxos_duplicate_commands_total counter\nmpaxos_duplicate_commands_total %d\n", s.Dups)
	fmt.Fprintf(w, "# HELP mpaxos_dropped_messages_total Peer messages dropped at a full send queue.\n# TYPE mpaxos_dropped_messages_total counter\nmpaxos_dropped_messages_total %d\n", n.stats.dropped.Load())
	fmt.Fprintf(w, "# HELP mpaxos_peer_lag_slots On the leader: slots a member's acknowledgements trail the last slot.\n# TYPE mpaxos_peer_lag_slots gauge\n")
	for _, p := range s.Peers {
		fmt.Fprintf(w, "mpaxos_peer_lag_slots{peer=\"%d\"} %d\n", p.ID, p.Lag)
	}
	fmt.Fprintf(w, "# HELP mpaxos_malformed_entries_total Committed batches that failed to decode.\n# TYPE mpaxos_malformed_entries_total counter\nmpaxos_malformed_entries_total %d\n", n.stats.badEntries.Load())
}
