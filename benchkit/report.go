package benchkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/benchkit/plot"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// Meta is what a run's result records besides its Config and Outcome.
type Meta struct {
	Name      string   // the -out base name
	Command   []string // os.Args
	StartedAt time.Time
	Machine   results.Machine
	Cluster   results.Cluster
}

// NewResult assembles the result file's content.
func NewResult(cfg Config, o *Outcome, m Meta) (*results.Result, error) {
	settings, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("benchkit: %w", err)
	}
	enc, err := hist.Encode(o.Hist)
	if err != nil {
		return nil, err
	}
	r := &results.Result{
		Kind:          results.KindRun,
		Format:        results.Format,
		Name:          m.Name,
		Command:       m.Command,
		StartedAt:     m.StartedAt.UTC(),
		Interrupted:   o.Interrupted,
		Machine:       m.Machine,
		Durability:    cfg.Engine.Durability(),
		Mode:          o.Mode,
		Cluster:       m.Cluster,
		Settings:      settings,
		ElapsedSec:    o.Elapsed.Seconds(),
		Ops:           o.Ops,
		Throughput:    o.Throughput(),
		Errors:        o.Errors,
		ErrorKinds:    o.ErrorKinds,
		WarmupOps:     o.WarmupOps,
		Abandoned:     o.Abandoned,
		WarmupDropped: o.WarmupDropped,
		Clamped:       o.Clamped,
		Latency:       hist.Summarize(o.Hist),
		Histogram:     enc,
		HistogramUnit: "ns",
		Series:        o.Series,
		Stages:        o.Stages,
		BatchSizes:    o.BatchSizes,
		StagesNote:    o.StagesNote,
		CPU:           o.CPU,
	}
	if len(r.ErrorKinds) == 0 {
		r.ErrorKinds = nil
	}
	if o.Uncorrected != nil {
		u := hist.Summarize(o.Uncorrected)
		r.LatencyUncorrected = &u
	}
	return r, nil
}

// Files returns the three files of a run: NAME.json, NAME.hgrm, NAME.svg.
func Files(base string, r *results.Result) ([]results.Output, error) {
	h, err := hist.Decode(r.Histogram)
	if err != nil {
		return nil, err
	}
	js, err := results.Marshal(r)
	if err != nil {
		return nil, err
	}
	var hgrm bytes.Buffer
	if err := hist.WriteHgrm(&hgrm, h); err != nil {
		return nil, err
	}
	l := r.Latency
	sub := fmt.Sprintf("p50 %s   p90 %s   p99 %s   p99.9 %s   p99.99 %s   max %s   (%s ops, %s loop, %s)",
		FormatNs(l.P50), FormatNs(l.P90), FormatNs(l.P99), FormatNs(l.P999), FormatNs(l.P9999), FormatNs(l.Max),
		commas(float64(r.Ops)), r.Mode, r.StartedAt.Format("2006-01-02 15:04 UTC"))
	var windows []plot.Window
	for _, f := range r.Faults {
		if f.NotInjected {
			continue
		}
		windows = append(windows, plot.Window{Start: f.StartSec, End: max(f.EndSec, f.StartSec), Label: f.Spec})
	}
	var cfg Config
	_ = json.Unmarshal(r.Settings, &cfg)
	info := plot.RunInfo{End: r.ElapsedSec}
	if r.Mode == "open" {
		info.Rate = cfg.Rate
	}
	if f := r.FaultSeries; f != nil {
		info.FineStep, info.Fine = f.StepS, f.OpsPerS
	}
	svg := plot.Run(Title(r), sub, plot.Curve{Points: hist.Curve(h)}, r.Series, windows, info)
	return []results.Output{
		{Path: base + ".json", Data: js},
		{Path: base + ".hgrm", Data: hgrm.Bytes()},
		{Path: base + ".svg", Data: svg},
	}, nil
}

// Title is a one-line description of a run for plots and tables.
func Title(r *results.Result) string {
	var cfg Config
	_ = json.Unmarshal(r.Settings, &cfg)
	where := fmt.Sprintf("%d nodes", r.Cluster.Nodes)
	if r.Cluster.External {
		where = "external cluster"
	}
	return fmt.Sprintf("mpaxos %s, %d clients, %s loop, %s: %s ops/s",
		where, cfg.Clients, r.Mode, r.Durability, commas(r.Throughput))
}

