package benchkit

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/faults"
	"github.com/mpaxos/mpaxos/internal/config"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/naive"
)

// KeySize is the size of every key in bytes, fixed so that results compare.
const KeySize = 16

// maxKeys is the most keys the 15 decimal digits of a key can number.
const maxKeys = 999_999_999_999_999

// Dist names a key-choice distribution.
type Dist string

// The key distributions.
const (
	Uniform Dist = "uniform"
	Zipf    Dist = "zipf"
)

// Engine holds the engine knobs passed through to the nodes the harness
// starts, and recorded in the results. Zero means "the node's default" and
// is not passed (results record it as default).
type Engine struct {
	// BatchSize is the maximum commands per batch (-batch-size). >= 0.
	BatchSize int `json:"batch_size,omitempty"`
	// BatchBytes is the maximum bytes per batch (-batch-bytes). >= 0.
	BatchBytes int `json:"batch_bytes,omitempty"`
	// BatchDelay is how long a batch may wait to fill (-batch-delay). >= 0.
	BatchDelay time.Duration `json:"batch_delay_ns,omitempty"`
	// Pipeline is the maximum unacknowledged slots (-pipeline). >= 0.
	Pipeline int `json:"pipeline,omitempty"`
	// Sync makes every node sync its log before acknowledging (-sync). The
	// default is true; results with different Sync never compare unforced.
	Sync bool `json:"sync"`
	// Null starts the nodes with -null: they answer clients without
	// replicating or storing, the ceiling of the client path and the
	// harness. The default is false.
	Null bool `json:"null,omitempty"`
	// Protocol is the nodes' replication protocol (-protocol): Multi-Paxos
	// or a naive scheme to compare it with (package naive). The default is
	// naive.Paxos; a naive one needs a cluster the harness starts.
	Protocol naive.Protocol `json:"protocol,omitempty"`
	// ReadMode is how the nodes serve the workload's gets (-read-mode):
	// "log", "index" or "lease". The default, empty, is the node's
	// default; the nodes' /status reports the mode in effect.
	ReadMode string `json:"read_mode,omitempty"`
	// Groups is how many Paxos groups the nodes split the keys over
	// (-groups), 1..64. The default, 0, is the node's default: one.
	Groups int `json:"groups,omitempty"`
}

// Durability names the durability mode of e as results record it:
// "sync", "nosync" or "null".
func (e Engine) Durability() string {
	if e.Null {
		return "null"
	}
	if e.Sync {
		return "sync"
	}
	return "nosync"
}

