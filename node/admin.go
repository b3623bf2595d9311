package node

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/faults"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// stats are counters loop and the writer publish for the admin endpoint.
type stats struct {
	batches  atomic.Uint64
	commands atomic.Uint64
	acked    atomic.Uint64 // commands answered from apply (executed here for a waiting client)
	syncs    atomic.Uint64
	// removals counts the groups this node saw itself removed from.
	removals atomic.Uint64
	// groupWrites counts store writes, one group's each; with several
	// groups ready together many share a sync (persist).
	groupWrites atomic.Uint64
	handoffs    atomic.Uint64
	loopWrites  atomic.Uint64
	dups        atomic.Uint64
	dropped     atomic.Uint64
	badEntries  atomic.Uint64
	// snapshotsCancelled counts own snapshots dropped because a newer one
	// was installed while they were being taken.
	snapshotsCancelled atomic.Uint64
}

// Status is what /status returns (JSON); the type is shared with the
// benchmark, which decodes it (package adminapi).
type Status = adminapi.Status

// PeerLag is one member's replication progress as the leader sees it.
type PeerLag = adminapi.PeerLag

// Status returns a snapshot of the node's published state. Safe from any
// goroutine.
func (n *Node) Status() Status {
	groups := make([]adminapi.GroupStatus, len(n.groups))
	for i, g := range n.groups {
		groups[i] = n.groupStatus(g)
	}
	g0 := groups[0]
	var peers []PeerLag
	if p := n.groups[0].peerLag.Load(); p != nil && g0.Role == "leader" {
		peers = *p
	}
	return Status{
		Peers:       peers,
		GroupStatus: groups,
		ID:          uint16(n.cfg.ID),
		Role:        g0.Role,
		Leader:      g0.Leader,
		Ballot:      g0.Ballot,
		Commit:      g0.Commit,
		Applied:     g0.Applied,
		Batches:     n.stats.batches.Load(),
		Commands:    n.stats.commands.Load(),
		Acked:       n.stats.acked.Load(),
		Syncs:       n.stats.syncs.Load(),
		LoopWrites:  n.stats.loopWrites.Load(),
		Dups:        n.stats.dups.Load(),
		Handoffs:    n.stats.handoffs.Load(),
		Removed:     !n.cfg.Null && n.removed(),
		Null:        n.cfg.Null,
		Settings:    n.settings(),

		SnapshotsCancelled: n.stats.snapshotsCancelled.Load(),
		NoSpace:            n.noSpace.Load(),
	}
}

// groupStatus is group g's published state.
func (n *Node) groupStatus(g *group) adminapi.GroupStatus {
	role := "follower"
	leader := uint16(g.leader.Load())
	switch {
	case n.cfg.Null:
		// Null nodes replicate nothing; the lowest id plays leader so tools
		// that wait for one (the benchmark's launcher) proceed. Null says so.
		leader = uint16(n.cfg.members()[0])
		if leader == uint16(n.cfg.ID) {
			role = "leader"
		}
	case g.isLeader.Load():
		role = "leader"
	}
	b := g.ballot.Load()
	return adminapi.GroupStatus{
		Group: int(g.id), Role: role, Leader: leader,
		Ballot: fmt.Sprintf("%d.%d", b>>16, b&0xffff),
		Commit: g.commit.Load(), Applied: g.appliedP.Load(),
		Removed: g.removed.Load(),
	}
}

// settings are the node's effective settings for /status.
func (n *Node) settings() adminapi.Settings {
	b := n.cfg.Batch
	batching := "fixed"
	if b.Adaptive {
		batching = "adaptive"
	}
	return adminapi.Settings{
		Sync:         n.cfg.Sync && !n.cfg.Null && !n.cfg.UnsafeNoPersist,
		BatchSize:    b.MaxCount,
		BatchBytes:   b.MaxBytes,
		BatchDelayNs: int64(b.MaxDelay),
		Batching:     batching,
		Pipeline:     n.cfg.Pipeline,
		Groups:       len(n.groups),
		ReadMode:     n.cfg.ReadMode.String(),
	}
}

// The admin endpoints' JSON types, shared with the benchmark that decodes
// them (package adminapi).
type (
	// FaultSpec is the body of POST /faults.
	FaultSpec = adminapi.FaultSpec
	// StageReport is what GET /stages returns.
	StageReport = adminapi.StageReport
	// AppliedReport is what GET /applied returns.
	AppliedReport = adminapi.AppliedReport
	// AppliedCommand is one command of an AppliedReport.
	AppliedCommand = adminapi.AppliedCommand
	// HashReport is what GET /hash returns.
	HashReport = adminapi.HashReport
)

// ErrFaultSpec is wrapped by SetFaults' error for a spec it refuses; the
// admin endpoint answers it with 400.
var ErrFaultSpec = errors.New("node: bad fault spec")

// faultSetting is a FaultSpec checked against the cluster, ready for the
// transport hook.
type faultSetting struct {
	isolate, dropTo, dropFrom []uint64
	delay, jitter             time.Duration
	dropRate                  float64
}

