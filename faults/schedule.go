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
	// The kinds only a real network has (kernel layer, bench -hosts netns).
	ClientCut // clients cannot reach a node; its peers still can
	Flap      // a node's link goes down and up, each for a period
	Bandwidth // every node's link limited to a rate
	Blackhole // every packet to and from a node dropped, no RST
	Dup       // a fraction of every node's packets sent twice
	// The membership kinds: procedures of several steps (Record.Steps)
	// through the cluster's Reconfigurer.
	Replace // kill -9 a node, wipe its data, join a fresh node, promote it, remove the old
	Add     // join a fresh node and promote it
	Remove  // remove a member (the leader hands off first) and stop it
)

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
	// Target: the node for Kill, Restart, Pause, Resume, Isolate,
	// Replace, Remove and the sender of OneWay; Minority or Majority for
	// Split.
	Target Target
	// To is the receiver whose messages from Target are dropped (OneWay).
	To Target
	// Delay and Jitter (Delay): every message waits Delay plus a uniform
	// random [0, Jitter).
	Delay, Jitter time.Duration
	// Percent (Drop, Dup) is the percentage of messages dropped or
	// duplicated, in [0, 100].
	Percent float64
	// Period (Flap) is how long the link stays down, then up, in turn.
	Period time.Duration
	// Rate (Bandwidth) is the links' rate in bits per second.
	Rate uint64
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
	d := e.Kind.info()
	switch {
	case d != nil && d.format != nil:
		b.WriteString(d.format(e))
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

// EventError is one problem with one event of a schedule, as Parse and
// Schedule.Check report it (errors.Is(err, ErrSchedule) holds). A caller
// that names the schedule itself (a flag) prints Detail under its name.
type EventError struct {
	// Event names the event: `event 2 "explode@2s"` as written, or
	// `event "kill=4@1s"` as parsed.
	Event string
	// Problem says what is wrong with it.
	Problem string
}

func (e *EventError) Error() string { return ErrSchedule.Error() + ": " + e.Detail() }

// Detail is the problem without the package's prefix.
func (e *EventError) Detail() string { return e.Event + ": " + e.Problem }

// Unwrap returns ErrSchedule.
func (e *EventError) Unwrap() error { return ErrSchedule }

// eventError is the problem of the parsed event e.
func eventError(e Event, format string, args ...any) error {
	return &EventError{Event: fmt.Sprintf("event %q", e.String()), Problem: fmt.Sprintf(format, args...)}
}

// EventErrors returns every EventError in err (which may join many), in
// order.
func EventErrors(err error) []*EventError {
	var out []*EventError
	var walk func(error)
	walk = func(err error) {
		if ee, ok := err.(*EventError); ok {
			out = append(out, ee)
			return
		}
		if u, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

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
			errs = append(errs, &EventError{Event: fmt.Sprintf("event %d %q", i+1, item), Problem: err.Error()})
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
	hasDur, err := e.parseWhen(when)
	if err != nil {
		return e, err
	}
	name, argText, hasArg := strings.Cut(strings.TrimSpace(what), "=")
	d, role, err := lookupKind(name)
	if err != nil {
		return e, err
	}
	e.Kind, e.Target.Role = d.kind, role
	switch {
	case role != Any && hasArg:
		return e, fmt.Errorf("%q takes no \"=\" argument", name)
	case role == Any:
		if err := d.parse(&e, argument{kind: d.name, text: argText, has: hasArg}); err != nil {
			return e, err
		}
	}
	if hasDur && !d.fault {
		return e, fmt.Errorf("%v is an instant and takes no +duration", e.Kind)
	}
	if hasDur && d.member {
		return e, fmt.Errorf("%v ends when its last step is done and takes no +duration", e.Kind)
	}
	return e, nil
}

// parseWhen reads the AT[+FOR] after the "@"; hasDur says there was a
// +FOR.
func (e *Event) parseWhen(when string) (hasDur bool, err error) {
	at, dur, hasDur := strings.Cut(when, "+")
	if e.At, err = parseDuration(strings.TrimSpace(at), "start time"); err != nil {
		return hasDur, err
	}
	if !hasDur {
		return false, nil
	}
	if e.For, err = parseDuration(strings.TrimSpace(dur), "duration"); err != nil {
		return true, err
	}
	if e.For == 0 {
		return true, errors.New("duration +0: leave it out for a fault that lasts until healed")
	}
	return true, nil
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
	c := scheduleCheck{s: s, down: map[Kind]map[NodeID]open{}, dynamic: map[Kind][]open{}}
	for _, d := range kinds {
		if d.stopped != "" {
			c.down[d.kind] = map[NodeID]open{}
		}
	}
	for i, e := range s {
		c.expire(e.At)
		d := e.Kind.info()
		switch {
		case d.stopped != "":
			c.stop(i, e)
		case d.heals != 0:
			c.restart(i, e, d.heals)
		case d.healsNet:
			if c.openNet == 0 {
				c.bad(i, "no open-ended network fault (without a +duration) before it")
			}
			c.openNet = 0
		case d.net && e.For == 0:
			c.openNet++
		}
	}
	return c.errs
}

// open is a fault a schedule check has seen start and not yet end.
type open struct {
	until time.Duration // scheduled end; MaxInt64 if open-ended
	ev    int           // index of the event that opened it
}

// scheduleCheck is the state of Schedule.validate's walk.
type scheduleCheck struct {
	s    Schedule
	errs []error
	// down[kind][node] for the kinds that stop a node, by node id;
	// dynamic holds their open-ended leader/follower events, whose node
	// is unknown until they fire.
	down    map[Kind]map[NodeID]open
	dynamic map[Kind][]open
	openNet int // open-ended network faults
}

func (c *scheduleCheck) bad(i int, format string, args ...any) {
	c.errs = append(c.errs, eventError(c.s[i], format, args...))
}

// expire forgets the faults scheduled to end by at.
func (c *scheduleCheck) expire(at time.Duration) {
	for k := range c.down {
		for n, o := range c.down[k] {
			if o.until <= at {
				delete(c.down[k], n)
			}
		}
		c.dynamic[k] = slices.DeleteFunc(c.dynamic[k], func(o open) bool { return o.until <= at })
	}
}

// stop records event i, which stops a node (kill, pause). Killing a
// stopped node, or stopping a dead one, overlaps just as killing a dead
// one does.
func (c *scheduleCheck) stop(i int, e Event) {
	o := open{until: e.End(), ev: i}
	if e.Target.Role != Node {
		c.dynamic[e.Kind] = append(c.dynamic[e.Kind], o)
		return
	}
	conflict := false
	for k, nodes := range c.down {
		if prev, ok := nodes[e.Target.Node]; ok {
			c.bad(i, "node %d is still %s by %q", e.Target.Node, k.info().stopped, c.s[prev.ev].String())
			conflict = true
		}
	}
	if !conflict {
		c.down[e.Kind][e.Target.Node] = o
	}
}

// restart checks event i, which ends the open-ended faults of kind k
// (restart, resume), and forgets them.
func (c *scheduleCheck) restart(i int, e Event, k Kind) {
	verb := k.info().stopped
	openEnded := func(o open) bool { return o.until == math.MaxInt64 }
	if e.Target.Role == Node {
		o, ok := c.down[k][e.Target.Node]
		switch {
		case ok && !openEnded(o):
			c.bad(i, "node %d is %s by %q, which ends by itself", e.Target.Node, verb, c.s[o.ev].String())
		case ok:
			delete(c.down[k], e.Target.Node)
		case !slices.ContainsFunc(c.dynamic[k], openEnded):
			c.bad(i, "node %d was never %s (without a +duration) before", e.Target.Node, verb)
		}
		return
	}
	n := 0
	for node, o := range c.down[k] {
		if openEnded(o) {
			delete(c.down[k], node)
			n++
		}
	}
	before := len(c.dynamic[k])
	c.dynamic[k] = slices.DeleteFunc(c.dynamic[k], openEnded)
	if n == 0 && before == len(c.dynamic[k]) {
		c.bad(i, "no node was %s (without a +duration) before", verb)
	}
}

// Check validates s against the cluster's members: every node named exists
// when its event fires, a split has at least three members to split. The
// membership kinds change the members as the schedule goes: replace and
// add join a fresh node with the next unused id (one above the highest so
// far), replace and remove take a node out (remove never the last one).
// After a replace or remove of the leader or a follower which node left is
// known only when it fires: the ids named later are checked against every
// node that may still be a member. The Runner calls it first.
func (s Schedule) Check(members []NodeID) error {
	var errs []error
	known := slices.Clone(members) // may be members now
	count := len(members)          // are members now
	var next NodeID
	for _, id := range members {
		next = max(next, id)
	}
	for _, e := range s {
		stranger := false
		for _, t := range []Target{e.Target, e.To} {
			if t.Role == Node && !slices.Contains(known, t.Node) {
				errs = append(errs, eventError(e, "node %d is not a member (members: %v)", t.Node, known))
				stranger = true
			}
		}
		if stranger && e.Kind.ChangesMembers() {
			continue // it changes nothing
		}
		if e.Kind == Split && count < 3 {
			errs = append(errs, eventError(e, "a split needs at least 3 members, have %d", count))
		}
		if (e.Target.Role == Follower || e.To.Role == Follower) && count < 2 {
			errs = append(errs, eventError(e, "no follower in a cluster of %d", count))
		}
		switch e.Kind {
		case Remove:
			if count <= 1 {
				errs = append(errs, eventError(e, "would remove the last member (members: %v)", known))
				continue
			}
			fallthrough
		case Replace:
			if e.Target.Role == Node {
				known = slices.DeleteFunc(known, func(id NodeID) bool { return id == e.Target.Node })
			}
			count--
		}
		if e.Kind == Replace || e.Kind == Add {
			next++
			known = append(known, next)
			count++
		}
	}
	return errors.Join(errs...)
}
