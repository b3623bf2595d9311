package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Status is the part of a node's admin /status JSON the benchmark reads.
// Nodes may report more; unknown fields are ignored.
type Status struct {
	ID      uint64 `json:"id"`
	Role    string `json:"role"`   // "leader", "follower" or "candidate"
	Leader  uint64 `json:"leader"` // the node's leader hint; 0 unknown
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	// Sync is the node's durability mode, if it reports one (optional):
	// for a running cluster it is more trustworthy than the -sync flag.
	Sync *bool `json:"sync,omitempty"`
}

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
			return s.ID, true
		}
	}
	return 0, false
}

// Monitor polls the nodes' /status and keeps the agreed leader.
type Monitor struct {
	admins []string
	client *http.Client
	leader atomic.Uint64 // 0 unknown
}

// NewMonitor watches the nodes at the given admin addresses.
func NewMonitor(admins []string) *Monitor {
	return &Monitor{admins: admins, client: &http.Client{Timeout: time.Second}}
}

// Leader returns the last agreed leader.
func (m *Monitor) Leader() (uint64, bool) {
	id := m.leader.Load()
	return id, id != 0
}

// Poll asks every node once, in parallel, and updates Leader.
func (m *Monitor) Poll(ctx context.Context) []Status {
	sts := make([]Status, len(m.admins))
	var wg sync.WaitGroup
	for i, a := range m.admins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := FetchStatus(ctx, m.client, a); err == nil {
				sts[i] = st
			}
		}()
	}
	wg.Wait()
	id, _ := AgreedLeader(sts, len(m.admins))
	m.leader.Store(id)
	return sts
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
