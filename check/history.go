package check

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Kind is the operation of a recorded Op.
type Kind uint8

// The operations of the key-value service (kv.OpPut etc.).
const (
	Put Kind = iota + 1
	Get
	Delete
	// CAS sets Key to Value if Key exists and holds Expect; a missing key
	// fails the CAS like a different value does (kv.StatusNotFound).
	CAS
)

func (k Kind) String() string {
	switch k {
	case Put:
		return "put"
	case Get:
		return "get"
	case Delete:
		return "delete"
	case CAS:
		return "cas"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// isWrite reports whether an operation of kind k may change the state.
func (k Kind) isWrite() bool { return k == Put || k == Delete || k == CAS }

// Outcome says what the client learned about an operation.
type Outcome uint8

const (
	// OK: the service answered; the Op's outputs are what it said.
	OK Outcome = iota + 1
	// Unknown: the client gave up (timeout, connection lost, no quorum)
	// without an answer. A write with an unknown outcome may have taken
	// effect at any time after its call, or never; a read with an unknown
	// outcome tells nothing and is dropped from the checks.
	Unknown
	// Failed: the service answered that the operation was not executed
	// (for example a malformed request). It is dropped from the checks. A
	// CAS that found a different value is not Failed: it is OK with
	// CASOK false.
	Failed
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Unknown:
		return "unknown"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Op is one operation as a client saw it.
type Op struct {
	// Client is the recorder (logical client) that issued it; set by
	// Recorder.Record.
	Client int
	Kind   Kind
	// Key is the key. Pass strings from a table built once, so recording
	// does not allocate.
	Key string
	// Value is the value written (Put, CAS) or read (Get when Found).
	Value Value
	// Expect is the value a CAS compared with.
	Expect Value
	// Found: a Get found the key.
	Found bool
	// CASOK: a CAS swapped.
	CASOK   bool
	Outcome Outcome
	// Call and Return are monotonic nanoseconds (History.Now) taken just
	// before the client library was called and just after it returned
	// (answer or give-up). In open-loop mode Call is still the actual call,
	// not the intended send time: linearizability is about when the
	// operation could act, not when it should have been sent.
	Call, Return int64
}

func (op Op) String() string {
	var s string
	switch op.Kind {
	case Put:
		s = fmt.Sprintf("put(%s, %v)", op.Key, op.Value)
	case Get:
		s = fmt.Sprintf("get(%s)", op.Key)
		if op.Outcome == OK {
			if op.Found {
				s += " -> " + op.Value.String()
			} else {
				s += " -> not found"
			}
		}
	case Delete:
		s = fmt.Sprintf("delete(%s)", op.Key)
	case CAS:
		s = fmt.Sprintf("cas(%s, %v -> %v)", op.Key, op.Expect, op.Value)
		if op.Outcome == OK {
			if op.CASOK {
				s += " ok"
			} else {
				s += " failed"
			}
		}
	default:
		s = op.Kind.String()
	}
	if op.Outcome != OK {
		s += " " + op.Outcome.String()
	}
	return s
}

// ErrConfig is wrapped by every configuration error of this package.
var ErrConfig = errors.New("check: invalid config")

// HistoryConfig configures a History.
type HistoryConfig struct {
	// OpsPerClient is how many operations each Recorder has room for
	// before its slice grows (a capacity hint; growing is allowed but
	// costs a copy on the hot path). An Op is 120 bytes, so the default,
	// 1024, reserves 120 KiB per client. Must be >= 0.
	OpsPerClient int
	// Sample decides which keys' operations are kept for the
	// linearizability check. nil keeps every key. Writes on every key are
	// kept regardless, for the lost-write check. It is called on the hot
	// path and from many goroutines: it must be cheap and safe for
	// concurrent use.
	Sample func(key string) bool
}

// DefaultHistoryConfig returns the default HistoryConfig.
func DefaultHistoryConfig() HistoryConfig { return HistoryConfig{OpsPerClient: 1024} }

// Validate reports every problem with c.
func (c HistoryConfig) Validate() error {
	if c.OpsPerClient < 0 {
		return fmt.Errorf("%w: OpsPerClient %d < 0", ErrConfig, c.OpsPerClient)
	}
	return nil
}

// History records what every client did, for the checks that run after the
// benchmark: the sampled keys' operations (linearizability) and every write
// (lost writes).
//
// Each logical client gets its own Recorder: its slices are pre-sized and
// its mutex is only ever contended by a reader collecting the history, so
// recording costs an append and an uncontended lock, with no state shared
// between clients on the hot path.
type History struct {
	cfg   HistoryConfig
	start time.Time

	mu struct {
		sync.Mutex
		clients []*Recorder
		initial map[string]Op // SetInitial: each key's state before the history
	}
}

// SetInitial records key's state before the history began (read before
// a run from a cluster that may hold earlier runs' data; found false:
// absent). Ops then starts the key with a write of that state which
// returned before any operation was called, so the linearizability check
// knows where the key started even with LinConfig.PriorState. It is not
// one of Writes: the lost-write check is about the history's writes.
// Call it before the clients record.
func (h *History) SetInitial(key string, value []byte, found bool) {
	op := Op{Kind: Delete, Key: key, Outcome: OK, Call: -2, Return: -1}
	if found {
		op.Kind, op.Value = Put, V(value)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.initial == nil {
		h.mu.initial = make(map[string]Op)
	}
	h.mu.initial[key] = op
}

// NewHistory returns an empty History whose clock starts now.
func NewHistory(cfg HistoryConfig) (*History, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &History{cfg: cfg, start: time.Now()}, nil
}

// Now returns monotonic nanoseconds since the History was created: the
// clock for Op.Call and Op.Return. Safe for concurrent use.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Start is the wall-clock instant Now counts from, so other timelines (the
// fault windows) can be aligned with the history.
func (h *History) Start() time.Time { return h.start }

// NewRecorder registers a logical client and returns its recorder.
func (h *History) NewRecorder() *Recorder {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := &Recorder{h: h, id: len(h.mu.clients)}
	// Only one slice is pre-sized: with sampling, the slice of the kind
	// that is not expected grows on demand.
	if h.cfg.Sample == nil {
		r.mu.ops = make([]Op, 0, h.cfg.OpsPerClient)
	} else {
		r.mu.writes = make([]Op, 0, h.cfg.OpsPerClient)
	}
	h.mu.clients = append(h.mu.clients, r)
	return r
}

// Recorder records one logical client's operations. It is safe for
// concurrent use, but is meant to be used by one goroutine (one session has
// one outstanding command).
type Recorder struct {
	h  *History
	id int

	mu struct {
		sync.Mutex
		ops    []Op // sampled keys, every kind
		writes []Op // writes on keys not sampled (sampled ones are in ops)
	}
}

// ID is the client number Op.Client gets.
func (r *Recorder) ID() int { return r.id }

// Record records op (op.Client is overwritten with the recorder's id).
// Failed operations are dropped: they did not execute. An op without a
// valid Kind or Outcome is a bug in the caller and panics.
func (r *Recorder) Record(op Op) {
	if op.Kind < Put || op.Kind > CAS || op.Outcome < OK || op.Outcome > Failed {
		panic(fmt.Sprintf("check: recording %v with kind %d, outcome %d", op.Key, op.Kind, op.Outcome))
	}
	if op.Outcome == Failed {
		return
	}
	op.Client = r.id
	sampled := r.h.cfg.Sample == nil || r.h.cfg.Sample(op.Key)
	write := op.Kind.isWrite()
	if !sampled && !write {
		return
	}
	r.mu.Lock()
	if sampled {
		r.mu.ops = append(r.mu.ops, op)
	} else {
		r.mu.writes = append(r.mu.writes, op)
	}
	r.mu.Unlock()
}

// Put records a put of value (fingerprinted; not retained).
func (r *Recorder) Put(key string, value []byte, call, ret int64, out Outcome) {
	r.Record(Op{Kind: Put, Key: key, Value: V(value), Outcome: out, Call: call, Return: ret})
}

// Get records a get that returned value (if found).
func (r *Recorder) Get(key string, value []byte, found bool, call, ret int64, out Outcome) {
	op := Op{Kind: Get, Key: key, Found: found, Outcome: out, Call: call, Return: ret}
	if found {
		op.Value = V(value)
	}
	r.Record(op)
}

// Delete records a delete.
func (r *Recorder) Delete(key string, call, ret int64, out Outcome) {
	r.Record(Op{Kind: Delete, Key: key, Outcome: out, Call: call, Return: ret})
}

// CAS records a compare-and-swap of expect to value; ok is whether it
// swapped (meaningful only when out is OK).
func (r *Recorder) CAS(key string, expect, value []byte, ok bool, call, ret int64, out Outcome) {
	r.Record(Op{Kind: CAS, Key: key, Expect: V(expect), Value: V(value), CASOK: ok, Outcome: out, Call: call, Return: ret})
}

// Ops returns a copy of the recorded operations on sampled keys, every
// client's in turn, for CheckLinearizable. It may be called while clients
// still record; it then sees a prefix of each client's operations.
func (h *History) Ops() []Op {
	ops := h.collect(func(dst []Op, r *Recorder) []Op { return append(dst, r.mu.ops...) })
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(h.mu.initial)) {
		op := h.mu.initial[k]
		op.Client = len(h.mu.clients) // a lane of its own, after every recorder's
		ops = append(ops, op)
	}
	return ops
}

// Writes returns a copy of every recorded write (sampled or not), for
// LostWrites.
func (h *History) Writes() []Op {
	return h.collect(func(dst []Op, r *Recorder) []Op {
		for i := range r.mu.ops {
			if r.mu.ops[i].Kind.isWrite() {
				dst = append(dst, r.mu.ops[i])
			}
		}
		return append(dst, r.mu.writes...)
	})
}

func (h *History) collect(add func(dst []Op, r *Recorder) []Op) []Op {
	h.mu.Lock()
	clients := append([]*Recorder(nil), h.mu.clients...)
	h.mu.Unlock()
	var out []Op
	for _, r := range clients {
		r.mu.Lock()
		out = add(out, r)
		r.mu.Unlock()
	}
	return out
}

// SampleFraction returns a HistoryConfig.Sample that keeps about the given
// fraction of keys (0 keeps none, 1 all), chosen by a hash of the key so that
// every client and every run samples the same keys.
func SampleFraction(fraction float64) func(key string) bool {
	// Compare the hash with a threshold: no modulo bias, no allocation
	// beyond the key's own bytes.
	limit := uint64(min(max(fraction, 0), 1) * (1 << 63))
	return func(key string) bool {
		return fingerprintString(key)>>1 < limit
	}
}
