package faults

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// kindInfo describes one event kind: its name, how its argument is read
// and written, what the schedule check needs to know of it, and its help
// lines. Parsing, Kind.String, Event.String, Usage and Schedule.validate
// all read the kinds table, so a kind is added in one place.
type kindInfo struct {
	kind Kind
	name string
	// fault: events of the kind open a window that heals (the others are
	// instants).
	fault bool
	// net: the kind acts on the network: through the transport's fault
	// hook, or in the kernel (see kernel).
	net bool
	// kernel: only the kernel layer can inject the kind (bench -hosts
	// netns); the in-process hook has no equivalent.
	kernel bool
	// roles: the kind takes a -leader or -follower suffix instead of an
	// argument.
	roles bool
	// aliases are other spellings of the kind with a role suffix, e.g.
	// partition-leader for isolate-leader.
	aliases map[string]Role
	// stopped, for a kind that stops a node (kill, pause), is what the
	// node then is, for the schedule check's messages.
	stopped string
	// heals, for an instant that ends open-ended faults (restart,
	// resume), is the kind whose faults it ends.
	heals Kind
	// healsNet: the instant ends every open-ended network fault (heal).
	healsNet bool
	// member: the kind changes the cluster's membership, a procedure of
	// steps through the cluster's Reconfigurer (membership.go); its
	// window runs from its start until its last step, so it takes no
	// +DURATION.
	member bool
	// parse reads the event's "=ARG" into it.
	parse func(e *Event, a argument) error
	// format writes the event's argument, "=..." or "" (nil: the target,
	// if any).
	format func(e Event) string
	// usage is the kind's lines of the help text: a spec and what it does.
	usage [][2]string
}

