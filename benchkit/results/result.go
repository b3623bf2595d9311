package results

import (
	"encoding/json"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// Kinds of JSON file the benchmark writes; a JSON file with another kind
// is not ours and is never overwritten.
const (
	KindRun   = "mpaxos-bench-result"
	KindSweep = "mpaxos-bench-sweep"
	// Format is the schema version (results/README.md documents it);
	// readers refuse newer ones and read format 1 through upgradeV1.
	Format = 2
)

// Result is one run, as written to NAME.json. Field names are snake_case
// and end in their unit: _ns, _us, _s, _bytes, ops_per_s; a fraction is
// named as one (0..1).
// Optional sections are nil/empty until their producer exists; readers and
// the report show "not measured" for them rather than zeros.
type Result struct {
	Kind        string    `json:"kind"`
	Format      int       `json:"format"`
	Name        string    `json:"name"`
	Command     []string  `json:"command"`
	StartedAt   time.Time `json:"started_at"`
	Interrupted bool      `json:"interrupted,omitempty"`
	Machine     Machine   `json:"machine"`
	// Durability is "sync" or "nosync"; runs of different durability never
	// compare unless forced.
	Durability string `json:"durability"`
	// Mode is "closed" (each client one outstanding op; latency from the
	// actual send) or "open" (fixed rate; latency from the intended send).
	Mode    string  `json:"mode"`
	Cluster Cluster `json:"cluster"`
	// Settings is the run's full configuration (benchkit.Config as JSON).
	Settings json.RawMessage `json:"settings"`

	ElapsedSec float64          `json:"elapsed_s"`
	Ops        int64            `json:"ops"`
	Throughput float64          `json:"ops_per_s"`
	Errors     int64            `json:"errors"`
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
	WarmupOps  int64            `json:"warmup_ops"`
	// Abandoned (open loop): requests due before the end that were never
	// sent, because the cluster fell behind the offered rate.
	Abandoned int64 `json:"abandoned,omitempty"`
	// WarmupDropped (open loop): warm-up requests still due when measuring
	// began, dropped rather than charged to the measured part.
	WarmupDropped int64            `json:"warmup_dropped,omitempty"`
	Clamped       int64            `json:"clamped,omitempty"` // latencies above 1 h, recorded as 1 h
	Latency       hist.Percentiles `json:"latency"`
	// LatencyUncorrected (open loop only) is the same operations' latency
	// from their actual send rather than their intended one (wrk2's -U):
	// the service time, without the wait behind the offered rate.
	LatencyUncorrected *hist.Percentiles `json:"latency_uncorrected,omitempty"`
	// Histogram is the latency of every successful measured operation in
	// HdrHistogram's V2 compressed base64 encoding, unit nanoseconds.
	Histogram     string   `json:"histogram"`
	HistogramUnit string   `json:"histogram_unit"`
	Series        []Second `json:"series"`

	// Stages are per-stage latency histograms fetched from the nodes
	// (queue, batch_wait, leader_sync, quorum_wait, apply, reply), covering
	// the measured window.
	Stages []Stage `json:"stages,omitempty"`
	// StagesNote says why Stages is empty when it is (e.g. the nodes do not
	// report them).
	StagesNote string `json:"stages_note,omitempty"`
	// BatchSizes is the distribution of batch sizes the leader proposed,
	// HdrHistogram-encoded, unit commands.
	BatchSizes string `json:"batch_sizes,omitempty"`
	// Faults are the fault windows injected during the run.
	Faults []Fault `json:"faults,omitempty"`
	// FaultSeries is the fault runner's fine series of the measured run
	// (100 ms steps, coarser for long runs), which the fault windows'
	// figures come from; present when faults were played.
	FaultSeries *FineSeries `json:"fault_series,omitempty"`
	// Verdict is the correctness check of the run's history.
	Verdict *Verdict `json:"verdict,omitempty"`
	// Ceiling is the null-mode throughput measured in the same invocation.
	Ceiling *Ceiling `json:"ceiling,omitempty"`
	// CPU is the processor time the run cost, over the measured window.
	CPU *CPU `json:"cpu,omitempty"`
}

// CPU is the processor time spent over the measured window (user and
// system time, from /proc): what each operation cost the nodes and the
// load generator, and how busy the whole machine was. On a machine the
// cluster and the load generator share, CPU per operation is a steadier
// measure than throughput, which also moves with the machine's neighbours.
type CPU struct {
	WindowSec float64 `json:"window_s"`
	Cores     int     `json:"cores"`
	// NodesSec is the local node processes' CPU time, NodesUsPerOp the
	// same per successful operation; both 0 when Note says why.
	NodesSec     float64 `json:"nodes_cpu_s,omitempty"`
	NodesUsPerOp float64 `json:"nodes_us_per_op,omitempty"`
	// LeaderUsPerOp is the leader's CPU per operation, FollowerUsPerOp a
	// follower's (their mean); both 0 unless one leader led the whole
	// window.
	LeaderUsPerOp   float64 `json:"leader_us_per_op,omitempty"`
	FollowerUsPerOp float64 `json:"follower_us_per_op,omitempty"`
	// Syncs is each node's store writes over the window (one sync each
	// when durable), when the nodes report them.
	Syncs        []NodeSyncs `json:"syncs,omitempty"`
	BenchSec     float64     `json:"bench_cpu_s"`
	BenchUsPerOp float64     `json:"bench_us_per_op"`
	// MachineBusy is the fraction of all cores' time not idle (any
	// process, and the kernel), 0..1.
	MachineBusy float64 `json:"machine_busy"`
	Note        string  `json:"note,omitempty"`
}

// NodeSyncs is one node's store writes over the measured window.
type NodeSyncs struct {
	Node   uint64  `json:"node"`
	Syncs  uint64  `json:"syncs"`
	PerSec float64 `json:"per_s"`
	// OpsPerSync is the run's operations per write of this node: how many
	// commands one sync carried.
	OpsPerSync float64 `json:"ops_per_sync,omitempty"`
}

// Second is one point of the per-second series of the measured part.
type Second struct {
	At         float64 `json:"t_s"` // seconds since measuring began, at the interval's end
	Ops        int64   `json:"ops"`
	Throughput float64 `json:"ops_per_s"`
	P50        int64   `json:"p50_ns"`
	P99        int64   `json:"p99_ns"`
	P999       int64   `json:"p99_9_ns,omitempty"`
	Max        int64   `json:"max_ns,omitempty"`
	Errors     int64   `json:"errors"`
	Leader     uint64  `json:"leader,omitempty"` // node id, 0 unknown
}

// FineSeries is throughput at a finer step than Series: point i covers
// [i*StepS, (i+1)*StepS) seconds from the start of measuring.
type FineSeries struct {
	StepS   float64   `json:"step_s"`
	OpsPerS []float64 `json:"ops_per_s"`
}

// Cluster says what was measured.
type Cluster struct {
	Nodes    int  `json:"nodes"`
	External bool `json:"external"` // a running cluster (-cluster), not started by bench
	// DurabilitySource says where Result.Durability comes from: "nodes"
	// (their /status reported it), or, for nodes that do not report it,
	// "started" (bench started the nodes with it) or "flag" (declared by
	// the user's -sync for a running cluster).
	DurabilitySource string   `json:"durability_source,omitempty"`
	Addrs            []string `json:"addrs,omitempty"`
	// Settings are the nodes' effective settings (defaults resolved) as
	// they reported them on /status before the run; nil when they did
	// not, or disagree (SettingsNote says which).
	Settings     *adminapi.Settings `json:"settings,omitempty"`
	SettingsNote string             `json:"settings_note,omitempty"`
	// Leader is the node that led when the run began; 0 unknown. With
	// several Paxos groups, group 0's.
	Leader uint64 `json:"leader,omitempty"`
	// GroupLeaders is, with several Paxos groups, each group's leader when
	// the run began (node id, 0 none), by group id.
	GroupLeaders []uint64 `json:"group_leaders,omitempty"`
	// GroupsLed is, with several groups, how many groups each node led
	// when the run began: each node's share of the leaders' work.
	GroupsLed []NodeGroups `json:"groups_led,omitempty"`
	// TLS says the started nodes ran both ports over mutual TLS (bench
	// -tls).
	TLS bool `json:"tls,omitempty"`
	// Hosts is where the started nodes ran: "" or "local" (loopback),
	// "netns" (a network namespace per node; bench -hosts).
	Hosts string `json:"hosts,omitempty"`
}

// NodeGroups is how many Paxos groups one node led.
type NodeGroups struct {
	Node uint64 `json:"node"`
	Led  int    `json:"led"`
}

// Stage names, in the order a command meets them. Nodes report their
// per-stage histograms under these names.
const (
	StageQueue      = "queue"       // from arrival on the client socket to entering a batch
	StageBatchWait  = "batch_wait"  // in a batch until it is proposed
	StageLeaderSync = "leader_sync" // the leader's own log write and sync
	StageQuorumWait = "quorum_wait" // from proposal until a majority accepted
	StageApply      = "apply"       // from chosen to applied to the state machine
	StageReply      = "reply"       // from applied to the reply written to the client
)

// Stage is one node's latency histogram of one stage of a command's life.
type Stage struct {
	Node      uint64           `json:"node"`
	Name      string           `json:"name"`
	Histogram string           `json:"histogram"` // V2 encoded, ns
	Latency   hist.Percentiles `json:"latency"`
}

// Window is throughput and latency over part of a run.
type Window struct {
	StartSec   float64          `json:"start_s"`
	EndSec     float64          `json:"end_s"`
	Throughput float64          `json:"ops_per_s"`
	Latency    hist.Percentiles `json:"latency"`
}

// Fault is one injected fault and how the cluster fared.
type Fault struct {
	Spec        string   `json:"spec"` // as scheduled, e.g. "kill-leader@10s"
	Node        uint64   `json:"node,omitempty"`
	StartSec    float64  `json:"start_s"`
	EndSec      float64  `json:"end_s,omitempty"`
	DowntimeSec *float64 `json:"downtime_s,omitempty"`   // fault until the first commit after it
	Recover90   *float64 `json:"recover_90_s,omitempty"` // until throughput is back to 90% of steady
	Before      *Window  `json:"before,omitempty"`
	During      *Window  `json:"during,omitempty"`
	After       *Window  `json:"after,omitempty"`
	// Targets are the nodes the fault acted on (roles resolved when it
	// fired).
	Targets []uint64 `json:"targets,omitempty"`
	// NeverResumed: operations stopped during the fault and never
	// completed again before the end (DowntimeSec runs to the end).
	NeverResumed bool `json:"never_resumed,omitempty"`
	// NotRecovered: throughput fell below 90% of the steady state and did
	// not come back before the end (or there was no steady state).
	NotRecovered bool `json:"not_recovered,omitempty"`
	// StalledSec is the total time without any completed operation from
	// the fault's start to the end of its recovery phase.
	StalledSec float64 `json:"stalled_s,omitempty"`
	// NotInjected: the fault could not be injected (Error says why); it
	// has no window.
	NotInjected bool   `json:"not_injected,omitempty"`
	Error       string `json:"error,omitempty"`
	// Layer is what injected a network fault: "kernel" (nftables, tc, ip
	// link on netns hosts) or "hook" (the nodes' transport hook).
	Layer string `json:"layer,omitempty"`
	// Steps are a membership change's steps (replace, add, remove), in
	// order, each when it was done; Targets then are the node taken out
	// and the one joined.
	Steps []FaultStep `json:"steps,omitempty"`
}

// FaultStep is one step of a membership change: "killed", "learner
// added", "caught up", "promoted", "removed", "stopped" (faults.Step*).
type FaultStep struct {
	Name string `json:"name"`
	Node uint64 `json:"node"`
	// AtSec is when it was done, from the start of measuring.
	AtSec float64 `json:"at_s"`
}

// Verdict is the outcome of the correctness checks; nil fields were not run.
type Verdict struct {
	Linearizable *bool `json:"linearizable,omitempty"`
	CheckedKeys  int   `json:"checked_keys,omitempty"`
	// LinearizabilitySample is the fraction of keys whose history the
	// linearizability check saw (-check-sample); 1 is every key.
	LinearizabilitySample float64 `json:"linearizability_sample,omitempty"`
	// SessionChecked is the fraction of the executed commands the session
	// check saw (each node keeps only its last -record-applied); 1 is all.
	SessionChecked   *float64 `json:"session_checked_fraction,omitempty"`
	LostAckedWrites  *int64   `json:"lost_acked_writes,omitempty"`
	SessionOrderOK   *bool    `json:"session_order_ok,omitempty"`
	DedupedRetries   int64    `json:"deduped_retries,omitempty"`
	StateHashesAgree *bool    `json:"state_hashes_agree,omitempty"`
	// SplitBrainIntervals counts the poll intervals in which two or more
	// nodes answered clients as primary (bench watches for it in naive
	// scheme comparisons); absent when not watched.
	SplitBrainIntervals *int     `json:"split_brain_intervals,omitempty"`
	Notes               []string `json:"notes,omitempty"`
	// Failures are the lines that make the run fail (a violation, a lost
	// write); empty when every check that ran passed.
	Failures []string `json:"failures,omitempty"`
	// Visualization is porcupine's HTML of the violating keys, if any.
	Visualization string `json:"visualization,omitempty"`
}

// Ceiling is the null-mode measurement (nodes answer without replicating).
type Ceiling struct {
	Throughput float64 `json:"ops_per_s"`
	Fraction   float64 `json:"fraction"` // this run's throughput / Throughput
}
