package node

import (
	"net/http"
	"runtime/debug"
	"strconv"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// GET /metrics serves Prometheus's text format through client_golang:
//
//   - the node's counters and gauges under the names it always had
//     (mpaxos_is_leader, mpaxos_commit_slot, mpaxos_syncs_total,
//     mpaxos_peer_lag_slots{peer}, ...), read from the published stats at
//     scrape time;
//   - latency histograms in seconds, converted at scrape time from the
//     HdrHistograms that GET /stages serves (the bench keeps reading
//     those: they have 3 significant digits where Prometheus buckets have
//     a factor of 2): mpaxos_store_sync_seconds, mpaxos_quorum_wait_seconds,
//     mpaxos_apply_seconds, mpaxos_batch_wait_seconds. The node records
//     them once per batch or write, never per command, so there is no
//     per-request histogram here: a client's request latency is the
//     client's to measure (the bench does);
//   - go_* and process_* from client_golang's collectors, and
//     mpaxos_build_info{version,revision,go_version}.
//
// Nothing is observed on the hot path: every value is read when scraped.

// metricBuckets are the histogram bounds in seconds: 10 µs doubling to
// about 21 s, the range of a sync, a quorum round and an apply.
var metricBuckets = prometheus.ExponentialBuckets(10e-6, 2, 22)

// metricsHandler returns the /metrics handler over a registry of the
// node's own (not the global default registry: several nodes in one
// process, as in the tests, each serve their own).
func (n *Node) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
		&nodeCollector{n: n},
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// buildInfo is mpaxos_build_info, 1, labelled with the module version, the
// VCS revision the binary was built from and the Go version.
func buildInfo() prometheus.Collector {
	version, revision, gover := "unknown", "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, gover = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "mpaxos_build_info",
		Help:        "1, labelled with the build's module version, VCS revision and Go version.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "go_version": gover},
	}, func() float64 { return 1 })
}

// nodeCollector reads the node's stats and stage histograms at scrape
// time.
type nodeCollector struct{ n *Node }

type metricDesc struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	get  func(n *Node, s Status) float64
}

func newDesc(name, help string, kind prometheus.ValueType, get func(n *Node, s Status) float64) metricDesc {
	return metricDesc{prometheus.NewDesc(name, help, nil, nil), kind, get}
}

// nodeMetrics are the node's scalar metrics, one table for Describe and
// Collect.
var nodeMetrics = []metricDesc{
	newDesc("mpaxos_is_leader", "1 if this node leads its group (group 0 with several).", prometheus.GaugeValue,
		func(_ *Node, s Status) float64 { return b2f(s.Role == "leader") }),
	newDesc("mpaxos_groups_led", "How many Paxos groups this node leads.", prometheus.GaugeValue,
		func(_ *Node, s Status) float64 {
			led := 0
			for _, g := range s.GroupStatus {
				if g.Role == "leader" {
					led++
				}
			}
			return float64(led)
		}),
	newDesc("mpaxos_group_writes_total", "Store writes of one group each; with several groups, those of one loop pass share a sync (compare mpaxos_syncs_total).", prometheus.CounterValue,
		func(n *Node, _ Status) float64 { return float64(n.stats.groupWrites.Load()) }),
	newDesc("mpaxos_leader_id", "The leader this node knows (0 = none; group 0's with several).", prometheus.GaugeValue,
		func(_ *Node, s Status) float64 { return float64(s.Leader) }),
	newDesc("mpaxos_ballot_round", "Round of the highest ballot promised.", prometheus.GaugeValue,
		func(n *Node, _ Status) float64 { return float64(n.groups[0].ballot.Load() >> 16) }),
	newDesc("mpaxos_commit_slot", "Highest slot known chosen.", prometheus.GaugeValue,
		func(_ *Node, s Status) float64 { return float64(s.Commit) }),
	newDesc("mpaxos_applied_slot", "Highest slot applied to the state machine.", prometheus.GaugeValue,
		func(_ *Node, s Status) float64 { return float64(s.Applied) }),
	newDesc("mpaxos_batches_total", "Batches proposed as leader.", prometheus.CounterValue,
		func(_ *Node, s Status) float64 { return float64(s.Batches) }),
	newDesc("mpaxos_commands_total", "Commands proposed as leader.", prometheus.CounterValue,
		func(_ *Node, s Status) float64 { return float64(s.Commands) }),
	newDesc("mpaxos_syncs_total", "Store writes (one sync each when durable).", prometheus.CounterValue,
		func(_ *Node, s Status) float64 { return float64(s.Syncs) }),
	newDesc("mpaxos_loop_writes_total", "Store writes a follower made on its event loop instead of the writer goroutine.", prometheus.CounterValue,
		func(_ *Node, s Status) float64 { return float64(s.LoopWrites) }),
	newDesc("mpaxos_duplicate_commands_total", "Retried commands answered from the session table.", prometheus.CounterValue,
		func(_ *Node, s Status) float64 { return float64(s.Dups) }),
	newDesc("mpaxos_dropped_messages_total", "Peer messages dropped at a full send queue.", prometheus.CounterValue,
		func(n *Node, _ Status) float64 { return float64(n.stats.dropped.Load()) }),
	newDesc("mpaxos_malformed_entries_total", "Committed batches that failed to decode.", prometheus.CounterValue,
		func(n *Node, _ Status) float64 { return float64(n.stats.badEntries.Load()) }),
}

