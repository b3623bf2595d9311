package check

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// LinConfig configures CheckLinearizable.
type LinConfig struct {
	// Timeout bounds the check's running time. Checking linearizability is
	// NP-hard in the number of concurrent operations per key; when the
	// bound is hit the verdict is TimedOut, never a guess. The default is
	// 60 s. Must be > 0.
	Timeout time.Duration
	// VisualizePath, if not empty, is where porcupine's HTML
	// visualization of one offending key, the one with the fewest
	// operations, is written when the history is not linearizable. (One
	// key's page shows the violation; each page holds every partial
	// linearization, tens of MB for a busy key.)
	VisualizePath string
	// VisualizeMaxBytes caps that file: a larger visualization is not
	// written (LinResult.VisualizationNote says so). 0 means the
	// default, 16 MiB.
	VisualizeMaxBytes int
	// Spans are drawn on the visualization's timeline (the fault
	// windows, so a violation can be read against what was injected).
	Spans []Span
	// PriorState says keys may hold values written before the history
	// began (a cluster that served earlier runs): each key then starts
	// in an unknown state, which the first operation that reveals it (a
	// read, a successful CAS) fixes, instead of absent. The default,
	// false, is for a cluster that started empty. Reads of the same
	// prior value must still agree, and nothing written in the history
	// may be read stale; only the prior value itself is unchecked.
	PriorState bool
}

// Span is a labelled stretch of the history's time line, in History.Now
// nanoseconds (a fault window w of a run whose origin is t0 is
// [t0.Sub(h.Start()) + w.Start, t0.Sub(h.Start()) + w.End]).
type Span struct {
	Label      string
	Start, End int64
}

// DefaultLinConfig returns the default LinConfig.
func DefaultLinConfig() LinConfig { return LinConfig{Timeout: 60 * time.Second} }

// Validate reports every problem with c.
func (c LinConfig) Validate() error {
	if c.Timeout <= 0 {
		return fmt.Errorf("%w: Timeout %v <= 0", ErrConfig, c.Timeout)
	}
	return nil
}

// Verdict is the outcome of a linearizability check.
type Verdict uint8

const (
	// Linearizable: some total order of the operations respects real time
	// and the key-value semantics.
	Linearizable Verdict = iota + 1
	// NotLinearizable: no such order exists; the service is wrong.
	NotLinearizable
	// TimedOut: the check hit LinConfig.Timeout before deciding and found
	// no violation so far. It says nothing either way.
	TimedOut
)

