package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/naive"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// The admin API of membership (members.go): GET /members reports every
// group's configuration, POST /members changes one node in each of the
// groups it names, one group at a time, each change waiting until the
// group chose it. A refusal changes nothing in the group refused (the
// groups before it did change: MemberError.Done) and says why:
//
//	400 a malformed change (unknown op, node 0, an add without address,
//	    a group the node does not run), or a naive protocol
//	409 the engine refused it (engine.ErrMemberExists, ErrNotMember,
//	    ErrNotLearner, ErrConfChangeInProgress, ErrLearnerBehind,
//	    ErrQuorumLost): the group's configuration does not allow it now
//	421 this node does not lead the group, or handed its leadership off
//	    to be removed: the body names the leader (and its admin address
//	    when the configuration records it)
//	503 the change was dropped by a change of leader, or a hand-off
//	    failed: retry (GET /members shows whether it took effect)
//	504 it was not chosen within memberWait
type (
	// Members is what GET /members returns.
	Members = adminapi.Members
	// MemberChange is the body of POST /members.
	MemberChange = adminapi.MemberChange
)

// memberWait bounds how long POST /members waits for one group's change
// to be chosen, or a hand-off before a removal to finish.
const memberWait = 20 * time.Second

// Members returns every group's configuration as this node knows it.
func (n *Node) Members() (Members, bool) {
	var m Members
	ok := n.onLoop(func() { m = n.membersOnLoop() })
	return m, ok
}

func (n *Node) membersOnLoop() Members {
	out := Members{Node: uint16(n.cfg.ID), Removed: n.removed(), Groups: make([]adminapi.GroupMembers, 0, len(n.groups))}
	for _, g := range n.groups {
		st := g.eng.Status()
		match := make(map[engine.NodeID]engine.Slot, len(st.Match))
		for _, pm := range st.Match {
			match[pm.ID] = pm.Match
		}
		list := func(m engine.Membership) []adminapi.Member {
			ms := make([]adminapi.Member, 0, len(m.Voters)+len(m.Learners))
			for _, l := range []struct {
				ids  []engine.NodeID
				role string
			}{{m.Voters, adminapi.RoleVoter}, {m.Learners, adminapi.RoleLearner}} {
				for _, id := range l.ids {
					a := n.addrOf(g, id)
					ms = append(ms, adminapi.Member{ID: uint16(id), Role: l.role, Addr: a.peer, Admin: a.admin, Match: uint64(match[id])})
				}
			}
			return ms
		}
		gm := adminapi.GroupMembers{Group: int(g.id), Leader: uint16(st.Leader), Slot: uint64(st.MembershipSlot),
			Members: list(st.Membership), Pending: list(st.PendingConf)}
		out.Groups = append(out.Groups, gm)
	}
	return out
}

