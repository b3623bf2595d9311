package node

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Stage names: where a command's time goes on the leader, so a benchmark
// user knows which knob to turn.
const (
	// StageBatchWait: from the oldest queued command's arrival to the
	// proposal of its batch (queueing behind a full pipeline, or
	// -batch-delay).
	StageBatchWait = "batch_wait"
	// StageSync: one store write of a group of Readies, sync included.
	StageSync = "sync"
	// StageCommit: from proposing a batch to learning it is chosen (the
	// leader's own sync and the quorum's acknowledgements).
	StageCommit = "commit"
	// StageApply: applying one committed batch and queueing its replies.
	StageApply = "apply"
	// StageBatchSize is a distribution of commands per proposed batch,
	// not a duration.
	StageBatchSize = "batch_size"
)

// stages keeps one HdrHistogram per stage. Durations are recorded in
// microseconds (1 µs to 60 s, 3 significant digits). Recording happens once
// per batch or per write, never per command.
type stages struct {
	mu struct {
		sync.Mutex
		h map[string]*hdrhistogram.Histogram
	}
	// proposedAt maps a proposed batch (by the address of its first byte,
	// which the engine hands back unchanged in Committed) to its proposal
	// time. Owned by loop.
	proposedAt map[*byte]time.Time
	// oldest is when the oldest command not yet proposed arrived; zero if
	// none. Guarded by inbox.mu.
	oldest time.Time
}

func (s *stages) init() {
	s.mu.h = map[string]*hdrhistogram.Histogram{}
	for _, name := range []string{StageBatchWait, StageSync, StageCommit, StageApply} {
		s.mu.h[name] = hdrhistogram.New(1, 60_000_000, 3)
	}
	s.mu.h[StageBatchSize] = hdrhistogram.New(1, 1<<20, 3)
	s.proposedAt = make(map[*byte]time.Time)
}

func (s *stages) record(name string, v int64) {
	s.mu.Lock()
	s.mu.h[name].RecordValue(v)
	s.mu.Unlock()
}

func (s *stages) since(name string, t time.Time) {
	s.record(name, max(time.Since(t).Microseconds(), 1))
}

// StageSummary is one stage's distribution as /stages reports it.
type StageSummary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   int64   `json:"p50"`
	P90   int64   `json:"p90"`
	P99   int64   `json:"p99"`
	P999  int64   `json:"p999"`
	Max   int64   `json:"max"`
	// Unit is "us" for durations, "commands" for batch sizes.
	Unit string `json:"unit"`
	// Encoded is the full histogram in HdrHistogram's compressed form.
	Encoded string `json:"encoded,omitempty"`
}

// Stages returns every stage's distribution; reset starts them afresh (the
// benchmark resets after its warm-up).
func (n *Node) Stages(reset bool) map[string]StageSummary {
	s := &n.stages
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]StageSummary, len(s.mu.h))
	for name, h := range s.mu.h {
		unit := "us"
		if name == StageBatchSize {
			unit = "commands"
		}
		sum := StageSummary{
			Count: h.TotalCount(), Mean: h.Mean(), Unit: unit,
			P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90), P99: h.ValueAtQuantile(99),
			P999: h.ValueAtQuantile(99.9), Max: h.Max(),
		}
		if enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
			sum.Encoded = string(enc)
		}
		out[name] = sum
		if reset {
			h.Reset()
		}
	}
	return out
}

func (n *Node) serveStages(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(n.Stages(r.URL.Query().Get("reset") == "1"))
}