// WriteReport prints the final report of a run.
func WriteReport(w io.Writer, r *results.Result) {
	var cfg Config
	_ = json.Unmarshal(r.Settings, &cfg)
	line := func(label, format string, a ...any) {
		fmt.Fprintf(w, "%-12s %s\n", label, fmt.Sprintf(format, a...))
	}
	fmt.Fprintf(w, "\nmpaxos bench %s", r.Name)
	if r.Interrupted {
		fmt.Fprint(w, "  (INTERRUPTED: partial results)")
	}
	fmt.Fprintln(w)
	src := "as the nodes report it"
	switch r.Cluster.DurabilitySource {
	case "flag":
		src = "as declared by -sync; the nodes did not report it"
	case "started":
		src = "as bench started the nodes; they did not report it"
	}
	how := map[string]string{
		"nosync": "writes NOT synced: not durable",
		"null":   "null mode: nodes answer without replicating or storing; a ceiling, not a result",
		"sync":   "every write synced before it is acknowledged",
		"mixed":  "the nodes do NOT agree on syncing",
	}[r.Durability]
	if how != "" && r.Cluster.DurabilitySource != "flag" {
		how = "; " + how
	} else {
		how = "" // declared, not known: no claim about what the nodes do
	}
	if r.Cluster.External {
		line("cluster", "running cluster at %s, durability %s (%s%s)", strings.Join(r.Cluster.Addrs, ","), r.Durability, src, how)
	} else {
		where := "on loopback"
		if r.Cluster.Hosts == HostsNetns {
			where = "in network namespaces (one per node on a bridge, the clients in another)"
		}
		line("cluster", "%d nodes started %s, durability %s (%s%s)", r.Cluster.Nodes, where, r.Durability, src, how)
	}
	if set := r.Cluster.Settings; set != nil {
		delay := time.Duration(set.BatchDelayNs).String()
		if set.Batching == "adaptive" {
			delay += " (adaptive batching: not waited for)"
		}
		line("engine", "batch-size %d, batch-bytes %d, batch-delay %s, pipeline %d, groups %d, reads %s (as the nodes report them)",
			set.BatchSize, set.BatchBytes, delay, set.Pipeline, set.Groups, readMode(set.ReadMode))
	} else {
		note := r.Cluster.SettingsNote
		if note == "" {
			note = "not reported"
		}
		if r.Cluster.External {
			line("engine", "settings unknown: %s", note)
		} else {
			line("engine", "%s as passed to the nodes; their effective settings are unknown: %s", engineKnobs(cfg.Engine), note)
		}
	}
	if r.Cluster.Leader != 0 && len(r.Cluster.GroupLeaders) == 0 {
		line("leader", "n%d when the run began", r.Cluster.Leader)
	}
	if gl := r.Cluster.GroupLeaders; len(gl) > 0 {
		leaders := make([]string, len(gl))
		for g, id := range gl {
			leaders[g] = fmt.Sprintf("g%d:n%d", g, id)
		}
		led := make([]string, len(r.Cluster.GroupsLed))
		for i, n := range r.Cluster.GroupsLed {
			led[i] = fmt.Sprintf("n%d:%d", n.Node, n.Led)
		}
		line("groups", "%d Paxos groups; leaders when the run began %s; groups led per node %s",
			len(gl), strings.Join(leaders, " "), strings.Join(led, " "))
	}
	conns := "conns"
	if cfg.RESP {
		conns = "RESP conns per node (Redis protocol, each connection's commands pipelined)"
	}
	if r.Mode == "open" {
		line("load", "open loop at %s ops/s offered by %d clients over %d %s; latency from each request's intended send time (coordinated omission corrected)",
			commas(cfg.Rate), cfg.Clients, cfg.Conns, conns)
	} else {
		line("load", "closed loop: %d clients over %d %s, each with one outstanding operation; latency from the actual send (not corrected for coordinated omission)",
			cfg.Clients, cfg.Conns, conns)
	}
	length := fmt.Sprintf("%v measured", cfg.Duration)
	if cfg.Ops > 0 {
		length = fmt.Sprintf("%d ops measured", cfg.Ops)
	}
	dist := string(cfg.Dist)
	if cfg.Dist == Zipf {
		dist = fmt.Sprintf("zipf (s=%g)", cfg.ZipfS)
	}
	line("workload", "%.0f%% gets, %.0f%% puts; %d B keys, %d B values, %d keys %s; %v warm-up, %s",
		cfg.ReadRatio*100, (1-cfg.ReadRatio)*100, cfg.KeySize, cfg.ValueSize, cfg.Keys, dist, cfg.Warmup, length)
	line("throughput", "%s ops/s  (%s ops in %.2f s)", commas(r.Throughput), commas(float64(r.Ops)), r.ElapsedSec)
	if r.Mode == "open" && cfg.Rate > 0 && r.Throughput < 0.95*cfg.Rate {
		line("", "the offered %s ops/s was NOT sustained: latency includes the backlog", commas(cfg.Rate))
	}
	if r.Abandoned > 0 || r.WarmupDropped > 0 {
		line("backlog", "%s requests due before the end were never sent (abandoned at -duration); %s warm-up requests still due when measuring began were dropped",
			commas(float64(r.Abandoned)), commas(float64(r.WarmupDropped)))
	}
	line("errors", "%s", errorBreakdown(r))
	l := r.Latency
	line("latency", "p50 %s  p90 %s  p99 %s  p99.9 %s  p99.99 %s  max %s  (mean %s)",
		FormatNs(l.P50), FormatNs(l.P90), FormatNs(l.P99), FormatNs(l.P999), FormatNs(l.P9999), FormatNs(l.Max), FormatNs(int64(l.Mean)))
	if u := r.LatencyUncorrected; u != nil {
		line("uncorrected", "p50 %s  p90 %s  p99 %s  p99.9 %s  p99.99 %s  max %s  (from the actual send, as wrk2 -U: service time without the wait behind the offered rate)",
			FormatNs(u.P50), FormatNs(u.P90), FormatNs(u.P99), FormatNs(u.P999), FormatNs(u.P9999), FormatNs(u.Max))
	}
	if r.Clamped > 0 {
		line("", "%d latencies above 1h were recorded as 1h", r.Clamped)
	}
	writeCPU(w, r)
	writeStages(w, r)
	writeFaults(w, r)
	writeVerdict(w, r)
	if c := r.Ceiling; c != nil {
		line("ceiling", "null mode %s ops/s; this run is %.0f%% of it", commas(c.Throughput), c.Fraction*100)
	} else {
		line("ceiling", "null mode not measured")
	}
}