var peerLagDesc = prometheus.NewDesc("mpaxos_peer_lag_slots",
	"On the leader: slots a member's acknowledgements trail the last slot.", []string{"peer"}, nil)

// stageMetrics maps the stages (node/stages.go) to histogram names.
var stageMetrics = []struct {
	stage string
	desc  *prometheus.Desc
}{
	{StageLeaderSync, prometheus.NewDesc("mpaxos_store_sync_seconds", "One store write of a group of Readies, its sync included.", nil, nil)},
	{StageQuorumWait, prometheus.NewDesc("mpaxos_quorum_wait_seconds", "On the leader: from proposing a batch to learning it is chosen.", nil, nil)},
	{StageApply, prometheus.NewDesc("mpaxos_apply_seconds", "Applying one committed batch and queueing its replies.", nil, nil)},
	{StageBatchWait, prometheus.NewDesc("mpaxos_batch_wait_seconds", "On the leader: from the oldest queued command's arrival to its batch's proposal.", nil, nil)},
	{StageRequest, prometheus.NewDesc("mpaxos_request_seconds", "On the leader, once per batch: from the arrival of its oldest command until the batch is applied and its replies are queued.", nil, nil)},
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range nodeMetrics {
		ch <- m.desc
	}
	ch <- peerLagDesc
	for _, s := range stageMetrics {
		ch <- s.desc
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.n.Status()
	for _, m := range nodeMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.get(c.n, s))
	}
	for _, p := range s.Peers {
		ch <- prometheus.MustNewConstMetric(peerLagDesc, prometheus.GaugeValue, float64(p.Lag), strconv.Itoa(int(p.ID)))
	}
	// Copy the counts under the lock the loop takes once per batch, and
	// bucket them outside it.
	names := make([]string, len(stageMetrics))
	for i, m := range stageMetrics {
		names[i] = m.stage
	}
	snaps := c.n.stages.export(names)
	for i, m := range stageMetrics {
		if snaps[i] == nil {
			continue
		}
		count, sum, buckets := promBuckets(hdrhistogram.Import(snaps[i]), metricBuckets)
		ch <- prometheus.MustNewConstHistogram(m.desc, count, sum, buckets)
	}
}

// promBuckets converts an HdrHistogram of nanoseconds into Prometheus's
// cumulative buckets with upper bounds in seconds. Each of h's value
// ranges counts in the first bucket that holds its highest value, so a
// bucket's count is exact to h's precision (3 digits); the sum takes each
// range at its midpoint.
func promBuckets(h *hdrhistogram.Histogram, bounds []float64) (count uint64, sum float64, cum map[float64]uint64) {
	cum = make(map[float64]uint64, len(bounds))
	per := make([]uint64, len(bounds))
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		c := uint64(bar.Count)
		count += c
		sum += float64(c) * float64(bar.From+bar.To) / 2 / 1e9
		top := float64(bar.To) / 1e9
		for i, b := range bounds {
			if top <= b {
				per[i] += c
				break
			}
		}
	}
	var run uint64
	for i, b := range bounds {
		run += per[i]
		cum[b] = run
	}
	return count, sum, cum
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