func (n *Node) serveMembers(w http.ResponseWriter, r *http.Request) {
	if n.cfg.Null {
		http.Error(w, "no groups in null mode", http.StatusNotFound)
		return
	}
	m, ok := n.Members()
	if !ok {
		http.Error(w, "node stopped", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (n *Node) serveMembersChange(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, group int, format string, args ...any) {
		writeJSON(w, status, adminapi.MemberError{Error: fmt.Sprintf(format, args...), Group: group})
	}
	if n.cfg.Null || n.cfg.Protocol != naive.Paxos {
		refuse(http.StatusBadRequest, 0, "membership changes need the paxos protocol, and a node that is not null")
		return
	}
	var ch MemberChange
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil {
		refuse(http.StatusBadRequest, 0, "bad member change: %v", err)
		return
	}
	cc, err := confChangeOf(ch)
	if err != nil {
		refuse(http.StatusBadRequest, 0, "%v", err)
		return
	}
	groups, ok := adminapi.GroupsFrom(ch.Groups, len(n.groups))
	if !ok {
		refuse(http.StatusBadRequest, 0, "groups %v: the node runs groups 0..%d", ch.Groups, len(n.groups)-1)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), memberWait)
	defer cancel()
	done := []int{}
	for _, gid := range groups {
		status, me := n.changeGroup(ctx, n.groups[gid], ch, cc)
		if status != http.StatusOK {
			me.Group, me.Done = gid, done
			n.log.Info("membership change refused", "group", gid, "op", ch.Op, "peer", ch.ID, "status", status, "err", me.Error)
			writeJSON(w, status, me)
			return
		}
		done = append(done, gid)
	}
	m, ok := n.Members()
	if !ok {
		refuse(http.StatusServiceUnavailable, 0, "node stopped")
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// confChangeOf checks a MemberChange and makes it the engine's change
// (addresses are filled in per group, on loop).
func confChangeOf(ch MemberChange) (engine.ConfChange, error) {
	cc := engine.ConfChange{Node: engine.NodeID(ch.ID)}
	switch ch.Op {
	case adminapi.OpAdd:
		cc.Type = engine.AddLearner
		if ch.Addr == "" {
			return cc, fmt.Errorf("add of node %d: addr (its peer address) is required", ch.ID)
		}
		if len(memberAddr{ch.Addr, ch.Admin}.String()) > 255 {
			return cc, fmt.Errorf("add of node %d: addresses longer than 255 bytes", ch.ID)
		}
	case adminapi.OpPromote:
		cc.Type = engine.Promote
	case adminapi.OpRemove:
		cc.Type = engine.Remove
	default:
		return cc, fmt.Errorf("op %q: want %s, %s or %s", ch.Op, adminapi.OpAdd, adminapi.OpPromote, adminapi.OpRemove)
	}
	if ch.ID == 0 {
		return cc, errors.New("id: node 0 is no node")
	}
	return cc, nil
}

// reflects reports whether m already holds the change cc makes.
func reflects(m engine.Membership, cc engine.ConfChange) bool {
	switch cc.Type {
	case engine.AddLearner:
		return m.Contains(cc.Node)
	case engine.Promote:
		return m.IsVoter(cc.Node)
	}
	return !m.Contains(cc.Node)
}

// memberChange is one group's change in progress, owned by loop.
type memberChange struct {
	cc       engine.ConfChange
	proposed bool
	// handingOff: the change removes this node, which led the group and
	// handed its leadership off first.
	handingOff bool
}

// changeGroup makes ch in g and waits until g chose it, polling the loop
// once a tick.
func (n *Node) changeGroup(ctx context.Context, g *group, ch MemberChange, cc engine.ConfChange) (int, adminapi.MemberError) {
	mc := &memberChange{cc: cc}
	if cc.Type == engine.AddLearner {
		mc.cc.Addrs = map[engine.NodeID]string{cc.Node: memberAddr{ch.Addr, ch.Admin}.String()}
	}
	t := time.NewTicker(n.cfg.Tick)
	defer t.Stop()
	for {
		var status int
		var me adminapi.MemberError
		if !n.onLoop(func() { status, me = n.stepMemberChange(g, mc) }) {
			return http.StatusServiceUnavailable, adminapi.MemberError{Error: "node stopped"}
		}
		if status != 0 {
			return status, me
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			what := "chosen"
			if mc.handingOff {
				what = "handed off"
			}
			return http.StatusGatewayTimeout, adminapi.MemberError{Error: fmt.Sprintf("%v %d not %s within %v: %v (GET /members shows whether it took effect)", cc.Type, cc.Node, what, memberWait, ctx.Err())}
		}
	}
}

// stepMemberChange moves mc on by what g's engine says now; status 0
// means "not yet".
func (n *Node) stepMemberChange(g *group, mc *memberChange) (int, adminapi.MemberError) {
	eng := g.eng.(*engine.Engine)
	st := eng.Status()
	misdirected := func(leader engine.NodeID, format string, args ...any) (int, adminapi.MemberError) {
		me := adminapi.MemberError{Error: fmt.Sprintf(format, args...), Leader: uint16(leader)}
		if leader != 0 {
			me.LeaderAdmin = n.addrOf(g, leader).admin
		}
		return http.StatusMisdirectedRequest, me
	}
	if mc.proposed {
		switch {
		case reflects(st.Membership, mc.cc):
			return http.StatusOK, adminapi.MemberError{}
		case st.Role != engine.RoleLeader || st.PendingConf.IsZero():
			return http.StatusServiceUnavailable, adminapi.MemberError{Error: fmt.Sprintf("%v %d was dropped by a change of leader (leader now %d): retry; GET /members shows whether it took effect", mc.cc.Type, mc.cc.Node, st.Leader), Leader: uint16(st.Leader)}
		}
		return 0, adminapi.MemberError{}
	}
	if mc.handingOff {
		switch {
		case st.Role != engine.RoleLeader && st.Leader != 0 && st.Leader != n.cfg.ID:
			return misdirected(st.Leader, "node %d handed its leadership to node %d to be removed: send the removal there", n.cfg.ID, st.Leader)
		case st.Role == engine.RoleLeader && st.HandoffTo == 0:
			return http.StatusServiceUnavailable, adminapi.MemberError{Error: "the hand-off before removing the leader failed: retry"}
		}
		return 0, adminapi.MemberError{}
	}
	if st.Role != engine.RoleLeader {
		return misdirected(st.Leader, "node %d does not lead group %d", n.cfg.ID, g.id)
	}
	if st.HandoffTo != 0 {
		return misdirected(st.HandoffTo, "node %d is handing group %d's leadership to node %d", n.cfg.ID, g.id, st.HandoffTo)
	}
	if mc.cc.Type == engine.Remove && mc.cc.Node == n.cfg.ID && st.Membership.Contains(n.cfg.ID) {
		to := handoffTarget(st)
		if to == 0 {
			return http.StatusConflict, adminapi.MemberError{Error: fmt.Sprintf("%v: node %d is the group's only voter", engine.ErrQuorumLost, n.cfg.ID)}
		}
		if err := eng.TransferLeadership(to); err != nil {
			return http.StatusServiceUnavailable, adminapi.MemberError{Error: fmt.Sprintf("handing leadership to node %d before removing this one: %v", to, err)}
		}
		n.log.Info("handing leadership off before this node's removal", "group", g.id, "to", to)
		mc.handingOff = true
		return 0, adminapi.MemberError{}
	}
	cc := mc.cc
	cc.Addrs = n.recordAddrs(g, st.Membership, mc.cc.Addrs)
	err := eng.ProposeConfChange(cc)
	var nl *engine.NotLeaderError
	switch {
	case err == nil:
		mc.proposed = true
		n.log.Info("membership change proposed", "group", g.id, "change", cc.Type, "peer", cc.Node)
		return 0, adminapi.MemberError{}
	case errors.Is(err, engine.ErrConfChangeTooEarly):
		// The engine asks for an entry of this ballot first: an empty
		// batch (apply skips it) is one.
		if eng.CanPropose() {
			_ = eng.Propose(nil)
		}
		return 0, adminapi.MemberError{}
	case errors.As(err, &nl):
		return misdirected(nl.Leader, "%v", err)
	case errors.Is(err, engine.ErrInvalidConfChange):
		return http.StatusBadRequest, adminapi.MemberError{Error: err.Error()}
	}
	return http.StatusConflict, adminapi.MemberError{Error: err.Error()}
}

// recordAddrs is the addresses a change in g records: extra, and this
// node's knowledge of every member of m whose address m lacks (its own
// with its admin address).
func (n *Node) recordAddrs(g *group, m engine.Membership, extra map[engine.NodeID]string) map[engine.NodeID]string {
	out := make(map[engine.NodeID]string, len(extra)+len(m.Voters)+len(m.Learners))
	for _, l := range [][]engine.NodeID{m.Voters, m.Learners} {
		for _, id := range l {
			rec := parseMemberAddr(m.Addrs[id])
			a := n.addrOf(g, id)
			if a.peer != "" && (rec.peer == "" || rec.admin == "" && a.admin != "") {
				out[id] = a.String()
			}
		}
	}
	for id, a := range extra {
		out[id] = a
	}
	return out
}

// handoffTarget is the voter other than the leader that acknowledged the
// most, 0 when there is none.
func handoffTarget(st engine.Status) engine.NodeID {
	var to engine.NodeID
	var best engine.Slot
	for _, pm := range st.Match {
		if pm.ID != st.ID && st.Membership.IsVoter(pm.ID) && (to == 0 || pm.Match > best) {
			to, best = pm.ID, pm.Match
		}
	}
	return to
}