// readMode describes a node's read mode for the report.
func readMode(m string) string {
	switch m {
	case "log":
		return "through the log"
	case "index":
		return "by read index"
	case "lease":
		return "under the leader's lease"
	}
	return m
}

func engineKnobs(e Engine) string {
	v := func(n int) string {
		if n == 0 {
			return "default"
		}
		return fmt.Sprint(n)
	}
	d := "default"
	if e.BatchDelay > 0 {
		d = e.BatchDelay.String()
	}
	return fmt.Sprintf("batch-size %s, batch-bytes %s, batch-delay %s, pipeline %s",
		v(e.BatchSize), v(e.BatchBytes), d, v(e.Pipeline))
}

func errorBreakdown(r *results.Result) string {
	if r.Errors == 0 {
		return "0"
	}
	kinds := make([]string, 0, len(r.ErrorKinds))
	for k := range r.ErrorKinds {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return r.ErrorKinds[kinds[i]] > r.ErrorKinds[kinds[j]] })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", r.ErrorKinds[k], k)
	}
	total := float64(r.Errors) / float64(r.Errors+r.Ops) * 100
	return fmt.Sprintf("%d (%.3f%% of operations): %s", r.Errors, total, strings.Join(parts, "; "))
}

// writeCPU prints what an operation cost in CPU time, the nodes' and the
// load generator's, and how busy the machine was over the measured window.
func writeCPU(w io.Writer, r *results.Result) {
	c := r.CPU
	switch {
	case c == nil:
		fmt.Fprintf(w, "%-12s %s\n", "cpu", "not measured")
		return
	case c.WindowSec == 0:
		fmt.Fprintf(w, "%-12s %s\n", "cpu", c.Note)
		return
	}
	nodes := "nodes not measured"
	if c.NodesSec > 0 {
		nodes = fmt.Sprintf("nodes %.1f µs", c.NodesUsPerOp)
		if c.LeaderUsPerOp > 0 {
			nodes += fmt.Sprintf(" (leader %.1f, each follower %.1f)", c.LeaderUsPerOp, c.FollowerUsPerOp)
		}
	}
	fmt.Fprintf(w, "%-12s %s + bench %.1f µs per op; machine %.0f%% busy (%d cores) over %.1f s\n",
		"cpu", nodes, c.BenchUsPerOp, c.MachineBusy*100, c.Cores, c.WindowSec)
	if c.Note != "" && c.NodesSec == 0 {
		fmt.Fprintf(w, "%-12s %s\n", "", c.Note)
	}
	if len(c.Syncs) > 0 {
		parts := make([]string, len(c.Syncs))
		for i, s := range c.Syncs {
			parts[i] = fmt.Sprintf("n%d %s/s (%.1f ops each)", s.Node, commas(s.PerSec), s.OpsPerSync)
		}
		fmt.Fprintf(w, "%-12s %s\n", "syncs", strings.Join(parts, "  "))
	}
}

