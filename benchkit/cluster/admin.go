package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mpaxos/mpaxos/check"
	"github.com/mpaxos/mpaxos/faults"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// NetClient talks to the nodes' admin endpoints that the fault injection
// and the correctness checks use: POST /faults, GET /hash, GET /applied.
type NetClient struct {
	http *http.Client
	// bulk has no timeout of its own: GET /applied grows with the run
	// (tens of MB of JSON for a million commands, encoded by a node that
	// shares the machine), so the caller's context bounds it instead.
	bulk *http.Client
	// token is the nodes' admin bearer token, sent with POST /faults.
	token string
}

// NewNetClient returns a NetClient whose requests time out after 5 s (a
// paused node must not hang the benchmark), except Applied's, which only
// its context bounds. token is the nodes' admin token (their
// -admin-token-file), which POST /faults needs.
func NewNetClient(token string) *NetClient {
	return &NetClient{http: &http.Client{Timeout: 5 * time.Second}, bulk: &http.Client{}, token: token}
}

// FaultBody maps a NetSpec to the node's POST /faults JSON ({} heals): a
// NetSpec's blocked peers are one-way outgoing drops, since a symmetric
// partition is both sides blocking each other; delay and loss act on what
// the node sends.
func FaultBody(s faults.NetSpec) ([]byte, error) {
	var fs adminapi.FaultSpec
	for _, b := range s.Block {
		fs.DropTo = append(fs.DropTo, uint16(b))
	}
	if s.Delay > 0 {
		fs.Delay = s.Delay.String()
	}
	if s.Jitter > 0 {
		fs.Jitter = s.Jitter.String()
	}
	fs.DropRate = s.Loss
	return json.Marshal(fs)
}

// SetFaults POSTs spec to http://admin/faults, replacing the node's
// previous setting.
func (c *NetClient) SetFaults(ctx context.Context, admin string, spec faults.NetSpec) error {
	body, err := FaultBody(spec)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+admin+"/faults", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cluster: faults of %s: %w", admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("cluster: faults of %s: %s: %s", admin, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

func getJSON(ctx context.Context, hc *http.Client, admin, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+path, nil)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cluster: %s of %s: %w", path, admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound && strings.HasPrefix(path, "/applied") {
		return ErrNotRecording
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("cluster: %s of %s: %s: %s", path, admin, resp.Status, strings.TrimSpace(string(msg)))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<30)).Decode(v); err != nil {
		return fmt.Errorf("cluster: %s of %s: %w", path, admin, err)
	}
	return nil
}

// ErrNotRecording: a node does not record its applied commands (it was
// started without -record-applied N): GET /applied answered 404.
var ErrNotRecording = errors.New("cluster: the nodes do not record their applied commands (start them with -record-applied N)")

// Hashes GETs every node's /hash, in parallel.
func (c *NetClient) Hashes(ctx context.Context, admins []string) ([]adminapi.HashReport, error) {
	return c.GroupHashes(ctx, admins, 0)
}

// GroupHashes is Hashes of Paxos group g (GET /hash?group=g).
func (c *NetClient) GroupHashes(ctx context.Context, admins []string, g int) ([]adminapi.HashReport, error) {
	return getAll[adminapi.HashReport](ctx, c.http, admins, groupPath("/hash", g))
}

// groupPath is path for group g; group 0's is path itself, which nodes
// that run one group serve too.
func groupPath(path string, g int) string {
	if g == 0 {
		return path
	}
	return fmt.Sprintf("%s?group=%d", path, g)
}

