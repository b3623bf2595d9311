package benchkit

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/naive"
)

// WhyPaxosCell is one run of the why-paxos matrix: a protocol under a
// scenario, and its result (nil when the run did not complete, Err then
// says why).
type WhyPaxosCell struct {
	Protocol naive.Protocol
	Scenario Scenario
	Result   *results.Result
	Err      error
}

// VerdictWords is the cell's verdict as a reader checks it: every failure
// the checks found, in words, or "none".
func (c WhyPaxosCell) VerdictWords(dir string) string {
	if c.Result == nil {
		return fmt.Sprintf("run failed: %v", c.Err)
	}
	v := c.Result.Verdict
	if v == nil {
		return "not checked"
	}
	var words []string
	if v.StateHashesAgree != nil && !*v.StateHashesAgree {
		words = append(words, "replica hashes differ")
	}
	if v.LostAckedWrites != nil && *v.LostAckedWrites > 0 {
		words = append(words, fmt.Sprintf("%d acknowledged writes lost", *v.LostAckedWrites))
	}
	if v.SplitBrainIntervals != nil && *v.SplitBrainIntervals > 0 {
		words = append(words, fmt.Sprintf("split brain: two nodes answered as primary in %d intervals of 50ms", *v.SplitBrainIntervals))
	}
	if v.Linearizable != nil && !*v.Linearizable {
		w := "not linearizable"
		if v.Visualization != "" {
			rel, err := filepath.Rel(dir, v.Visualization)
			if err != nil {
				rel = v.Visualization
			}
			w += fmt.Sprintf(" ([porcupine](%s))", filepath.ToSlash(rel))
		}
		words = append(words, w)
	}
	if v.SessionOrderOK != nil && !*v.SessionOrderOK && len(words) == 0 {
		words = append(words, "replicas executed different command sequences")
	}
	if len(words) == 0 {
		if len(v.Failures) > 0 {
			return "FAILED: " + strings.Join(v.Failures, "; ")
		}
		return "none"
	}
	return strings.Join(words, "; ")
}

// Failed reports whether the cell's checks found a failure.
func (c WhyPaxosCell) Failed() bool {
	return c.Result != nil && c.Result.Verdict != nil && len(c.Result.Verdict.Failures) > 0
}

// WriteWhyPaxos writes the matrix as results/why-paxos.md: a sentence per
// protocol, then one table whose rows are protocols and whose columns are
// the no-fault throughput and p99 and each faulted scenario's verdict.
// dir is the directory the file goes in (links are relative to it).
func WriteWhyPaxos(w io.Writer, cells []WhyPaxosCell, dir, command string, took time.Duration) {
	var protos []naive.Protocol
	var scens []Scenario
	for _, c := range cells {
		if !containsProto(protos, c.Protocol) {
			protos = append(protos, c.Protocol)
		}
		if !containsScenario(scens, c.Scenario.Name) {
			scens = append(scens, c.Scenario)
		}
	}
	fmt.Fprintf(w, "# Why Paxos, measured\n\n")
	for _, p := range protos {
		fmt.Fprintf(w, "- **%s**: %s\n", p, p.About())
	}
	fmt.Fprintf(w, "\nEvery row ran on the same node binary, transport, store, batcher and client (`-protocol`); "+
		"each column is a scenario (`-scenario`), and each cell the verdict of the run's checks "+
		"(linearizability, acknowledged writes read back, replica hashes, a 50ms poll of which nodes answer clients). "+
		"Produced by `%s` in %s.\n\n", command, took.Round(time.Second))
	fmt.Fprintf(w, "| protocol |")
	for _, s := range scens {
		if s.Faults == "" && s.Name == "none" {
			fmt.Fprintf(w, " ops/s, no faults | p99, no faults |")
			continue
		}
		fmt.Fprintf(w, " %s (%s) |", s.Name, s.Exposes)
	}
	fmt.Fprintf(w, "\n|---|")
	for _, s := range scens {
		if s.Name == "none" {
			fmt.Fprintf(w, "---:|---:|")
			continue
		}
		fmt.Fprintf(w, "---|")
	}
	fmt.Fprintln(w)
	for _, p := range protos {
		fmt.Fprintf(w, "| %s |", p)
		for _, s := range scens {
			c, ok := findCell(cells, p, s.Name)
			switch {
			case !ok:
				fmt.Fprintf(w, " not run |")
			case s.Name == "none" && c.Result != nil:
				fmt.Fprintf(w, " %.0f | %s |", c.Result.Throughput, time.Duration(c.Result.Latency.P99).Round(10*time.Microsecond))
			case s.Name == "none":
				fmt.Fprintf(w, " %s | |", c.VerdictWords(dir))
			default:
				fmt.Fprintf(w, " %s |", c.VerdictWords(dir))
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nUnder unsync and multi-leader every node answers clients by design, so the poll finds two answering at once in every scenario; "+
		"a primary-backup scheme is meant to have one. The no-fault columns are one run each on a machine shared with other work: compare them within the table, not across days.\n")
	fmt.Fprintf(w, "\nScenarios (times from the start of measuring):\n\n")
	for _, s := range scens {
		f := s.Faults
		if f == "" {
			f = "no faults"
		}
		fmt.Fprintf(w, "- **%s**: %s (`%s`).\n", s.Name, s.About, f)
	}
	fmt.Fprintf(w, "\nEach run's files (JSON, histogram, plot, porcupine's page on a violation) are next to this one under why-paxos/.\n")
}

func containsProto(ps []naive.Protocol, p naive.Protocol) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func containsScenario(ss []Scenario, name string) bool {
	for _, s := range ss {
		if s.Name == name {
			return true
		}
	}
	return false
}

func findCell(cells []WhyPaxosCell, p naive.Protocol, scen string) (WhyPaxosCell, bool) {
	for _, c := range cells {
		if c.Protocol == p && c.Scenario.Name == scen {
			return c, true
		}
	}
	return WhyPaxosCell{}, false
}