// Config is one benchmark run. Fields state unit, default and constraints;
// DefaultConfig fills the defaults.
type Config struct {
	// Nodes is the number of node processes to start on loopback. The
	// default is 3; 1..15. Ignored with Cluster.
	Nodes int `json:"nodes"`
	// Cluster lists the client addresses (host:port) of a running cluster to
	// target instead of starting one. The default is empty (start one).
	Cluster []string `json:"cluster,omitempty"`
	// ClusterAdmin lists the admin (HTTP) addresses of a running cluster, for
	// the current leader and per-stage histograms. Optional.
	ClusterAdmin []string `json:"cluster_admin,omitempty"`
	// ClusterAdminTokenFile holds the running cluster's admin token (the
	// nodes' -admin-token-file), which network faults need. Optional.
	ClusterAdminTokenFile string `json:"-"`
	// Keep keeps the data and logs of a started cluster. The default is false.
	Keep bool `json:"keep"`
	// Hosts is where a started cluster's nodes run: HostsLocal (loopback,
	// the default "") or HostsNetns (a network namespace per node and one
	// for the clients; Linux, root). Not with Cluster.
	Hosts string `json:"hosts,omitempty"`
	// FaultLayer is what injects network faults: LayerKernel (nftables, tc
	// and ip link; needs HostsNetns) or LayerHook (the nodes' in-process
	// transport hook). The default "" is the kernel on netns hosts, the
	// hook elsewhere.
	FaultLayer string `json:"fault_layer,omitempty"`
	// Engine holds the knobs passed to started nodes.
	Engine Engine `json:"engine"`

	// Clients is the number of concurrent logical clients (sessions), each
	// with one outstanding operation. The default is 50; >= 1.
	Clients int `json:"clients"`
	// Conns is the number of client connections the sessions share. The
	// default is 4 (cmd/bench lowers it to Clients when fewer); 1..Clients.
	Conns int `json:"conns"`
	// RESP drives the load through the nodes' Redis protocol front end
	// (each started node serves -resp-addr) instead of the client library:
	// GET and SET, the sessions of a connection pipelined on it. Needs a
	// cluster bench starts. The default is false.
	RESP bool `json:"resp,omitempty"`
	// Duration is the measured run time. The default is 10 s. Exactly one
	// of Duration and Ops is non-zero.
	Duration time.Duration `json:"duration_ns,omitempty"`
	// Ops stops the run after this many measured operations instead of
	// after Duration. The default is 0 (use Duration).
	Ops int64 `json:"ops,omitempty"`
	// Warmup is run before measuring and not recorded. The default is 2 s; >= 0.
	Warmup time.Duration `json:"warmup_ns"`
	// Timeout bounds one operation. The default is 10 s; > 0.
	Timeout time.Duration `json:"timeout_ns"`
	// ValueSize is the size of written values in bytes. The default is 128;
	// 0..1 MiB.
	ValueSize int `json:"value_size"`
	// KeySize is fixed at 16 (KeySize) and recorded for the reader.
	KeySize int `json:"key_size"`
	// Keys is the number of distinct keys. The default is 100000; >= 1.
	Keys int `json:"keys"`
	// ReadRatio is the fraction of operations that are gets; the rest are
	// puts. The default is 0 (all writes, the costly path); 0..1.
	ReadRatio float64 `json:"read_ratio"`
	// Dist chooses keys: Uniform (the default) or Zipf.
	Dist Dist `json:"dist"`
	// ZipfS is the Zipf exponent s (> 1). The default is 1.1.
	ZipfS float64 `json:"zipf_s,omitempty"`
	// Rate is the total offered load in operations per second for an open
	// loop; 0 (the default) runs a closed loop. >= 0.
	Rate float64 `json:"rate,omitempty"`
	// Seed seeds key and operation choice; the default 0 picks one from
	// the clock (and the results record it).
	Seed uint64 `json:"seed"`

	// Faults is a fault schedule played during the measured run (see
	// package faults: KIND[=ARG]@START[+DURATION],...). The default is
	// empty: no faults. Against a running Cluster only network faults are
	// possible (they need ClusterAdmin).
	Faults string `json:"faults,omitempty"`
	// Check runs the correctness checks after the run: linearizability of
	// the sampled keys' history, acknowledged writes read back, sessions
	// and state machine hashes from the nodes. The default is false;
	// cmd/bench turns it on when Faults is set. Needs ValueSize >= 16 (so
	// every written value is unique per key).
	Check bool `json:"check,omitempty"`
	// CheckSample is the fraction of keys whose every operation is kept
	// for the linearizability check (writes to every key are kept for the
	// read-back). The default 0 means min(1, 1000/Keys). 0..1.
	CheckSample float64 `json:"check_sample,omitempty"`
	// CheckTimeout bounds the linearizability check. The default is 60 s.
	// >= 0 (0: the default).
	CheckTimeout time.Duration `json:"check_timeout_ns,omitempty"`
}

// Sample returns the fraction of keys the linearizability check covers.
func (c Config) Sample() float64 {
	if c.CheckSample > 0 {
		return c.CheckSample
	}
	return min(1, 1000/float64(max(c.Keys, 1)))
}

// Schedule parses Faults (nil when empty).
func (c Config) Schedule() (faults.Schedule, error) {
	if strings.TrimSpace(c.Faults) == "" {
		return nil, nil
	}
	return faults.Parse(c.Faults)
}

