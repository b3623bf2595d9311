package node

import (
	"encoding/json"
	"net/http"
)

// AppliedCommand is one executed (not deduplicated) command as GET /applied
// reports it.
type AppliedCommand struct {
	Slot   uint64 `json:"slot"`
	Client uint64 `json:"client"`
	Seq    uint64 `json:"seq"`
}

// appliedRing keeps the last executed commands (Config.RecordApplied of
// them). Owned by loop.
type appliedRing struct {
	buf   []AppliedCommand
	next  int
	total uint64
}

func (r *appliedRing) add(c AppliedCommand) {
	r.buf[r.next] = c
	r.next = (r.next + 1) % len(r.buf)
	r.total++
}

// ordered returns the recorded commands, oldest first.
func (r *appliedRing) ordered() []AppliedCommand {
	n := len(r.buf)
	if r.total < uint64(n) {
		return append([]AppliedCommand(nil), r.buf[:r.next]...)
	}
	out := make([]AppliedCommand, 0, n)
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// AppliedReport is what GET /applied returns.
type AppliedReport struct {
	Node uint16 `json:"node"`
	// Applied is the state machine's applied slot when the report was made.
	Applied uint64 `json:"applied"`
	// Total counts every command executed since the node started; Commands
	// holds the last of them (Truncated says some older ones were dropped).
	Total     uint64           `json:"total"`
	Truncated bool             `json:"truncated"`
	Commands  []AppliedCommand `json:"commands"`
	// Deduplicated counts retries answered from the session table.
	Deduplicated uint64 `json:"deduplicated"`
}

// HashReport is what GET /hash returns: the state machine's content hash at
// its applied slot, to compare replicas once the load has stopped.
type HashReport struct {
	Node    uint16 `json:"node"`
	Applied uint64 `json:"applied"`
	Hash    uint64 `json:"hash"`
}

func (n *Node) serveApplied(w http.ResponseWriter, r *http.Request) {
	if n.ls.appliedLog == nil {
		http.Error(w, "not recording applied commands (start the node with -record-applied N)", http.StatusNotFound)
		return
	}
	var rep AppliedReport
	if !n.onLoop(func() {
		rep = AppliedReport{
			Node: uint16(n.cfg.ID), Applied: uint64(n.ls.applied), Total: n.ls.appliedLog.total,
			Truncated: n.ls.appliedLog.total > uint64(len(n.ls.appliedLog.buf)),
			Commands:  n.ls.appliedLog.ordered(), Deduplicated: n.stats.dups.Load(),
		}
	}) {
		http.Error(w, "node stopped", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}

func (n *Node) serveHash(w http.ResponseWriter, r *http.Request) {
	if n.sm == nil {
		http.Error(w, "no state machine in null mode", http.StatusNotFound)
		return
	}
	var rep HashReport
	if !n.onLoop(func() {
		rep = HashReport{Node: uint16(n.cfg.ID), Applied: uint64(n.ls.applied), Hash: n.sm.Hash()}
	}) {
		http.Error(w, "node stopped", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}