// writeStages prints the per-stage histograms the nodes reported, one line
// per stage (each node's percentiles side by side would not fit; the JSON
// has them all): where a command's time goes tells which knob to turn.
func writeStages(w io.Writer, r *results.Result) {
	if len(r.Stages) == 0 {
		note := r.StagesNote
		if note == "" {
			note = "per-stage latency not reported by the nodes"
		}
		fmt.Fprintf(w, "%-12s %s\n", "stages", note)
	} else {
		fmt.Fprintf(w, "%-12s %-12s %5s %9s %9s %9s %9s\n", "stages", "stage", "node", "p50", "p99", "p99.9", "max")
		omitted := 0
		for _, s := range r.Stages {
			if s.Latency.Count == 0 {
				// A stage the node never passed through in the window:
				// on a follower, the leader's stages (batch_wait,
				// leader_sync, quorum_wait). Zeros would read as 0 µs.
				omitted++
				continue
			}
			fmt.Fprintf(w, "%-12s %-12s %5d %9s %9s %9s %9s\n", "", s.Name, s.Node,
				FormatNs(s.Latency.P50), FormatNs(s.Latency.P99), FormatNs(s.Latency.P999), FormatNs(s.Latency.Max))
		}
		if omitted > 0 {
			fmt.Fprintf(w, "%-12s (rows left out: %d, of stages a node recorded nothing in, such as the leader's on followers)\n", "", omitted)
		}
	}
	if r.BatchSizes != "" {
		if h, err := hist.Decode(r.BatchSizes); err == nil {
			fmt.Fprintf(w, "%-12s p50 %d  p99 %d  max %d commands (mean %.1f)\n", "batch sizes",
				h.ValueAtPercentile(50), h.ValueAtPercentile(99), h.Max(), h.Mean())
		}
	}
}

// writeFaults prints one row per fault: its window from the start of the
// measured run, throughput and p50/p99 before, during and after it, its
// downtime and the time until throughput was back to 90% of the steady
// state (the same table as faults.WriteTable, from the result file).
func writeFaults(w io.Writer, r *results.Result) {
	if len(r.Faults) == 0 {
		fmt.Fprintf(w, "%-12s %s\n", "faults", "none")
		return
	}
	fmt.Fprintf(w, "%-12s %d scheduled (windows from the start of measuring; phases: steady before, during, recovery after)\n", "faults", len(r.Faults))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tfault\tnodes\twindow\tbefore ops/s p50 p99\tduring ops/s p50 p99\tafter ops/s p50 p99\tdowntime\tback to 90%")
	for _, f := range r.Faults {
		nodes := "-"
		if len(f.Targets) > 0 {
			nodes = strings.Trim(strings.ReplaceAll(fmt.Sprint(f.Targets), " ", ","), "[]")
		}
		if f.Layer != "" {
			nodes += " (" + f.Layer + ")"
		}
		if f.NotInjected {
			fmt.Fprintf(tw, "\t%s\t%s\tNOT INJECTED: %s\t\t\t\t\t\n", f.Spec, nodes, f.Error)
			continue
		}
		down := "n/a"
		if f.DowntimeSec != nil {
			down = fmt.Sprintf("%.2fs", *f.DowntimeSec)
			if *f.DowntimeSec == 0 {
				down = "none"
			}
			if f.NeverResumed {
				down = ">" + down + " (never resumed)"
			}
		}
		back := "not recovered"
		switch {
		case f.Recover90 != nil && *f.Recover90 == 0:
			back = "never below"
		case f.Recover90 != nil:
			back = fmt.Sprintf("%.2fs", *f.Recover90)
		case f.Before == nil:
			back = "n/a (no steady state)"
		}
		fmt.Fprintf(tw, "\t%s\t%s\t%.2fs-%.2fs\t%s\t%s\t%s\t%s\t%s\n", f.Spec, nodes, f.StartSec, f.EndSec,
			phaseCell(f.Before), phaseCell(f.During), phaseCell(f.After), down, back)
	}
	tw.Flush()
	for _, f := range r.Faults {
		if len(f.Steps) > 0 {
			fmt.Fprintf(w, "%-12s %s: %s\n", "", f.Spec, StepsLine(f))
		}
		if f.Error != "" && !f.NotInjected {
			fmt.Fprintf(w, "%-12s %s: %s\n", "", f.Spec, f.Error)
		}
	}
}