// DefaultConfig returns the defaults: 3 nodes, 50 clients over 4
// connections, 10 s after 2 s of warm-up, 128-byte values, all writes,
// uniform keys, closed loop, sync on.
func DefaultConfig() Config {
	return Config{
		Nodes:     3,
		Engine:    Engine{Sync: true},
		Clients:   50,
		Conns:     4,
		Duration:  10 * time.Second,
		Warmup:    2 * time.Second,
		Timeout:   10 * time.Second,
		ValueSize: 128,
		KeySize:   KeySize,
		Keys:      100000,
		Dist:      Uniform,
		ZipfS:     1.1,
	}
}

// Mode names the load model: "closed" or "open".
func (c Config) Mode() string {
	if c.Rate > 0 {
		return "open"
	}
	return "closed"
}

// Hosts and fault layers (Config.Hosts, Config.FaultLayer).
const (
	HostsLocal  = "local"
	HostsNetns  = "netns"
	LayerKernel = "kernel"
	LayerHook   = "hook"
)

// Layer returns the layer that injects c's network faults: LayerKernel or
// LayerHook.
func (c Config) Layer() string {
	if c.FaultLayer != "" {
		return c.FaultLayer
	}
	if c.Hosts == HostsNetns {
		return LayerKernel
	}
	return LayerHook
}

// ErrConfig is wrapped by every error of Validate.
var ErrConfig = errors.New("benchkit: invalid config")

// Validate reports every problem with c at once, one
// internal/config.FieldError per problem, named by the field's Go path
// ("Clients", "Engine.BatchSize"); errors.Is(err, ErrConfig) holds.
func (c Config) Validate() error {
	v := config.NewCollector(ErrConfig)
	c.validateTarget(v)
	c.validateLoad(v)
	c.validateEngine(v)
	c.validateFaults(v)
	c.validateCheck(v)
	return v.Err()
}

// validateTarget checks the cluster to start or target.
func (c Config) validateTarget(v *config.Collector) {
	if len(c.Cluster) == 0 && (c.Nodes < 1 || c.Nodes > 15) {
		v.Bad("Nodes", c.Nodes, "must be 1..15")
	}
	if len(c.ClusterAdmin) > 0 && len(c.Cluster) == 0 {
		v.Bad("ClusterAdmin", nil, "needs the running cluster's client addresses too")
	}
	if c.RESP && len(c.Cluster) > 0 {
		v.Bad("RESP", c.RESP, "needs a cluster bench starts (it gives the nodes their RESP ports)")
	}
	if c.RESP && c.Engine.Null {
		v.Bad("RESP", c.RESP, "cannot drive null-mode nodes (they serve the native client port only)")
	}
	if c.RESP && c.Hosts == HostsNetns {
		v.Bad("RESP", c.RESP, "runs on local hosts only (the RESP dialer does not enter the clients' namespace)")
	}
	switch c.Hosts {
	case "", HostsLocal:
	case HostsNetns:
		if len(c.Cluster) > 0 {
			v.Bad("Hosts", c.Hosts, "places the nodes bench starts, not a running cluster's")
		}
	default:
		v.Bad("Hosts", fmt.Sprintf("%q", c.Hosts), "must be %s or %s", HostsLocal, HostsNetns)
	}
	switch c.FaultLayer {
	case "", LayerHook:
	case LayerKernel:
		if c.Hosts != HostsNetns {
			v.Bad("FaultLayer", c.FaultLayer, "needs netns hosts")
		}
	default:
		v.Bad("FaultLayer", fmt.Sprintf("%q", c.FaultLayer), "must be %s or %s", LayerKernel, LayerHook)
	}
}

// validateLoad checks the clients, the length of the run and the
// workload.
func (c Config) validateLoad(v *config.Collector) {
	if c.Clients < 1 {
		v.Bad("Clients", c.Clients, "must be at least 1")
	}
	if c.Conns < 1 || (c.Clients >= 1 && c.Conns > c.Clients) {
		v.Bad("Conns", c.Conns, "must be 1..the number of clients (%d)", c.Clients)
	}
	c.validateLength(v)
	c.validateWorkload(v)
}

