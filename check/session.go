package check

import (
	"fmt"
	"strings"
)

// Applied is one command as a node's state machine applied it.
type Applied struct {
	Client, Seq uint64
}

// NodeApplied is the sequence of commands one node applied, in apply order.
type NodeApplied struct {
	// Node names the node in the report.
	Node uint64
	// Offset is the position of Applied[0] in the cluster's sequence of
	// applied commands: 0 for a node that applied everything itself, the
	// number of commands its snapshot covered for a node restored from
	// one.
	Offset int
	// Applied lists (client, seq) pairs in the order they executed.
	// Duplicates the state machine recognized and did not execute are not
	// in it.
	Applied []Applied
	// Deduplicated is how many retried commands the node's state machine
	// answered from its session table instead of executing again. It is
	// only summed into the report.
	Deduplicated uint64
}

// SessionReport is what CheckSessions found.
type SessionReport struct {
	// Nodes, Clients: how many nodes and distinct clients were checked.
	Nodes, Clients int
	// Commands is the longest node's applied count (Offset included).
	Commands int
	// Duplicates counts commands a node executed twice in a row for one
	// client (seq equal to the client's previous one); Reordered counts
	// commands whose seq is below the client's previous one on that node.
	Duplicates, Reordered int
	// Diverged is set when two nodes applied different commands at the
	// same position; At is the first such position, Between the nodes.
	Diverged bool
	At       int
	Between  [2]uint64
	// Deduplicated is the sum of NodeApplied.Deduplicated: retries the
	// sessions absorbed.
	Deduplicated uint64
	// Problems describes the first few problems found.
	Problems []string
}

// maxProblems bounds SessionReport.Problems: the first few say what went
// wrong, the counts say how much.
const maxProblems = 10

// OK reports whether every client's order held on every node and the nodes
// agree.
func (r SessionReport) OK() bool { return r.Duplicates == 0 && r.Reordered == 0 && !r.Diverged }

// String is the session line of a benchmark report.
func (r SessionReport) String() string {
	verdict := "ok"
	if !r.OK() {
		verdict = "VIOLATED"
	}
	s := fmt.Sprintf("sessions: %s (%d commands of %d clients on %d nodes; %d retries deduplicated; %d executed twice, %d out of order",
		verdict, r.Commands, r.Clients, r.Nodes, r.Deduplicated, r.Duplicates, r.Reordered)
	if r.Diverged {
		s += fmt.Sprintf("; nodes %d and %d diverge at command %d", r.Between[0], r.Between[1], r.At)
	}
	s += ")"
	if len(r.Problems) > 0 {
		s += ": " + strings.Join(r.Problems, "; ")
	}
	return s
}

// CheckSessions verifies that on every node each client's commands executed
// in the order the client issued them (strictly increasing seq: no
// duplicate, no reordering; gaps are fine, a client may give up on a
// command), and that the nodes applied the same commands wherever their
// sequences overlap.
func CheckSessions(nodes []NodeApplied) SessionReport {
	r := SessionReport{Nodes: len(nodes)}
	problem := func(format string, args ...any) {
		if len(r.Problems) < maxProblems {
			r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
		}
	}
	clients := make(map[uint64]struct{})
	for _, n := range nodes {
		r.Deduplicated += n.Deduplicated
		r.Commands = max(r.Commands, n.Offset+len(n.Applied))
		last := make(map[uint64]uint64)
		for i, a := range n.Applied {
			clients[a.Client] = struct{}{}
			prev, seen := last[a.Client]
			switch {
			case !seen || a.Seq > prev:
			case a.Seq == prev:
				r.Duplicates++
				problem("node %d executed client %x seq %d twice (command %d)", n.Node, a.Client, a.Seq, n.Offset+i)
			default:
				r.Reordered++
				problem("node %d executed client %x seq %d after seq %d (command %d)", n.Node, a.Client, a.Seq, prev, n.Offset+i)
			}
			if !seen || a.Seq > prev {
				last[a.Client] = a.Seq
			}
		}
	}
	r.Clients = len(clients)

	// Compare every pair over the positions both cover; keep the earliest
	// divergence.
	for i := range nodes {
		for j := i + 1; j < len(nodes); j++ {
			a, b := &nodes[i], &nodes[j]
			from := max(a.Offset, b.Offset)
			to := min(a.Offset+len(a.Applied), b.Offset+len(b.Applied))
			for p := from; p < to; p++ {
				x, y := a.Applied[p-a.Offset], b.Applied[p-b.Offset]
				if x == y {
					continue
				}
				if !r.Diverged || p < r.At {
					r.Diverged, r.At, r.Between = true, p, [2]uint64{a.Node, b.Node}
				}
				problem("nodes %d and %d diverge at command %d: client %x seq %d vs client %x seq %d",
					a.Node, b.Node, p, x.Client, x.Seq, y.Client, y.Seq)
				break
			}
		}
	}
	return r
}