// getAll GETs path from every admin address in parallel and decodes each
// answer into its own T.
func getAll[T any](ctx context.Context, hc *http.Client, admins []string, path string) ([]T, error) {
	out := make([]T, len(admins))
	errs := make([]error, len(admins))
	var wg sync.WaitGroup
	for i, a := range admins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = getJSON(ctx, hc, a, path, &out[i])
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Applied GETs every node's /applied, in parallel, bounded by ctx only
// (give it a deadline). Nodes that do not record them make it return
// ErrNotRecording (once).
func (c *NetClient) Applied(ctx context.Context, admins []string) ([]adminapi.AppliedReport, error) {
	return c.GroupApplied(ctx, admins, 0)
}

// GroupApplied is Applied of Paxos group g (GET /applied?group=g).
func (c *NetClient) GroupApplied(ctx context.Context, admins []string, g int) ([]adminapi.AppliedReport, error) {
	out, err := getAll[adminapi.AppliedReport](ctx, c.bulk, admins, groupPath("/applied", g))
	if errors.Is(err, ErrNotRecording) {
		return nil, ErrNotRecording
	}
	return out, err
}

// SettledHashes polls every node's /hash until all report the same applied
// slot, or ctx ends; it returns the last answers either way (compare them
// with check.CompareHashes, which says when they are not comparable).
func (c *NetClient) SettledHashes(ctx context.Context, admins []string) ([]check.NodeState, error) {
	return c.SettledGroupHashes(ctx, admins, 0)
}

// SettledGroupHashes is SettledHashes of Paxos group g.
func (c *NetClient) SettledGroupHashes(ctx context.Context, admins []string, g int) ([]check.NodeState, error) {
	t := time.NewTicker(waitPoll)
	defer t.Stop()
	var last []check.NodeState
	var lastErr error
	for {
		hs, err := c.GroupHashes(ctx, admins, g)
		if err == nil {
			last = last[:0]
			same := true
			for _, h := range hs {
				last = append(last, check.NodeState{Node: uint64(h.Node), Applied: h.Applied, Hash: h.Hash})
				same = same && h.Applied == hs[0].Applied
			}
			if same {
				return last, nil
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			if last == nil {
				return nil, errors.Join(lastErr, context.Cause(ctx))
			}
			return last, nil
		case <-t.C:
		}
	}
}

// AlignApplied turns the nodes' /applied reports into the session check's
// input. Nodes started or restarted at different points, so each report
// covers a different stretch of slots; a slot's commands are the same on
// every node that applied it (or the check reports divergence). The
// cluster's sequence of executed commands is rebuilt slot by slot from the
// union of the reports, and each node's stretch is placed in it by the
// number of commands in the slots before it. Where a node skipped slots
// that others executed commands in (it caught up from a snapshot) its
// report is split there, so positions stay aligned.
//
// A truncated report (the node's record overflowed) may begin in the
// middle of a slot: that slot's commands are left out of it.
//
// Deduplicated is set on one entry per node (the node's count): what a
// node answered from its session table since it last started.
func AlignApplied(reps []adminapi.AppliedReport) []check.NodeApplied {
	reps = slices.Clone(reps)
	for i, r := range reps {
		if r.Truncated && len(r.Commands) > 0 {
			first := r.Commands[0].Slot
			k := 0
			for k < len(r.Commands) && r.Commands[k].Slot == first {
				k++
			}
			reps[i].Commands = r.Commands[k:]
		}
	}
	// perSlot: how many commands executed in each slot, from the first
	// node that reports it.
	perSlot := map[uint64]int{}
	for _, r := range reps {
		seen := map[uint64]int{}
		for _, c := range r.Commands {
			seen[c.Slot]++
		}
		for s, n := range seen {
			if _, ok := perSlot[s]; !ok {
				perSlot[s] = n
			}
		}
	}
	slots := make([]uint64, 0, len(perSlot))
	for s := range perSlot {
		slots = append(slots, s)
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i] < slots[j] })
	// before[i]: commands in slots[:i].
	before := make(map[uint64]int, len(slots))
	sum := 0
	next := map[uint64]uint64{} // slot -> the next slot with commands
	for i, s := range slots {
		before[s] = sum
		sum += perSlot[s]
		if i+1 < len(slots) {
			next[s] = slots[i+1]
		}
	}
	var out []check.NodeApplied
	for _, r := range reps {
		cur := check.NodeApplied{Node: uint64(r.Node), Deduplicated: r.Deduplicated}
		var prev uint64
		for i, c := range r.Commands {
			if i == 0 || (c.Slot != prev && c.Slot != next[prev]) {
				if i > 0 {
					out = append(out, cur)
					cur = check.NodeApplied{Node: uint64(r.Node)}
				}
				cur.Offset = before[c.Slot]
			}
			cur.Applied = append(cur.Applied, check.Applied{Client: c.Client, Seq: c.Seq})
			prev = c.Slot
		}
		out = append(out, cur)
	}
	return out
}