// validateWorkload checks the operations the clients send.
func (c Config) validateWorkload(v *config.Collector) {
	if c.ValueSize < 0 || c.ValueSize > 1<<20 {
		v.Bad("ValueSize", c.ValueSize, "must be 0..1048576 bytes")
	}
	if c.KeySize != KeySize {
		v.Bad("KeySize", c.KeySize, "is fixed at %d bytes", KeySize)
	}
	if c.Keys < 1 || c.Keys > maxKeys {
		v.Bad("Keys", c.Keys, "must be 1..%d", maxKeys)
	}
	if !(c.ReadRatio >= 0 && c.ReadRatio <= 1) {
		v.Bad("ReadRatio", c.ReadRatio, "must be 0..1")
	}
	c.validateDist(v)
	if !(c.Rate >= 0) || math.IsInf(c.Rate, 0) {
		v.Bad("Rate", c.Rate, "must be a finite, non-negative number of ops/s")
	}
}

// validateLength checks how long the run and its operations last.
func (c Config) validateLength(v *config.Collector) {
	switch {
	case c.Duration < 0:
		v.Bad("Duration", c.Duration, "must not be negative")
	case c.Ops < 0:
		v.Bad("Ops", c.Ops, "must not be negative")
	case c.Duration > 0 && c.Ops > 0:
		v.Bad("Ops", c.Ops, "a run ends after a duration or a number of operations, not both")
	case c.Duration == 0 && c.Ops == 0:
		v.Bad("Duration", nil, "a run needs a duration or a number of operations")
	case c.Duration > 0 && c.Duration < 100*time.Millisecond:
		v.Bad("Duration", c.Duration, "must be at least 100ms")
	}
	if c.Warmup < 0 {
		v.Bad("Warmup", c.Warmup, "must not be negative")
	}
	if c.Timeout <= 0 {
		v.Bad("Timeout", c.Timeout, "must be positive")
	}
}

func (c Config) validateDist(v *config.Collector) {
	switch c.Dist {
	case Uniform:
	case Zipf:
		if !(c.ZipfS > 1) {
			v.Bad("ZipfS", c.ZipfS, "must be greater than 1")
		}
	default:
		v.Bad("Dist", fmt.Sprintf("%q", c.Dist), "must be uniform or zipf")
	}
}

// MaxGroups is the most Paxos groups a node runs (node.MaxGroups).
const MaxGroups = 64

// validateEngine checks the knobs passed to started nodes.
func (c Config) validateEngine(v *config.Collector) {
	e := c.Engine
	for _, k := range []struct {
		field string
		v     int64
		show  any
	}{{"Engine.BatchSize", int64(e.BatchSize), e.BatchSize}, {"Engine.BatchBytes", int64(e.BatchBytes), e.BatchBytes},
		{"Engine.BatchDelay", int64(e.BatchDelay), e.BatchDelay}, {"Engine.Pipeline", int64(e.Pipeline), e.Pipeline}} {
		if k.v < 0 {
			v.Bad(k.field, k.show, "must not be negative (0: the node's default)")
		}
	}
	if e.Null && len(c.Cluster) > 0 {
		v.Bad("Engine.Null", nil, "needs a cluster the harness starts, not a running one")
	}
	switch {
	case e.Protocol != naive.Paxos && !e.Protocol.Naive():
		v.Bad("Engine.Protocol", e.Protocol, "is not a known protocol")
	case e.Protocol.Naive() && (len(c.Cluster) > 0 || e.Null):
		v.Bad("Engine.Protocol", e.Protocol, "needs a cluster the harness starts, without -null")
	}
	if e.Groups < 0 || e.Groups > MaxGroups {
		v.Bad("Engine.Groups", e.Groups, "must be 1..%d (0: the node's default, 1)", MaxGroups)
	}
	if e.Groups > 1 && e.Protocol.Naive() {
		v.Bad("Engine.Groups", e.Groups, "needs -protocol paxos (a naive scheme runs one group)")
	}
	if e.Groups > 1 && c.RESP {
		v.Bad("Engine.Groups", e.Groups, "does not work with RESP yet (its slots map to one group)")
	}
	switch e.ReadMode {
	case "", kv.ReadLog.String(), kv.ReadIndex.String(), kv.ReadLease.String():
		if e.ReadMode != "" && len(c.Cluster) > 0 {
			v.Bad("Engine.ReadMode", fmt.Sprintf("%q", e.ReadMode), "needs a cluster the harness starts, not a running one")
		}
	default:
		v.Bad("Engine.ReadMode", fmt.Sprintf("%q", e.ReadMode), "must be log, index or lease")
	}
}

