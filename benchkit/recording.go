package benchkit

import (
	"context"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/mpaxos/mpaxos/check"
	"github.com/mpaxos/mpaxos/faults"
)

// Recording watches every client's operations for what comes after the
// run: the history the correctness checks read (check.History), and a
// fine-grained timeline of completions from which the fault windows'
// statistics are computed (the per-second series is too coarse to resolve
// an election). Install it with Env.Wrap = rec.Wrap.
//
// Cost per operation: two readings of the monotonic clock, shared by the
// history and the timeline; with the history, a key string and an append
// under an uncontended lock (check.Recorder); with the timeline, a 16-byte
// append to the client's own slice.
type Recording struct {
	hist *check.History // nil: no history

	mu struct {
		sync.Mutex
		timelines []*timeline
	}
	timeline bool
	// origin is what operations' instants count from: the history's
	// start when there is one, so both share one clock reading.
	origin time.Time
}

// timeline is one client's successful completions: unix ns of the end and
// the latency, both ns. Owned by its session until the run ends.
type timeline struct {
	done []int64
	lat  []int64
}

// NewRecording returns a Recording that keeps the history for the checks
// when cfg.Check, and the timeline when withTimeline.
func NewRecording(cfg Config, withTimeline bool) (*Recording, error) {
	r := &Recording{timeline: withTimeline}
	if cfg.Check {
		// The capacity hint is a guess; slices grow past it.
		h, err := check.NewHistory(check.HistoryConfig{OpsPerClient: 4096, Sample: check.SampleFraction(cfg.Sample())})
		if err != nil {
			return nil, err
		}
		r.hist = h
		r.origin = h.Start()
	} else {
		r.origin = time.Now()
	}
	return r, nil
}

// SampledKeysMax bounds the key space SampledKeys walks (a hash per
// key: 1M keys take tens of milliseconds).
const SampledKeysMax = 1_000_000

// SampledKeys returns the keys whose history the linearizability check
// keeps (the same sample NewRecording uses), so their values can be read
// before the run; ok is false when cfg.Keys is too large to walk.
func SampledKeys(cfg Config) (keys []string, ok bool) {
	if cfg.Keys > SampledKeysMax {
		return nil, false
	}
	sampled := check.SampleFraction(cfg.Sample())
	var buf [KeySize]byte
	for i := range uint64(cfg.Keys) {
		if k := string(formatKey(buf[:], i)); sampled(k) {
			keys = append(keys, k)
		}
	}
	return keys, true
}

// History returns the recorded history, nil without Config.Check.
func (r *Recording) History() *check.History { return r.hist }

// Wrap returns s recording into r; it fits Env.Wrap.
func (r *Recording) Wrap(_ int, s Session) Session {
	rs := &recSession{s: s, origin: r.origin, originNs: r.origin.UnixNano()}
	if r.hist != nil {
		rs.rec = r.hist.NewRecorder()
		rs.h = r.hist
	}
	if r.timeline {
		rs.tl = &timeline{done: make([]int64, 0, 1024), lat: make([]int64, 0, 1024)}
		r.mu.Lock()
		r.mu.timelines = append(r.mu.timelines, rs.tl)
		r.mu.Unlock()
	}
	return rs
}

type recSession struct {
	s        Session
	h        *check.History
	rec      *check.Recorder
	tl       *timeline
	origin   time.Time // Recording.origin; carries a monotonic reading
	originNs int64     // origin in unix ns
}

// now returns the time since origin, ns, from the monotonic clock alone;
// with a history it is the history's own clock (check.History.Now).
func (s *recSession) now() int64 { return int64(time.Since(s.origin)) }

// outcome maps a client error to what the checks know of the operation.
// Every error is Unknown: the client library's errors (timeout, no quorum,
// closed, a cancelled context) all leave the command possibly applied by a
// retry in flight, and treating the rare error that proves a command did
// not execute (a malformed request) as Unknown too is never wrong, only
// less strict.
func outcome(err error) check.Outcome {
	if err == nil {
		return check.OK
	}
	return check.Unknown
}

func (s *recSession) Do(ctx context.Context, op Op) (Result, error) {
	var call int64
	if s.h != nil || s.tl != nil {
		call = s.now()
	}
	res, err := s.s.Do(ctx, op)
	var ret int64
	if s.h != nil || s.tl != nil {
		ret = s.now()
	}
	if s.h != nil {
		out := outcome(err)
		key := string(op.Key)
		switch op.Kind {
		case OpGet:
			s.rec.Get(key, res.Value, res.Found, call, ret, out)
		case OpPut:
			s.rec.Put(key, op.Value, call, ret, out)
		case OpDelete:
			s.rec.Delete(key, call, ret, out)
		case OpCAS:
			s.rec.CAS(key, op.Expect, op.Value, !res.CASFailed, call, ret, out)
		}
	}
	if s.tl != nil && err == nil {
		s.tl.done = append(s.tl.done, s.originNs+ret)
		s.tl.lat = append(s.tl.lat, ret-call)
	}
	return res, err
}

// seriesUnit is the unit of the timeline's interval histograms: a
// microsecond keeps each small (two significant digits up to an hour).
const seriesUnit = time.Microsecond

// Series returns the completions from origin to origin+length in steps of
// step, for faults.Stats. Call it after the run (clients stopped).
func (r *Recording) Series(origin time.Time, length, step time.Duration) faults.Series {
	n := int((length + step - 1) / step)
	s := faults.Series{Step: step, Unit: seriesUnit, Points: make([]faults.Interval, max(n, 0))}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := origin.UnixNano()
	for _, tl := range r.mu.timelines {
		for i, d := range tl.done {
			k := (d - o) / int64(step)
			if d < o || k >= int64(n) {
				continue
			}
			p := &s.Points[k]
			p.Ops++
			if p.Latency == nil {
				p.Latency = hdr.New(1, int64(time.Hour/seriesUnit), 2)
			}
			_ = p.Latency.RecordValue(max(tl.lat[i]/int64(seriesUnit), 1))
		}
	}
	return s
}
