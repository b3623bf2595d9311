package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpaxos/mpaxos/node/adminapi"
)

// Status is a node's admin /status, as the node serves it (one type for
// both sides: package adminapi). Fields a newer node adds are ignored.
type Status = adminapi.Status

// ErrNoLeader is returned when the nodes did not agree on a leader in time.
var ErrNoLeader = errors.New("cluster: no leader elected")

// FetchStatus GETs http://admin/status.
func FetchStatus(ctx context.Context, c *http.Client, admin string) (Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/status", nil)
	if err != nil {
		return Status{}, fmt.Errorf("cluster: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return Status{}, fmt.Errorf("cluster: status of %s: %w", admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Status{}, fmt.Errorf("cluster: status of %s: %s", admin, resp.Status)
	}
	var st Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return Status{}, fmt.Errorf("cluster: status of %s: %w", admin, err)
	}
	return st, nil
}

// AgreedLeader returns the leader that a majority of the n nodes agree on:
// a node that says it is the leader, and enough nodes (itself included)
// whose leader hint names it. Nodes that did not answer count as
// disagreeing.
func AgreedLeader(sts []Status, n int) (uint64, bool) {
	for _, s := range sts {
		if s.Role != "leader" || s.ID == 0 {
			continue
		}
		votes := 0
		for _, o := range sts {
			if o.Leader == s.ID || (o.ID == s.ID) {
				votes++
			}
		}
		if votes > n/2 {
			return uint64(s.ID), true
		}
	}
	return 0, false
}

// Monitor polls the nodes' /status and keeps the agreed leader.
type Monitor struct {
	// admins is replaced (SetAdmins) when the cluster's members change.
	admins atomic.Pointer[[]string]
	client *http.Client
	leader atomic.Uint64 // 0 unknown
}

// NewMonitor watches the nodes at the given admin addresses.
func NewMonitor(admins []string) *Monitor {
	m := &Monitor{client: &http.Client{Timeout: time.Second}}
	m.SetAdmins(admins)
	return m
}

// SetAdmins replaces the admin addresses polled from the next poll on: the
// members of the configuration now. A leader is agreed by a majority of
// them.
func (m *Monitor) SetAdmins(admins []string) {
	a := slices.Clone(admins)
	m.admins.Store(&a)
}

// Admins returns the admin addresses polled.
func (m *Monitor) Admins() []string { return *m.admins.Load() }

// Leader returns the last agreed leader.
func (m *Monitor) Leader() (uint64, bool) {
	id := m.leader.Load()
	return id, id != 0
}

// Poll asks every node once, in parallel, and updates Leader.
func (m *Monitor) Poll(ctx context.Context) []Status {
	admins := m.Admins()
	sts := make([]Status, len(admins))
	var wg sync.WaitGroup
	for i, a := range admins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := FetchStatus(ctx, m.client, a); err == nil {
				sts[i] = st
			}
		}()
	}
	wg.Wait()
	id, _ := AgreedLeader(sts, len(admins))
	m.leader.Store(id)
	return sts
}

// Syncs asks every node for its store-write counter (Status.Syncs), by
// node id. A node that does not answer (killed, paused) is left out: a
// window's figures then cover the nodes counted at both its ends.
func (m *Monitor) Syncs() (map[uint64]uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out := make(map[uint64]uint64)
	for _, st := range m.Poll(ctx) {
		if st.ID != 0 {
			out[uint64(st.ID)] = st.Syncs
		}
	}
	return out, nil
}

// Watch polls every interval until ctx is done.
func (m *Monitor) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Poll(ctx)
		}
	}
}

// WaitLeader polls until every node answers and a leader is agreed, ctx
// ends, or check (if not nil) reports a failure such as a node that
// exited. Every node must answer: a benchmark of a cluster with a node
// that failed to start would measure something else than asked.
func (m *Monitor) WaitLeader(ctx context.Context, check func() error) (uint64, error) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		sts := m.Poll(ctx)
		answered := 0
		for _, s := range sts {
			if s.ID != 0 {
				answered++
			}
		}
		if id, ok := m.Leader(); ok && answered == len(sts) {
			return id, nil
		}
		if check != nil {
			if err := check(); err != nil {
				return 0, err
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: %w", ErrNoLeader, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// ReportedSettings returns the settings and durability ("sync", "nosync",
// "null" or "mixed") that the nodes which answered report on /status.
// Settings is nil, and note says why, when no node answered, one does not
// report its settings (an older node), or they differ; durability is ""
// when it is not known from every answering node.
func ReportedSettings(sts []Status) (settings *adminapi.Settings, durability, note string) {
	var first *Status
	var differ []string
	for i := range sts {
		s := &sts[i]
		if s.ID == 0 {
			continue // did not answer
		}
		if !s.Settings.Reported() {
			return nil, "", fmt.Sprintf("node %d does not report its settings on /status", s.ID)
		}
		if first == nil {
			first = s
			durability = s.Durability()
			continue
		}
		if s.Durability() != durability {
			durability = "mixed"
		}
		if s.Settings != first.Settings || s.Null != first.Null {
			differ = append(differ, fmt.Sprintf("node %d %+v, node %d %+v", first.ID, first.Settings, s.ID, s.Settings))
		}
	}
	switch {
	case first == nil:
		return nil, "", "no node answered /status"
	case len(differ) > 0:
		return nil, durability, "the nodes report different settings: " + differ[0]
	}
	set := first.Settings
	return &set, durability, ""
}