func (v Verdict) String() string {
	switch v {
	case Linearizable:
		return "linearizable"
	case NotLinearizable:
		return "NOT linearizable"
	case TimedOut:
		return "unknown (timed out)"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// LinResult is what CheckLinearizable found.
type LinResult struct {
	Verdict Verdict
	// Ops is how many operations were checked, on Keys keys.
	Ops, Keys int
	// UnknownWrites is how many writes had an unknown outcome (checked as
	// possibly applied), of which PrunedWrites were left out because
	// nothing could tell whether they took effect (see CheckLinearizable);
	// DroppedReads how many reads with an unknown outcome were left out.
	UnknownWrites, PrunedWrites, DroppedReads int
	// BadKeys lists, sorted, the keys whose operations admit no
	// linearization (NotLinearizable only).
	BadKeys []string
	// Visualization is the path of the HTML visualization written, or "";
	// VisualizedKey the key it shows, VisualizationNote why none was
	// written although asked for.
	Visualization     string
	VisualizedKey     string
	VisualizationNote string
	// Elapsed is the time the check took.
	Elapsed time.Duration
	// PriorState: keys started in an unknown state (LinConfig.PriorState).
	PriorState bool
}

// String is the verdict line of a benchmark report.
func (r LinResult) String() string {
	s := fmt.Sprintf("linearizability: %v (%d ops on %d keys, %d unknown-outcome writes (%d unobserved, left out), %d unknown reads dropped; checked in %v)",
		r.Verdict, r.Ops, r.Keys, r.UnknownWrites, r.PrunedWrites, r.DroppedReads, r.Elapsed.Round(time.Millisecond))
	if r.PriorState {
		s += "; each key's value from before the run taken as found, not as absent"
	}
	if len(r.BadKeys) > 0 {
		s += fmt.Sprintf("; violating keys: %s", strings.Join(r.BadKeys, " "))
	}
	if r.Visualization != "" {
		s += fmt.Sprintf("; see %s (key %s)", r.Visualization, r.VisualizedKey)
	}
	if r.VisualizationNote != "" {
		s += "; " + r.VisualizationNote
	}
	return s
}

// kvState is the model's state of one key (a partition): absent, or
// holding a value, or (unknown) whatever it held before the history.
type kvState struct {
	v       Value
	exists  bool
	unknown bool
}

// kvModel is the sequential specification of one key. Inputs and outputs
// are both the *Op: the checker needs nothing that is not in it.
var kvModel = porcupine.Model{
	Init: func() any { return kvState{} },
	Step: func(state, input, _ any) (bool, any) {
		st := state.(kvState)
		op := input.(*Op)
		unknown := op.Outcome == Unknown
		switch op.Kind {
		case Get:
			// Unknown reads never reach the checker (prepare drops them).
			if st.unknown {
				return true, kvState{v: op.Value, exists: op.Found} // the prior state, revealed
			}
			if op.Found != st.exists || (op.Found && op.Value != st.v) {
				return false, st
			}
			return true, st
		case Put:
			return true, kvState{v: op.Value, exists: true}
		case Delete:
			return true, kvState{}
		case CAS:
			if st.unknown {
				// A known swap reveals the prior value; a known
				// failure or an unknown outcome leaves it unknown
				// (weaker, never wrong).
				if !unknown && op.CASOK {
					return true, kvState{v: op.Value, exists: true}
				}
				return true, st
			}
			match := st.exists && st.v == op.Expect
			if !unknown && op.CASOK != match {
				return false, st
			}
			if match {
				return true, kvState{v: op.Value, exists: true}
			}
			return true, st
		}
		panic(fmt.Sprintf("check: op of kind %v in the model", op.Kind))
	},
	Hash: func(state any) uint64 {
		st := state.(kvState)
		if st.unknown {
			return 2 // even, unlike a value's; not absent's 0
		}
		if !st.exists {
			return 0
		}
		return st.v.sum | 1
	},
	DescribeOperation: func(input, _ any) string { return input.(*Op).String() },
	DescribeState: func(state any) string {
		st := state.(kvState)
		if st.unknown {
			return "as before the run"
		}
		if !st.exists {
			return "absent"
		}
		return st.v.String()
	},
}

// prepared is a history turned into porcupine operations, one partition
// per key.
type prepared struct {
	keys   []string                // sorted
	parts  [][]porcupine.Operation // parts[i] holds keys[i]'s operations
	ops    int
	unkW   int
	pruned int
	dropR  int
}

// prepare drops what cannot be checked and models unknown outcomes (see
// bound in unknown.go), one partition per key.
func prepare(ops []Op) prepared {
	var p prepared
	var last int64
	lanes := 0
	byKey := make(map[string][]*Op)
	for i := range ops {
		op := &ops[i]
		last = max(last, op.Return)
		lanes = max(lanes, op.Client+1)
		if op.Kind < Put || op.Kind > CAS || op.Outcome < OK || op.Outcome > Failed {
			panic(fmt.Sprintf("check: op %d has kind %v, outcome %v", i, op.Kind, op.Outcome))
		}
		if op.Outcome == Failed {
			continue
		}
		if op.Outcome == Unknown && !op.Kind.isWrite() {
			p.dropR++
			continue
		}
		byKey[op.Key] = append(byKey[op.Key], op)
	}
	p.keys = slices.Sorted(maps.Keys(byKey))
	p.parts = make([][]porcupine.Operation, len(p.keys))
	for i, k := range p.keys {
		kops := byKey[k]
		facts := observe(kops)
		part := make([]porcupine.Operation, 0, len(kops))
		for _, op := range kops {
			po := porcupine.Operation{ClientId: op.Client, Input: op, Output: op, Call: op.Call, Return: op.Return}
			if op.Outcome == Unknown {
				p.unkW++
				ret, keep := facts.bound(op, last+1)
				if !keep {
					p.pruned++
					continue
				}
				po.Return = ret
				// Its client went on with other operations that
				// overlap this one; a lane of its own keeps the
				// visualization readable.
				po.ClientId = lanes
				lanes++
			}
			part = append(part, po)
		}
		p.parts[i] = part
		p.ops += len(part)
	}
	return p
}

// model returns kvModel partitioned along parts: the history handed to
// porcupine is the concatenation of parts, in order. With prior, every
// key starts in the unknown state (LinConfig.PriorState).
func model(parts [][]porcupine.Operation, prior bool) porcupine.Model {
	m := kvModel
	m.Partition = func([]porcupine.Operation) [][]porcupine.Operation { return parts }
	if prior {
		m.Init = func() any { return kvState{unknown: true} }
	}
	return m
}

// CheckLinearizable checks ops (from History.Ops) for linearizability
// against a key-value map, key by key, within cfg.Timeout.
//
// A write whose outcome is unknown may have taken effect at any moment
// after its call, or never: it is checked as an operation that returns after
// everything else. Such open-ended operations make the search exponential,
// so two exact reductions come first (unknown.go): a write whose value
// nobody observed is left out, and one whose value was observed must have
// returned before the first observer did. When the history
// is not linearizable and cfg.VisualizePath is set, it writes porcupine's
// HTML visualization of the violating keys there; an error is returned only
// when that file cannot be written (the result is still valid).
func CheckLinearizable(ops []Op, cfg LinConfig) (LinResult, error) {
	if err := cfg.Validate(); err != nil {
		return LinResult{}, err
	}
	began := time.Now()
	p := prepare(ops)
	res := LinResult{Ops: p.ops, Keys: len(p.keys), UnknownWrites: p.unkW, PrunedWrites: p.pruned, DroppedReads: p.dropR,
		PriorState: cfg.PriorState}
	all := slices.Concat(p.parts...)
	out, info := porcupine.CheckOperationsVerbose(model(p.parts, cfg.PriorState), all, cfg.Timeout)
	switch out {
	case porcupine.Ok:
		res.Verdict = Linearizable
	case porcupine.Unknown:
		res.Verdict = TimedOut
	default:
		res.Verdict = NotLinearizable
	}
	if res.Verdict != NotLinearizable {
		res.Elapsed = time.Since(began)
		return res, nil
	}
	// A partition is fine when one of its partial linearizations covers
	// every operation in it.
	var bad [][]porcupine.Operation
	for i, partials := range info.PartialLinearizations() {
		complete := false
		for _, l := range partials {
			if len(l) == len(p.parts[i]) {
				complete = true
				break
			}
		}
		if !complete {
			res.BadKeys = append(res.BadKeys, p.keys[i])
			bad = append(bad, p.parts[i])
		}
	}
	var err error
	if cfg.VisualizePath != "" && len(bad) > 0 {
		shortest := 0
		for i := range bad {
			if len(bad[i]) < len(bad[shortest]) {
				shortest = i
			}
		}
		var written bool
		written, res.VisualizationNote, err = visualize(cfg, began, bad[shortest], res.BadKeys[shortest])
		if written {
			res.Visualization, res.VisualizedKey = cfg.VisualizePath, res.BadKeys[shortest]
		}
	}
	res.Elapsed = time.Since(began)
	return res, err
}

// defaultVisualizeMaxBytes is LinConfig.VisualizeMaxBytes's default.
const defaultVisualizeMaxBytes = 16 << 20

// errTooBig stops a visualization at LinConfig.VisualizeMaxBytes.
var errTooBig = errors.New("check: visualization over its size cap")

// capBuffer is a buffer that refuses to grow past max bytes.
type capBuffer struct {
	bytes.Buffer
	max int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errTooBig
	}
	return b.Buffer.Write(p)
}

// visualize writes the visualization of one violating key, part (its
// operations), re-checked on its own within what is left of cfg.Timeout
// (at least a quarter of it, so the whole call stays under 1.25 times
// the timeout). It returns whether the file was written, and if not,
// why (a note), or an error when the file could not be written.
func visualize(cfg LinConfig, began time.Time, part []porcupine.Operation, key string) (bool, string, error) {
	m := model([][]porcupine.Operation{part}, cfg.PriorState)
	left := max(cfg.Timeout-time.Since(began), cfg.Timeout/4)
	out, info := porcupine.CheckOperationsVerbose(m, part, left)
	if out != porcupine.Illegal {
		return false, fmt.Sprintf("visualization not written: key %s alone could not be re-checked in %v", key, left.Round(time.Millisecond)), nil
	}
	var notes []porcupine.Annotation
	for _, s := range cfg.Spans {
		notes = append(notes, porcupine.Annotation{Tag: "faults", Start: s.Start, End: s.End,
			Description: s.Label, BackgroundColor: "#f6d6d6"})
	}
	info.AddAnnotations(notes)
	limit := cfg.VisualizeMaxBytes
	if limit <= 0 {
		limit = defaultVisualizeMaxBytes
	}
	buf := &capBuffer{max: limit}
	if err := porcupine.Visualize(m, info, buf); errors.Is(err, errTooBig) {
		return false, fmt.Sprintf("visualization of key %s (%d ops) not written: over its cap of %d bytes", key, len(part), limit), nil
	} else if err != nil {
		return false, "", fmt.Errorf("check: visualize key %s: %w", key, err)
	}
	if err := os.WriteFile(cfg.VisualizePath, buf.Bytes(), 0o644); err != nil {
		return false, "", fmt.Errorf("check: write visualization: %w", err)
	}
	return true, "", nil
}