// StepsLine writes a membership change's steps, each at its time from the
// start of measuring and, after the first, the time since the one before:
// "killed 2 at 5.00s, learner added 6 at 5.41s (+0.41s), ...".
func StepsLine(f results.Fault) string {
	parts := make([]string, len(f.Steps))
	for i, st := range f.Steps {
		parts[i] = fmt.Sprintf("%s %d at %.2fs", st.Name, st.Node, st.AtSec)
		prev := f.StartSec
		if i > 0 {
			prev = f.Steps[i-1].AtSec
		}
		parts[i] += fmt.Sprintf(" (+%.2fs)", st.AtSec-prev)
	}
	return strings.Join(parts, ", ")
}

func phaseCell(p *results.Window) string {
	if p == nil {
		return "n/a"
	}
	return fmt.Sprintf("%s %s %s", commas(p.Throughput), FormatNs(p.Latency.P50), FormatNs(p.Latency.P99))
}

// writeVerdict prints the correctness checks: one summary line, then
// "acknowledged writes lost: N" whenever the read-back ran, the checks'
// own lines, and every failure.
func writeVerdict(w io.Writer, r *results.Result) {
	v := r.Verdict
	if v == nil {
		fmt.Fprintf(w, "%-12s %s\n", "verdict", "not checked")
		return
	}
	yes := func(b *bool, what string) string {
		switch {
		case b == nil:
			return what + " not checked"
		case *b:
			return what + " ok"
		}
		return what + " VIOLATED"
	}
	status := "PASS"
	if len(v.Failures) > 0 {
		status = "FAIL"
	}
	lin := fmt.Sprintf("linearizability (%d keys", v.CheckedKeys)
	if s := v.LinearizabilitySample; s > 0 && s < 1 {
		lin += fmt.Sprintf(", a %s sample", pct(s))
	}
	lin += ")"
	sess := yes(v.SessionOrderOK, "session order")
	if f := v.SessionChecked; v.SessionOrderOK != nil && f != nil && *f < 1 {
		sess += fmt.Sprintf(" on PART of the run: %s of the executed commands", pct(*f))
	}
	fmt.Fprintf(w, "%-12s %s: %s; %s; %s\n", "verdict", status, yes(v.Linearizable, lin), sess, yes(v.StateHashesAgree, "state hashes"))
	if v.LostAckedWrites != nil {
		fmt.Fprintf(w, "%-12s acknowledged writes lost: %d\n", "", *v.LostAckedWrites)
	}
	if v.SessionOrderOK != nil {
		fmt.Fprintf(w, "%-12s retries deduplicated: %d (answered from the session table, not executed again; most of any node)\n", "", v.DedupedRetries)
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "%-12s %s\n", "", n)
	}
	for _, f := range v.Failures {
		fmt.Fprintf(w, "%-12s %s\n", "FAILED", f)
	}
	if v.Visualization != "" {
		fmt.Fprintf(w, "%-12s %s\n", "", "visualization of the violation: "+v.Visualization)
	}
}

// commas prints a non-negative number rounded to an integer with thousands
// separators.
// pct prints a fraction as a percentage with the precision it needs.
func pct(f float64) string {
	if f < 0.1 {
		return fmt.Sprintf("%.2g%%", 100*f)
	}
	return fmt.Sprintf("%.1f%%", 100*f)
}

func commas(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// histOf decodes r's histogram; an empty one when absent.
func histOf(r *results.Result) (*hdr.Histogram, error) {
	if r.Histogram == "" {
		return hist.New(), nil
	}
	return hist.Decode(r.Histogram)
}