// kinds is every event kind, in the order the help text lists them.
var kinds = []kindInfo{
	{kind: Kill, name: "kill", fault: true, roles: true, stopped: "killed", parse: parseNodeArg,
		usage: [][2]string{
			{"kill-leader@10s+5s", "kill -9 the leader, restart it from its disk 5s later"},
			{"kill-follower@5s", "kill -9 a follower (until restart)"},
			{"kill=2@5s", "kill -9 node 2"},
		}},
	{kind: Restart, name: "restart", heals: Kill, parse: parseOptionalNode,
		usage: [][2]string{
			{"restart@15s", "restart every node killed without +DURATION"},
			{"restart=2@15s", "restart node 2"},
		}},
	{kind: Pause, name: "pause", fault: true, roles: true, stopped: "paused", parse: parseNodeArg,
		usage: [][2]string{{"pause-leader@60s+3s", "SIGSTOP the leader, SIGCONT 3s later (pause=ID, pause-follower)"}}},
	{kind: Resume, name: "resume", heals: Pause, parse: parseOptionalNode,
		usage: [][2]string{{"resume@63s", "SIGCONT every node paused without +DURATION (resume=ID)"}}},
	{kind: Isolate, name: "isolate", fault: true, net: true, roles: true, parse: parseNodeArg,
		aliases: map[string]Role{"partition-leader": Leader},
		usage: [][2]string{
			{"partition-leader@20s+5s", "cut the leader off from all others (also isolate-leader)"},
			{"isolate=3@30s+5s", "cut node 3 off from all others (also isolate-follower)"},
		}},
	{kind: Split, name: "split", fault: true, net: true, parse: parseSplit,
		usage: [][2]string{
			{"split=minority@10s+5s", "minority/majority split, the leader in the minority"},
			{"split=majority@10s+5s", "minority/majority split, the leader in the majority"},
		}},
	{kind: OneWay, name: "oneway", fault: true, net: true, parse: parseOneWay,
		format: func(e Event) string { return fmt.Sprintf("=%v>%v", e.Target, e.To) },
		usage:  [][2]string{{"oneway=1>2@10s+5s", "drop node 1's messages to node 2 (ids, leader or follower)"}}},
	{kind: Delay, name: "delay", fault: true, net: true, parse: parseDelay, format: formatDelay,
		usage: [][2]string{
			{"delay=5ms@40s+10s", "delay every message between nodes by 5ms"},
			{"delay=5ms~2ms@40s+10s", "... plus 0-2ms of random jitter (each at most 1m)"},
		}},
	{kind: Drop, name: "drop", fault: true, net: true, parse: parseDrop,
		format: func(e Event) string { return "=" + strconv.FormatFloat(e.Percent, 'f', -1, 64) + "%" },
		usage:  [][2]string{{"drop=2%@50s+10s", "drop 2% of the messages between nodes"}}},
	{kind: Heal, name: "heal", healsNet: true, parse: parseNoArg,
		usage: [][2]string{{"heal@60s", "lift every network fault given without +DURATION"}}},
	{kind: ClientCut, name: "clientcut", fault: true, net: true, kernel: true, roles: true, parse: parseNodeArg,
		usage: [][2]string{{"clientcut-leader@10s+5s", "clients cannot reach the leader, its peers still can (clientcut=ID; -hosts netns)"}}},
	{kind: Blackhole, name: "blackhole", fault: true, net: true, kernel: true, roles: true, parse: parseNodeArg,
		usage: [][2]string{{"blackhole=2@10s+5s", "drop every packet to and from node 2 without a reset: connections hang (blackhole-leader; -hosts netns)"}}},
	{kind: Flap, name: "flap", fault: true, net: true, kernel: true, parse: parseFlap,
		format: func(e Event) string { return fmt.Sprintf("=%v:%v", e.Target, e.Period) },
		usage:  [][2]string{{"flap=leader:500ms@10s+5s", "the node's link down 500ms, up 500ms, in turn (ID, leader or follower; -hosts netns)"}}},
	{kind: Bandwidth, name: "bandwidth", fault: true, net: true, kernel: true, parse: parseBandwidth,
		format: func(e Event) string { return "=" + FormatRate(e.Rate) },
		usage:  [][2]string{{"bandwidth=1mbit@10s+5s", "every node's link limited to 1 Mbit/s each way (kbit, mbit, gbit; -hosts netns)"}}},
	{kind: Dup, name: "dup", fault: true, net: true, kernel: true, parse: parseDrop,
		format: func(e Event) string { return "=" + strconv.FormatFloat(e.Percent, 'f', -1, 64) + "%" },
		usage:  [][2]string{{"dup=10%@10s+5s", "send 10% of every node's packets twice (-hosts netns)"}}},
	{kind: Replace, name: "replace", fault: true, member: true, parse: parseMemberArg, format: formatTarget,
		usage: [][2]string{{"replace=2@5s", "kill -9 node 2, wipe its data, join a fresh node (next id), promote it once caught up, remove 2 (=ID, =leader, =follower)"}}},
	{kind: Add, name: "add", fault: true, member: true, parse: parseNoArg,
		usage: [][2]string{{"add@5s", "join a fresh node (next id) as a learner, promote it once caught up"}}},
	{kind: Remove, name: "remove", fault: true, member: true, parse: parseMemberArg, format: formatTarget,
		usage: [][2]string{{"remove=2@5s", "remove node 2 from the configuration (a leader hands off first), stop it (=ID, =leader, =follower)"}}},
}

// info returns k's descriptor, nil for a Kind not in the table.
func (k Kind) info() *kindInfo {
	for i := range kinds {
		if kinds[i].kind == k {
			return &kinds[i]
		}
	}
	return nil
}

