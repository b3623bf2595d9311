package node

import (
	"encoding/json"
	"net/http"
)

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