// checkFaults validates s for node self of members, reporting every
// problem at once wrapped in ErrFaultSpec. A peer id that is not a member
// would make the hook block a link that does not exist (and hide a typo in
// the caller's schedule); a delay beyond faults.MaxDelay holds frames, and
// their buffers, for longer than any fault run lasts.
func checkFaults(s FaultSpec, self engine.NodeID, members []engine.NodeID) (faultSetting, error) {
	var f faultSetting
	var errs []error
	peers := func(field string, v []uint16) []uint64 {
		out := make([]uint64, 0, len(v))
		for _, id := range v {
			switch {
			case engine.NodeID(id) == self:
				errs = append(errs, fmt.Errorf("%s: node %d is this node", field, id))
			case !slices.Contains(members, engine.NodeID(id)):
				errs = append(errs, fmt.Errorf("%s: node %d is not a member (members: %v)", field, id, members))
			default:
				out = append(out, uint64(id))
			}
		}
		return out
	}
	f.isolate = peers("isolate", s.Isolate)
	f.dropTo = peers("drop_to", s.DropTo)
	f.dropFrom = peers("drop_from", s.DropFrom)
	dur := func(field, v string) time.Duration {
		if v == "" {
			return 0
		}
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s %q: not a Go duration such as 5ms", field, v))
		case d < 0:
			errs = append(errs, fmt.Errorf("%s %q: negative", field, v))
		case d > faults.MaxDelay:
			errs = append(errs, fmt.Errorf("%s %q: above the maximum %v", field, v, faults.MaxDelay))
		default:
			return d
		}
		return 0
	}
	f.delay = dur("delay", s.Delay)
	f.jitter = dur("jitter", s.Jitter)
	if !(s.DropRate >= 0 && s.DropRate <= 1) { // NaN too
		errs = append(errs, fmt.Errorf("drop rate %v outside 0..1", s.DropRate))
	}
	f.dropRate = s.DropRate
	if len(errs) > 0 {
		return faultSetting{}, fmt.Errorf("%w: %w", ErrFaultSpec, errors.Join(errs...))
	}
	return f, nil
}

func (n *Node) startAdmin() error {
	ln, err := net.Listen("tcp", adminListenAddr(n.cfg.AdminAddr))
	if err != nil {
		return fmt.Errorf("node: admin listener: %w", err)
	}
	bound := ln.Addr().String()
	n.adminBound.Store(&bound)
	n.admin = &http.Server{Handler: n.adminMux(), ReadHeaderTimeout: 5 * time.Second}
	if n.adminCerts != nil {
		ln = tls.NewListener(ln, n.adminCerts.RequestingTLS())
	}
	go n.admin.Serve(ln)
	return nil
}

// adminListenAddr binds a host-less admin address to loopback: whoever
// reaches the admin port can read the node's state and, with a token,
// change it, so it is not offered to every interface unless asked for.
func adminListenAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "" {
		return addr
	}
	return net.JoinHostPort("127.0.0.1", port)
}

func (n *Node) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.Status())
	})
	mux.Handle("GET /metrics", n.metricsHandler())
	mux.HandleFunc("GET /stages", n.serveStages)
	mux.HandleFunc("GET /applied", n.serveApplied)
	if n.cfg.Pprof {
		// Profiles of a node under load are how we learn where time goes.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /hash", n.serveHash)
	mux.HandleFunc("GET /members", n.serveMembers)
	mux.HandleFunc("POST /members", n.mutating(n.serveMembersChange))
	mux.HandleFunc("POST /faults", n.mutating(func(w http.ResponseWriter, r *http.Request) {
		if !n.cfg.EnableFaultHook {
			http.Error(w, "fault hook disabled: the node was started without -enable-fault-hook", http.StatusForbidden)
			return
		}
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
	}))
	return mux
}

// mutating wraps a handler that changes the node: it runs only for a
// request bearing the admin token, or arriving over TLS with a client
// certificate (the admin listener's handshake verified it against
// Config.AdminTLS.CA). Without either the answer is 401; with a wrong
// token, or when the node has no token, 403. Refusals are logged, as a
// stranger probing the admin port is worth knowing about.
func (n *Node) mutating(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		got, bearer := strings.CutPrefix(auth, "Bearer ")
		switch {
		case n.adminCerts != nil && r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
			h(w, r)
		case auth == "" || !bearer:
			n.log.Warn("admin: refusing unauthenticated request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="mpaxos admin"`)
			http.Error(w, "admin: this endpoint needs Authorization: Bearer <token> (see -admin-token-file)", http.StatusUnauthorized)
		case n.cfg.AdminToken == "":
			n.log.Warn("admin: refusing request: the node has no admin token", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			http.Error(w, "admin: the node was started without -admin-token-file; nothing may mutate it", http.StatusForbidden)
		case subtle.ConstantTimeCompare([]byte(got), []byte(n.cfg.AdminToken)) != 1:
			n.log.Warn("admin: refusing request with a wrong token", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			http.Error(w, "admin: wrong token", http.StatusForbidden)
		default:
			h(w, r)
		}
	}
}

// SetFaults replaces the transport's fault settings. A spec that does not
// pass checkFaults changes nothing and returns an error wrapping
// ErrFaultSpec.
func (n *Node) SetFaults(spec FaultSpec) error {
	if n.peers == nil {
		return fmt.Errorf("node: no peer transport in null mode")
	}
	fs, err := checkFaults(spec, n.cfg.ID, n.peerIDs())
	if err != nil {
		return err
	}
	f := n.peers.Faults()
	f.Heal()
	if len(fs.isolate) > 0 {
		f.Partition(fs.isolate...)
	}
	for _, id := range fs.dropTo {
		f.OneWay(uint64(n.cfg.ID), id)
	}
	for _, id := range fs.dropFrom {
		f.OneWay(id, uint64(n.cfg.ID))
	}
	if fs.delay > 0 || fs.jitter > 0 {
		f.Delay(fs.delay, fs.jitter)
	}
	if fs.dropRate > 0 {
		f.DropRate(fs.dropRate)
	}
	n.log.Info("faults set", "spec", spec)
	return nil
}
