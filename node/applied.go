package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
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

// queryGroup is the group a request's ?group= names, 0 without one; it
// answers 400 itself (and returns false) for a group the node does not
// run.
func (n *Node) queryGroup(w http.ResponseWriter, r *http.Request) (*group, bool) {
	id := 0
	if v := r.URL.Query().Get("group"); v != "" {
		var err error
		if id, err = strconv.Atoi(v); err != nil {
			id = -1
		}
	}
	g, ok := n.groupByID(id)
	if !ok {
		http.Error(w, fmt.Sprintf("no group %q: this node runs groups 0..%d", r.URL.Query().Get("group"), len(n.groups)-1), http.StatusBadRequest)
	}
	return g, ok
}

func (n *Node) serveApplied(w http.ResponseWriter, r *http.Request) {
	if n.cfg.RecordApplied <= 0 || n.cfg.Null {
		http.Error(w, "not recording applied commands (start the node with -record-applied N)", http.StatusNotFound)
		return
	}
	g, ok := n.queryGroup(w, r)
	if !ok {
		return
	}
	var rep AppliedReport
	if !n.onLoop(func() {
		rep = AppliedReport{
			Node: uint16(n.cfg.ID), Group: int(g.id), Applied: uint64(g.applied), Total: g.appliedLog.total,
			Truncated: g.appliedLog.total > uint64(len(g.appliedLog.buf)),
			Commands:  g.appliedLog.ordered(), Deduplicated: n.stats.dups.Load(),
		}
	}) {
		http.Error(w, "node stopped", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}

func (n *Node) serveHash(w http.ResponseWriter, r *http.Request) {
	if n.cfg.Null {
		http.Error(w, "no state machine in null mode", http.StatusNotFound)
		return
	}
	g, ok := n.queryGroup(w, r)
	if !ok {
		return
	}
	var rep HashReport
	if !n.onLoop(func() {
		rep = HashReport{Node: uint16(n.cfg.ID), Group: int(g.id), Applied: uint64(g.applied), Hash: g.sm.Hash()}
	}) {
		http.Error(w, "node stopped", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}
