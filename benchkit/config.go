package benchkit

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/faults"
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
	// Engine holds the knobs passed to started nodes.
	Engine Engine `json:"engine"`

	// Clients is the number of concurrent logical clients (sessions), each
	// with one outstanding operation. The default is 50; >= 1.
	Clients int `json:"clients"`
	// Conns is the number of client connections the sessions share. The
	// default is 4 (cmd/bench lowers it to Clients when fewer); 1..Clients.
	Conns int `json:"conns"`
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

// ErrConfig is wrapped by every error of Validate.
var ErrConfig = errors.New("benchkit: invalid config")

// Validate reports every problem with c at once; each names the flag a
// user sets.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(c.Cluster) == 0 && (c.Nodes < 1 || c.Nodes > 15) {
		bad("-nodes must be 1..15, got %d", c.Nodes)
	}
	if c.Clients < 1 {
		bad("-clients must be at least 1, got %d", c.Clients)
	}
	if c.Conns < 1 || (c.Clients >= 1 && c.Conns > c.Clients) {
		bad("-conns must be 1..clients (%d), got %d", c.Clients, c.Conns)
	}
	switch {
	case c.Duration < 0 || c.Ops < 0:
		bad("-duration and -ops must not be negative")
	case c.Duration > 0 && c.Ops > 0:
		bad("set one of -duration and -ops, not both")
	case c.Duration == 0 && c.Ops == 0:
		bad("set -duration or -ops")
	case c.Duration > 0 && c.Duration < 100*time.Millisecond:
		bad("-duration must be at least 100ms, got %v", c.Duration)
	}
	if c.Warmup < 0 {
		bad("-warmup must not be negative, got %v", c.Warmup)
	}
	if c.Timeout <= 0 {
		bad("-timeout must be positive, got %v", c.Timeout)
	}
	if c.ValueSize < 0 || c.ValueSize > 1<<20 {
		bad("-value-size must be 0..1048576 bytes, got %d", c.ValueSize)
	}
	if c.KeySize != KeySize {
		bad("key size is fixed at %d bytes, got %d", KeySize, c.KeySize)
	}
	if c.Keys < 1 || c.Keys > maxKeys {
		bad("-keys must be 1..%d, got %d", maxKeys, c.Keys)
	}
	if !(c.ReadRatio >= 0 && c.ReadRatio <= 1) {
		bad("-read-ratio must be 0..1, got %v", c.ReadRatio)
	}
	switch c.Dist {
	case Uniform:
	case Zipf:
		if !(c.ZipfS > 1) {
			bad("-zipf-s must be greater than 1, got %v", c.ZipfS)
		}
	default:
		bad("-dist must be uniform or zipf, got %q", c.Dist)
	}
	if !(c.Rate >= 0) || math.IsInf(c.Rate, 0) {
		bad("-rate must be a finite, non-negative number of ops/s, got %v", c.Rate)
	}
	e := c.Engine
	for _, k := range []struct {
		flag string
		v    int64
		s    string
	}{{"-batch-size", int64(e.BatchSize), fmt.Sprint(e.BatchSize)}, {"-batch-bytes", int64(e.BatchBytes), fmt.Sprint(e.BatchBytes)},
		{"-batch-delay", int64(e.BatchDelay), e.BatchDelay.String()}, {"-pipeline", int64(e.Pipeline), fmt.Sprint(e.Pipeline)}} {
		if k.v < 0 {
			bad("%s %s: must not be negative (0: the node's default)", k.flag, k.s)
		}
	}
	if e.Null && len(c.Cluster) > 0 {
		bad("-null and -ceiling need a cluster bench starts, not -cluster")
	}
	if len(c.ClusterAdmin) > 0 && len(c.Cluster) == 0 {
		bad("-cluster-admin needs -cluster")
	}
	if sched, err := c.Schedule(); err != nil {
		bad("-faults: %s", strings.ReplaceAll(strings.TrimPrefix(err.Error(), "faults: bad schedule: "), "\n", "; "))
	} else if len(sched) > 0 {
		if e.Null {
			bad("-faults cannot be played against -null nodes (they do not replicate)")
		}
		if c.Duration > 0 {
			// An event at or after the end would never fire: the run
			// would say "faults none" for a schedule the user asked for.
			for _, ev := range sched {
				if ev.At >= c.Duration {
					bad("-faults: %s fires at %v, not before the end of the -duration %v run", ev, ev.At, c.Duration)
				}
			}
		}
		if len(c.Cluster) == 0 && c.Nodes >= 1 {
			members := make([]faults.NodeID, c.Nodes)
			for i := range members {
				members[i] = faults.NodeID(i + 1)
			}
			if err := sched.Check(members); err != nil {
				bad("-faults: %s", strings.ReplaceAll(strings.TrimPrefix(err.Error(), "faults: "), "\n", "; "))
			}
		}
		if len(c.Cluster) > 0 {
			if len(c.ClusterAdmin) == 0 {
				bad("-faults against -cluster needs -cluster-admin (faults go through the nodes' admin POST /faults)")
			}
			for _, ev := range sched {
				switch ev.Kind {
				case faults.Kill, faults.Restart, faults.Pause, faults.Resume:
					bad("-faults: %s: cannot kill or pause the nodes of a running -cluster; only network faults (isolate, split, oneway, delay, drop, heal)", ev)
				}
			}
		}
	}
	if c.Check {
		if c.ValueSize < 16 {
			bad("-check needs -value-size of at least 16 bytes (each value carries its writer and counter, so it is unique per key), got %d", c.ValueSize)
		}
		if e.Null {
			bad("-check cannot check -null nodes (they do not replicate)")
		}
	}
	if !(c.CheckSample >= 0 && c.CheckSample <= 1) {
		bad("-check-sample must be 0..1, got %v", c.CheckSample)
	}
	if c.CheckTimeout < 0 {
		bad("-check-timeout must not be negative, got %v", c.CheckTimeout)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}