func (k Kind) String() string {
	if d := k.info(); d != nil {
		return d.name
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// IsFault reports whether events of kind k open a fault window.
func (k Kind) IsFault() bool {
	d := k.info()
	return d != nil && d.fault
}

// ActsOnProcess reports whether k acts on a node's process (kill, restart,
// pause, resume, and the membership kinds, which start and stop nodes),
// which only whoever started the nodes can do; the other kinds go through
// the nodes' fault hook.
func (k Kind) ActsOnProcess() bool {
	d := k.info()
	return d != nil && (d.stopped != "" || d.heals != 0 || d.member)
}

// ChangesMembers reports whether k is a membership kind (replace, add,
// remove), which needs a Cluster that is a Reconfigurer.
func (k Kind) ChangesMembers() bool {
	d := k.info()
	return d != nil && d.member
}

// Joins is how many fresh nodes s starts (one per replace and add): the
// spare nodes a harness must have ready.
func (s Schedule) Joins() int {
	n := 0
	for _, e := range s {
		if e.Kind == Replace || e.Kind == Add {
			n++
		}
	}
	return n
}

// NetworkKinds names the kinds that do not act on a process and that the
// nodes' hook can inject (what a running cluster can play), in table
// order.
func NetworkKinds() []string {
	var out []string
	for _, d := range kinds {
		if !d.kind.ActsOnProcess() && !d.kernel {
			out = append(out, d.name)
		}
	}
	return out
}

// KernelOnly reports whether only the kernel layer can inject k (bench
// -hosts netns).
func (k Kind) KernelOnly() bool {
	d := k.info()
	return d != nil && d.kernel
}

// isNet reports whether k acts on the network.
func (k Kind) isNet() bool {
	d := k.info()
	return d != nil && d.net
}

// lookupKind resolves the part of an event before "=": a kind's name,
// NAME-leader or NAME-follower for a kind with roles, or an alias.
func lookupKind(name string) (*kindInfo, Role, error) {
	base, role, hasRole := strings.Cut(name, "-")
	for i := range kinds {
		d := &kinds[i]
		if r, ok := d.aliases[name]; ok {
			return d, r, nil
		}
		if d.name != base {
			continue
		}
		switch {
		case !hasRole:
			return d, Any, nil
		case d.roles && role == "leader":
			return d, Leader, nil
		case d.roles && role == "follower":
			return d, Follower, nil
		}
	}
	return nil, Any, fmt.Errorf("unknown kind %q (kinds: %s)", name, strings.Join(kindNames(), ", "))
}

// kindNames lists every kind's name and alias, in table order.
func kindNames() []string {
	var out []string
	for _, d := range kinds {
		out = append(out, d.name)
		for a := range d.aliases {
			out = append(out, a)
		}
	}
	return out
}

// argument is the "=ARG" of an event as written.
type argument struct {
	kind string // the kind's name
	text string // after the "="
	has  bool   // there was an "="
}

// need is the error for a kind's missing "=ARG".
func (a argument) need(what string) error {
	if !a.has || a.text == "" {
		return fmt.Errorf("%s needs =%s", a.kind, what)
	}
	return nil
}

// parseNodeArg reads =NODE of a kind that also takes -leader, -follower.
func parseNodeArg(e *Event, a argument) error {
	if err := a.need("NODE (or use " + a.kind + "-leader, " + a.kind + "-follower)"); err != nil {
		return err
	}
	var err error
	e.Target, err = parseNode(a.text)
	return err
}

// parseOptionalNode reads the =NODE of restart and resume, which without
// it act on every node concerned.
func parseOptionalNode(e *Event, a argument) error {
	if !a.has {
		return nil
	}
	var err error
	e.Target, err = parseNode(a.text)
	return err
}

// parseMemberArg reads the =NODE of replace and remove: an id, leader or
// follower.
func parseMemberArg(e *Event, a argument) error {
	if err := a.need("NODE (an id, leader or follower)"); err != nil {
		return err
	}
	var err error
	e.Target, err = parseEndpoint(a.text)
	return err
}

// formatTarget writes "=TARGET" (replace=leader, remove=2).
func formatTarget(e Event) string { return "=" + e.Target.String() }

func parseNoArg(_ *Event, a argument) error {
	if a.has {
		return fmt.Errorf("%s takes no argument", a.kind)
	}
	return nil
}

func parseSplit(e *Event, a argument) error {
	arg := a.text
	if err := a.need("minority or =majority (the side the leader is put on)"); err != nil {
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
	return nil
}

func parseOneWay(e *Event, a argument) error {
	arg := a.text
	if err := a.need("FROM>TO"); err != nil {
		return err
	}
	from, to, ok := strings.Cut(arg, ">")
	if !ok {
		return fmt.Errorf("oneway=%s: want oneway=FROM>TO, e.g. oneway=1>2 or oneway=leader>follower", arg)
	}
	var err error
	if e.Target, err = parseEndpoint(from); err != nil {
		return err
	}
	if e.To, err = parseEndpoint(to); err != nil {
		return err
	}
	switch {
	case e.Target == e.To && e.Target.Role == Node:
		return fmt.Errorf("oneway=%s: a node to itself", arg)
	case e.Target == e.To:
		return fmt.Errorf("oneway=%s: both ends are the %v", arg, e.Target)
	}
	return nil
}

func parseDelay(e *Event, a argument) error {
	arg := a.text
	if err := a.need("DURATION[~JITTER]"); err != nil {
		return err
	}
	d, j, hasJ := strings.Cut(arg, "~")
	var err error
	if e.Delay, err = parseDuration(d, "delay"); err != nil {
		return err
	}
	if hasJ {
		if e.Jitter, err = parseDuration(j, "jitter"); err != nil {
			return err
		}
	}
	switch {
	case e.Delay == 0 && e.Jitter == 0:
		return errors.New("delay=0: nothing to inject")
	case e.Delay > MaxDelay || e.Jitter > MaxDelay:
		return fmt.Errorf("delay=%s: delay and jitter are at most %v", arg, MaxDelay)
	}
	return nil
}

func formatDelay(e Event) string {
	s := fmt.Sprintf("=%v", e.Delay)
	if e.Jitter > 0 {
		s += fmt.Sprintf("~%v", e.Jitter)
	}
	return s
}

// parseFlap reads =NODE:PERIOD.
func parseFlap(e *Event, a argument) error {
	if err := a.need("NODE:PERIOD (NODE an id, leader or follower)"); err != nil {
		return err
	}
	node, period, ok := strings.Cut(a.text, ":")
	if !ok {
		return fmt.Errorf("flap=%s: want flap=NODE:PERIOD, e.g. flap=2:500ms or flap=leader:1s", a.text)
	}
	var err error
	if e.Target, err = parseEndpoint(node); err != nil {
		return err
	}
	if e.Period, err = parseDuration(period, "flap period"); err != nil {
		return err
	}
	if e.Period < MinFlap || e.Period > MaxDelay {
		return fmt.Errorf("flap=%s: the period must be %v..%v", a.text, MinFlap, MaxDelay)
	}
	return nil
}

// MinFlap is the shortest flap period: each half is an ip link command,
// a few milliseconds apiece.
const MinFlap = 50 * time.Millisecond

// Bandwidth bounds: below 8 kbit/s a full-sized frame takes seconds; above
// 10 gbit/s the limit is no limit on this kind of link.
const (
	MinRate uint64 = 8_000
	MaxRate uint64 = 10_000_000_000
)

// rateUnits are tc's decimal rate units, largest first.
var rateUnits = []struct {
	name string
	bits uint64
}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}

// parseBandwidth reads =RATE, a number and a unit of rateUnits.
func parseBandwidth(e *Event, a argument) error {
	if err := a.need("RATE (e.g. 1mbit, 500kbit)"); err != nil {
		return err
	}
	for _, u := range rateUnits {
		num, ok := strings.CutSuffix(a.text, u.name)
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(num, 64)
		if err != nil || !(n > 0) || math.IsInf(n, 0) {
			return fmt.Errorf("bandwidth=%s: bad rate", a.text)
		}
		r := n * float64(u.bits)
		if r < float64(MinRate) || r > float64(MaxRate) {
			return fmt.Errorf("bandwidth=%s: the rate must be %s..%s", a.text, FormatRate(MinRate), FormatRate(MaxRate))
		}
		e.Rate = uint64(r)
		return nil
	}
	return fmt.Errorf("bandwidth=%s: want a rate in bit, kbit, mbit or gbit, e.g. 1mbit", a.text)
}

// FormatRate writes bits per second in the largest of tc's units that
// keeps it whole (what bandwidth= and tc read).
func FormatRate(bits uint64) string {
	if bits == 0 {
		return "0bit"
	}
	for _, u := range rateUnits {
		if bits%u.bits == 0 {
			return strconv.FormatUint(bits/u.bits, 10) + u.name
		}
	}
	return strconv.FormatUint(bits, 10) + "bit"
}

func parseDrop(e *Event, a argument) error {
	arg := a.text
	if err := a.need("PERCENT%"); err != nil {
		return err
	}
	p, err := strconv.ParseFloat(strings.TrimSuffix(arg, "%"), 64)
	if err != nil {
		return fmt.Errorf("%s=%s: bad percentage", a.kind, arg)
	}
	if p < 0 || p > 100 || math.IsNaN(p) {
		return fmt.Errorf("%s=%s: percentage outside 0..100", a.kind, arg)
	}
	e.Percent = p
	return nil
}
