package faults

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NodeID names a node, as engine.NodeID does (same underlying type, so the
// harness converts with engine.NodeID(id)). 0 is no node.
type NodeID uint16

// Kind is what a fault event does.
type Kind uint8

// The event kinds. Kill, Pause and the network kinds are faults: they open
// a window that closes when they heal (after their duration, or at a
// Restart, Resume or Heal event). Restart, Resume and Heal are instants.
const (
	Kill    Kind = iota + 1 // kill -9 a node; it restarts from its disk
	Restart                 // restart killed nodes
	Pause                   // SIGSTOP a node; SIGCONT when it heals
	Resume                  // SIGCONT paused nodes
	Isolate                 // cut a node off from every other node, both ways
	Split                   // partition the members into a minority and a majority
	OneWay                  // drop one node's messages to another, not the replies
	Delay                   // delay every message between nodes
	Drop                    // drop a fraction of every message between nodes
	Heal                    // end every open-ended network fault
)

var kindNames = map[Kind]string{
	Kill: "kill", Restart: "restart", Pause: "pause", Resume: "resume", Isolate: "isolate",
	Split: "split", OneWay: "oneway", Delay: "delay", Drop: "drop", Heal: "heal",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// IsFault reports whether events of kind k open a fault window.
func (k Kind) IsFault() bool { return k != Restart && k != Resume && k != Heal }

// isNet reports whether k acts through the transport's fault hook.
func (k Kind) isNet() bool {
	return k == Isolate || k == Split || k == OneWay || k == Delay || k == Drop
}

// Role says how an event's target is chosen.
type Role uint8

const (
	// Any: no target (delay, drop, heal) or every node concerned
	// (restart, resume without a node).
	Any Role = iota
	// Leader: the node that leads when the event fires.
	Leader
	// Follower: a live node other than the leader when the event fires
	// (the lowest-numbered one).
	Follower
	// Node: the node Target.Node.
	Node
	// Minority: for Split, the leader ends up on the minority side (the
	// majority must elect a new leader).
	Minority
	// Majority: for Split, the leader stays with the majority (the
	// minority's followers are cut off).
	Majority
)

// Target is who an event acts on.
type Target struct {
	Role Role
	Node NodeID // when Role is Node
}

func (t Target) String() string {
	switch t.Role {
	case Leader:
		return "leader"
	case Follower:
		return "follower"
	case Node:
		return strconv.Itoa(int(t.Node))
	case Minority:
		return "minority"
	case Majority:
		return "majority"
	}
	return ""
}

// Event is one entry of a Schedule.
type Event struct {
	Kind Kind
	// Target: the node for Kill, Restart, Pause, Resume, Isolate and the
	// sender of OneWay; Minority or Majority for Split.
	Target Target
	// To is the receiver whose messages from Target are dropped (OneWay).
	To Target
	// Delay and Jitter (Delay): every message waits Delay plus a uniform
	// random [0, Jitter).
	Delay, Jitter time.Duration
	// Percent (Drop) is the percentage of messages dropped, in [0, 100].
	Percent float64
	// At is when the event fires, from the start of the measured run.
	At time.Duration
	// For is how long a fault lasts; 0 means until a Restart, Resume or
	// Heal event, or the end of the run.
	For time.Duration
}

// String formats e in the schedule syntax; Parse(e.String()) gives e back.
func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	switch {
	case e.Kind == OneWay:
		fmt.Fprintf(&b, "=%v>%v", e.Target, e.To)
	case e.Kind == Delay:
		fmt.Fprintf(&b, "=%v", e.Delay)
		if e.Jitter > 0 {
			fmt.Fprintf(&b, "~%v", e.Jitter)
		}
	case e.Kind == Drop:
		fmt.Fprintf(&b, "=%s%%", strconv.FormatFloat(e.Percent, 'f', -1, 64))
	case e.Target.Role == Leader || e.Target.Role == Follower:
		b.WriteString("-" + e.Target.String())
	case e.Target.Role != Any:
		b.WriteString("=" + e.Target.String())
	}
	fmt.Fprintf(&b, "@%v", e.At)
	if e.For > 0 {
		fmt.Fprintf(&b, "+%v", e.For)
	}
	return b.String()
}

// End is when the event's fault is scheduled to heal (math.MaxInt64 for an
// open-ended one, At for an instant).
func (e Event) End() time.Duration {
	switch {
	case !e.Kind.IsFault():
		return e.At
	case e.For == 0:
		return math.MaxInt64
	}
	return e.At + e.For
}

// Schedule is a list of events, in firing order (by At; events at the same
// time in the order written).
type Schedule []Event

func (s Schedule) String() string {
	parts := make([]string, len(s))
	for i, e := range s {
		parts[i] = e.String()
	}
	return strings.Join(parts, ",")
}

// ErrSchedule is wrapped by every problem Parse and Schedule.Check report.
var ErrSchedule = errors.New("faults: bad schedule")

// Parse reads a schedule (see the package documentation for the syntax).
// An empty string is an empty schedule. Every problem is reported, one
// error per problem, joined.
func Parse(text string) (Schedule, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	var s Schedule
	var errs []error
	for i, item := range strings.Split(text, ",") {
		item = strings.TrimSpace(item)
		e, err := parseEvent(item)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: event %d %q: %w", ErrSchedule, i+1, item, err))
			continue
		}
		s = append(s, e)
	}
	slices.SortStableFunc(s, func(a, b Event) int { return cmp.Compare(a.At, b.At) })
	if len(errs) == 0 {
		errs = append(errs, s.validate()...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// MustParse is Parse for schedules written in code; it panics on error.
func MustParse(text string) Schedule {
	s, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return s
}

// parseEvent reads one KIND[=ARG]@AT[+FOR].
func parseEvent(item string) (Event, error) {
	var e Event
	what, when, ok := strings.Cut(item, "@")
	if !ok {
		return e, errors.New(`missing "@" and start time`)
	}
	what = strings.TrimSpace(what)
	at, dur, hasDur := strings.Cut(when, "+")
	at, dur = strings.TrimSpace(at), strings.TrimSpace(dur)
	var err error
	if e.At, err = parseDuration(at, "start time"); err != nil {
		return e, err
	}
	if hasDur {
		if e.For, err = parseDuration(dur, "duration"); err != nil {
			return e, err
		}
		if e.For == 0 {
			return e, errors.New("duration +0: leave it out for a fault that lasts until healed")
		}
	}
	name, arg, hasArg := strings.Cut(what, "=")
	base, role, hasRole := strings.Cut(name, "-")
	if name == "partition-leader" {
		// The spelling of isolate-leader.
		base, role, hasRole = "isolate", "leader", true
	}
	for k, n := range kindNames {
		if n == base {
			e.Kind = k
		}
	}
	if e.Kind == 0 {
		return e, fmt.Errorf("unknown kind %q (kinds: kill, restart, pause, resume, isolate, partition-leader, split, oneway, delay, drop, heal)", name)
	}
	if hasRole {
		if hasArg {
			return e, fmt.Errorf("%q takes no \"=\" argument", name)
		}
		switch {
		case role == "leader" && (e.Kind == Kill || e.Kind == Pause || e.Kind == Isolate):
			e.Target.Role = Leader
		case role == "follower" && (e.Kind == Kill || e.Kind == Pause || e.Kind == Isolate):
			e.Target.Role = Follower
		default:
			return e, fmt.Errorf("unknown kind %q", name)
		}
	} else {
		if err := e.parseArg(arg, hasArg); err != nil {
			return e, err
		}
	}
	if hasDur && !e.Kind.IsFault() {
		return e, fmt.Errorf("%v is an instant and takes no +duration", e.Kind)
	}
	return e, nil
}

// parseArg reads the "=ARG" of an event whose kind has no role suffix.
func (e *Event) parseArg(arg string, has bool) error {
	need := func(what string) error {
		if !has || arg == "" {
			return fmt.Errorf("%v needs =%s", e.Kind, what)
		}
		return nil
	}
	var err error
	switch e.Kind {
	case Kill, Pause, Isolate:
		if err := need("NODE (or use " + e.Kind.String() + "-leader, " + e.Kind.String() + "-follower)"); err != nil {
			return err
		}
		e.Target, err = parseNode(arg)
	case Restart, Resume:
		if has {
			e.Target, err = parseNode(arg)
		}
	case Heal:
		if has {
			return errors.New("heal takes no argument")
		}
	case Split:
		if err := need("minority or =majority (the side the leader is put on)"); err != nil {
			return err
		}
		switch arg {
		case "minority":
			e.Target.Role = Minority
		case "majority":
			e.Target.Role = Majority
		default:
			return fmt.Errorf("split=%s: want split=minority or split=majority", arg)
		}
	case OneWay:
		if err := need("FROM>TO"); err != nil {
			return err
		}
		from, to, ok := strings.Cut(arg, ">")
		if !ok {
			return fmt.Errorf("oneway=%s: want oneway=FROM>TO, e.g. oneway=1>2 or oneway=leader>follower", arg)
		}
		if e.Target, err = parseEndpoint(from); err != nil {
			return err
		}
		if e.To, err = parseEndpoint(to); err != nil {
			return err
		}
		if e.Target == e.To && e.Target.Role == Node {
			return fmt.Errorf("oneway=%s: a node to itself", arg)
		}
		if e.Target == e.To {
			return fmt.Errorf("oneway=%s: both ends are the %v", arg, e.Target)
		}
	case Delay:
		if err := need("DURATION[~JITTER]"); err != nil {
			return err
		}
		d, j, hasJ := strings.Cut(arg, "~")
		if e.Delay, err = parseDuration(d, "delay"); err != nil {
			return err
		}
		if hasJ {
			if e.Jitter, err = parseDuration(j, "jitter"); err != nil {
				return err
			}
		}
		if e.Delay == 0 && e.Jitter == 0 {
			return errors.New("delay=0: nothing to inject")
		}
		if e.Delay > MaxDelay || e.Jitter > MaxDelay {
			return fmt.Errorf("delay=%s: delay and jitter are at most %v", arg, MaxDelay)
		}
	case Drop:
		if err := need("PERCENT%"); err != nil {
			return err
		}
		p, err := strconv.ParseFloat(strings.TrimSuffix(arg, "%"), 64)
		if err != nil {
			return fmt.Errorf("drop=%s: bad percentage", arg)
		}
		if p < 0 || p > 100 || math.IsNaN(p) {
			return fmt.Errorf("drop=%s: percentage outside 0..100", arg)
		}
		e.Percent = p
	}
	return err
}

func parseNode(s string) (Target, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return Target{}, fmt.Errorf("bad node id %q (want 1..65535)", s)
	}
	return Target{Role: Node, Node: NodeID(n)}, nil
}

func parseEndpoint(s string) (Target, error) {
	switch s {
	case "leader":
		return Target{Role: Leader}, nil
	case "follower":
		return Target{Role: Follower}, nil
	}
	return parseNode(s)
}

func parseDuration(s, what string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad %s %q (want a Go duration such as 10s, 1m30s, 250ms)", what, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative %s %q", what, s)
	}
	return d, nil
}