// validateFaults checks the fault schedule, and that the cluster can play
// it.
func (c Config) validateFaults(v *config.Collector) {
	sched, err := c.Schedule()
	if err != nil {
		badSchedule(v, err)
		return
	}
	if len(sched) == 0 {
		return
	}
	if c.Engine.Null {
		v.Bad("Faults", nil, "cannot be played against null-mode nodes (they do not replicate)")
	}
	if c.Duration > 0 {
		// An event at or after the end would never fire: the run
		// would say "faults none" for a schedule the user asked for.
		for _, ev := range sched {
			if ev.At >= c.Duration {
				v.Bad("Faults", nil, "%s fires at %v, not before the end of the %v run", ev, ev.At, c.Duration)
			}
		}
	}
	for _, ev := range sched {
		if ev.Kind.KernelOnly() && c.Layer() != LayerKernel {
			v.Bad("Faults", nil, "%s: only the kernel layer injects it (netns hosts, fault layer kernel)", ev)
		}
	}
	if len(c.Cluster) > 0 {
		c.validateRemoteFaults(v, sched)
		return
	}
	for _, ev := range sched {
		switch {
		case !ev.Kind.ChangesMembers():
		case c.Hosts == HostsNetns:
			v.Bad("Faults", nil, "%s: membership changes need loopback hosts (a joined node has no namespace)", ev)
		case c.RESP:
			v.Bad("Faults", nil, "%s: membership changes are not played with -resp (its -resp-addr lists every node up front)", ev)
		case c.Engine.Protocol.Naive():
			v.Bad("Faults", nil, "%s: membership changes need the paxos protocol", ev)
		}
	}
	if j := sched.Joins(); j > 0 && c.Nodes+j > 15 {
		v.Bad("Faults", nil, "%d nodes and %d joined by the schedule: at most 15 together", c.Nodes, j)
	}
	if c.Nodes >= 1 {
		members := make([]faults.NodeID, c.Nodes)
		for i := range members {
			members[i] = faults.NodeID(i + 1)
		}
		badSchedule(v, sched.Check(members))
	}
}

// validateRemoteFaults checks that a running cluster can play sched:
// only through its nodes' fault hook.
func (c Config) validateRemoteFaults(v *config.Collector, sched faults.Schedule) {
	if len(c.ClusterAdmin) == 0 {
		v.Bad("Faults", nil, "against a running cluster needs its admin addresses (faults go through the nodes' admin POST /faults)")
	}
	for _, ev := range sched {
		if ev.Kind.ActsOnProcess() {
			v.Bad("Faults", nil, "%s: cannot kill or pause the nodes of a running cluster; only network faults (%s)", ev, strings.Join(faults.NetworkKinds(), ", "))
		}
	}
}

// badSchedule reports each problem of a schedule (from faults.Parse or
// Schedule.Check) under Faults.
func badSchedule(v *config.Collector, err error) {
	if err == nil {
		return
	}
	ees := faults.EventErrors(err)
	if len(ees) == 0 {
		v.Bad("Faults", nil, "%v", err)
	}
	for _, ee := range ees {
		v.Bad("Faults", nil, "%s", ee.Detail())
	}
}

// validateCheck checks what the correctness checks need.
func (c Config) validateCheck(v *config.Collector) {
	if c.Check {
		if c.ValueSize < 16 {
			v.Bad("ValueSize", c.ValueSize, "the correctness checks need at least 16 bytes (each value carries its writer and counter, so it is unique per key)")
		}
		if c.Engine.Null {
			v.Bad("Check", nil, "cannot check null-mode nodes (they do not replicate)")
		}
	}
	if !(c.CheckSample >= 0 && c.CheckSample <= 1) {
		v.Bad("CheckSample", c.CheckSample, "must be 0..1")
	}
	if c.CheckTimeout < 0 {
		v.Bad("CheckTimeout", c.CheckTimeout, "must not be negative")
	}
}
