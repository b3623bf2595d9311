package node

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/mpaxos/mpaxos/engine"
)

// Stage names: where a command's time goes on the leader, so a benchmark
// user knows which knob to turn. They match the benchmark's names
// (benchkit/results).
const (
	// StageBatchWait: from the oldest queued command's arrival to the
	// proposal of its batch (queueing behind a full pipeline, or
	// -batch-delay). Commands enter the open batch as they arrive, so
	// there is no separate queue stage.
	StageBatchWait = "batch_wait"
	// StageLeaderSync: one store write of a group of Readies, sync
	// included (on the leader, its own log write).
	StageLeaderSync = "leader_sync"
	// StageQuorumWait: from proposing a batch to learning it is chosen
	// (the leader's own sync and the quorum's acknowledgements).
	StageQuorumWait = "quorum_wait"
	// StageApply: applying one committed batch and queueing its replies.
	StageApply = "apply"
	// StageRequest: from the arrival of a batch's oldest command until
	// the batch is applied (its replies are queued right after): the
	// longest any of its commands spent in the node. Recorded once per
	// batch, on the leader.
	StageRequest = "request"
)

// stageClock keeps one HdrHistogram per stage, cumulative since the node
// started, and the distribution of commands per proposed batch. Durations
// are in nanoseconds (1 µs to 60 s, 3 significant digits). Recording
// happens once per batch or per write, never per command. The loop, the
// writer and the admin readers all reach it, so every method takes its
// lock; nothing outside this file touches mu.
type stageClock struct {
	mu struct {
		sync.Mutex
		h     map[string]*hdrhistogram.Histogram
		sizes *hdrhistogram.Histogram
	}
}

// stageNames lists every stage the clock keeps.
var stageNames = []string{StageBatchWait, StageLeaderSync, StageQuorumWait, StageApply, StageRequest}

func (s *stageClock) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.h = make(map[string]*hdrhistogram.Histogram, len(stageNames))
	for _, name := range stageNames {
		s.mu.h[name] = hdrhistogram.New(1000, 60_000_000_000, 3)
	}
	s.mu.sizes = hdrhistogram.New(1, 1<<20, 3)
}

func (s *stageClock) record(name string, d time.Duration) {
	s.mu.Lock()
	s.mu.h[name].RecordValue(max(int64(d), 1000))
	s.mu.Unlock()
}

func (s *stageClock) since(name string, t time.Time) { s.record(name, time.Since(t)) }

func (s *stageClock) batchSize(n int) {
	s.mu.Lock()
	s.mu.sizes.RecordValue(int64(n))
	s.mu.Unlock()
}

// export copies the named stages' counts under one hold of the lock (nil
// for a name the clock does not keep), for the caller to read outside it.
func (s *stageClock) export(names []string) []*hdrhistogram.Snapshot {
	out := make([]*hdrhistogram.Snapshot, len(names))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, name := range names {
		if h := s.mu.h[name]; h != nil {
			out[i] = h.Export()
		}
	}
	return out
}

// report encodes every stage and the batch sizes for GET /stages.
func (s *stageClock) report(node uint16) (StageReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := StageReport{Node: node, Stages: make(map[string]string, len(s.mu.h))}
	for name, h := range s.mu.h {
		enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return r, err
		}
		r.Stages[name] = string(enc)
	}
	enc, err := s.mu.sizes.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return r, err
	}
	r.BatchSizes = string(enc)
	return r, nil
}

// proposal is when a batch was proposed and when its oldest command
// arrived.
type proposal struct {
	at, oldest time.Time
	group      engine.GroupID
}

// Stages returns the node's stage report. Safe from any goroutine.
func (n *Node) Stages() (StageReport, error) { return n.stages.report(uint16(n.cfg.ID)) }

func (n *Node) serveStages(w http.ResponseWriter, r *http.Request) {
	rep, err := n.Stages()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}