// validate checks what no single event shows: a node killed (paused) again
// while it is still down (stopped), a restart (resume) with nothing to
// restart (resume), a heal with nothing open to heal. It walks the events
// in time order; scheduled heals at time t come before events firing at t.
func (s Schedule) validate() []error {
	type open struct {
		until time.Duration // scheduled end; MaxInt64 if open-ended
		ev    int           // index of the event that opened it
	}
	var errs []error
	bad := func(i int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: event %q: %s", ErrSchedule, s[i].String(), fmt.Sprintf(format, args...)))
	}
	// down[kind][node] for Kill and Pause by node id; dynamic counts the
	// open-ended leader/follower kills (pauses), whose node is unknown
	// until they fire.
	down := map[Kind]map[NodeID]open{Kill: {}, Pause: {}}
	dynamic := map[Kind][]open{Kill: nil, Pause: nil}
	openNet := 0
	expire := func(at time.Duration) {
		for _, k := range []Kind{Kill, Pause} {
			for n, o := range down[k] {
				if o.until <= at {
					delete(down[k], n)
				}
			}
			dynamic[k] = slices.DeleteFunc(dynamic[k], func(o open) bool { return o.until <= at })
		}
	}
	healOf := map[Kind]Kind{Restart: Kill, Resume: Pause}
	for i, e := range s {
		expire(e.At)
		switch e.Kind {
		case Kill, Pause:
			o := open{until: e.End(), ev: i}
			if e.Target.Role == Node {
				// Killing a stopped node, or stopping a dead one,
				// overlaps just as killing a dead one does.
				conflict := false
				for _, k := range []Kind{Kill, Pause} {
					if prev, ok := down[k][e.Target.Node]; ok {
						bad(i, "node %d is still %s by %q", e.Target.Node, map[Kind]string{Kill: "killed", Pause: "paused"}[k], s[prev.ev].String())
						conflict = true
					}
				}
				if conflict {
					continue
				}
				down[e.Kind][e.Target.Node] = o
			} else {
				dynamic[e.Kind] = append(dynamic[e.Kind], o)
			}
		case Restart, Resume:
			k := healOf[e.Kind]
			verb := map[Kind]string{Kill: "killed", Pause: "paused"}[k]
			if e.Target.Role == Node {
				o, ok := down[k][e.Target.Node]
				switch {
				case ok && o.until != math.MaxInt64:
					bad(i, "node %d is %s by %q, which ends by itself", e.Target.Node, verb, s[o.ev].String())
				case ok:
					delete(down[k], e.Target.Node)
				case !slices.ContainsFunc(dynamic[k], func(o open) bool { return o.until == math.MaxInt64 }):
					bad(i, "node %d was never %s (without a +duration) before", e.Target.Node, verb)
				}
				continue
			}
			n := 0
			for node, o := range down[k] {
				if o.until == math.MaxInt64 {
					delete(down[k], node)
					n++
				}
			}
			before := len(dynamic[k])
			dynamic[k] = slices.DeleteFunc(dynamic[k], func(o open) bool { return o.until == math.MaxInt64 })
			if n == 0 && before == len(dynamic[k]) {
				bad(i, "no node was %s (without a +duration) before", verb)
			}
		case Heal:
			if openNet == 0 {
				bad(i, "no open-ended network fault (without a +duration) before it")
			}
			openNet = 0
		default:
			if e.Kind.isNet() && e.For == 0 {
				openNet++
			}
		}
	}
	return errs
}

// Check validates s against the cluster's members: every node named exists,
// a split has at least three members to split. The Runner calls it first.
func (s Schedule) Check(members []NodeID) error {
	var errs []error
	for _, e := range s {
		for _, t := range []Target{e.Target, e.To} {
			if t.Role == Node && !slices.Contains(members, t.Node) {
				errs = append(errs, fmt.Errorf("%w: event %q: node %d is not a member (members: %v)", ErrSchedule, e.String(), t.Node, members))
			}
		}
		if e.Kind == Split && len(members) < 3 {
			errs = append(errs, fmt.Errorf("%w: event %q: a split needs at least 3 members, have %d", ErrSchedule, e.String(), len(members)))
		}
		if (e.Target.Role == Follower || e.To.Role == Follower) && len(members) < 2 {
			errs = append(errs, fmt.Errorf("%w: event %q: no follower in a cluster of %d", ErrSchedule, e.String(), len(members)))
		}
	}
	return errors.Join(errs...)
}
