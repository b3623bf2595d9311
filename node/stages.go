package node

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
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

// stages keeps one HdrHistogram per stage, cumulative since the node
// started. Durations are in nanoseconds (1 µs to 60 s, 3 significant
// digits). Recording happens once per batch or per write, never per command.
type stages struct {
	mu struct {
		sync.Mutex
		h map[string]*hdrhistogram.Histogram
	}
	// sizes is the distribution of commands per proposed batch, guarded
	// by mu.
	sizes *hdrhistogram.Histogram
	// proposedAt maps a proposed batch (by the address of its first byte,
	// which the engine hands back unchanged in Committed) to its proposal
	// time. Owned by loop.
	proposedAt map[*byte]proposal
	// oldest is when the oldest command not yet proposed arrived; zero if
	// none. Guarded by inbox.mu.
	oldest time.Time
}

// proposal is when a batch was proposed and when its oldest command
// arrived.
type proposal struct{ at, oldest time.Time }

func (s *stages) init() {
	s.mu.h = map[string]*hdrhistogram.Histogram{}
	for _, name := range []string{StageBatchWait, StageLeaderSync, StageQuorumWait, StageApply, StageRequest} {
		s.mu.h[name] = hdrhistogram.New(1000, 60_000_000_000, 3)
	}
	s.sizes = hdrhistogram.New(1, 1<<20, 3)
	s.proposedAt = make(map[*byte]proposal)
}

func (s *stages) record(name string, d time.Duration) {
	s.mu.Lock()
	s.mu.h[name].RecordValue(max(int64(d), 1000))
	s.mu.Unlock()
}

func (s *stages) since(name string, t time.Time) { s.record(name, time.Since(t)) }

func (s *stages) batchSize(n int) {
	s.mu.Lock()
	s.sizes.RecordValue(int64(n))
	s.mu.Unlock()
}

// Stages returns the node's stage report. Safe from any goroutine.
func (n *Node) Stages() (StageReport, error) {
	s := &n.stages
	s.mu.Lock()
	defer s.mu.Unlock()
	r := StageReport{Node: uint16(n.cfg.ID), Stages: make(map[string]string, len(s.mu.h))}
	for name, h := range s.mu.h {
		enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return r, err
		}
		r.Stages[name] = string(enc)
	}
	enc, err := s.sizes.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return r, err
	}
	r.BatchSizes = string(enc)
	return r, nil
}

func (n *Node) serveStages(w http.ResponseWriter, r *http.Request) {
	rep, err := n.Stages()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}
