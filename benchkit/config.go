package benchkit

import (
	"errors"
	"fmt"
	"time"
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
	if !(c.Rate >= 0) {
		bad("-rate must not be negative, got %v", c.Rate)
	}
	e := c.Engine
	if e.BatchSize < 0 || e.BatchBytes < 0 || e.BatchDelay < 0 || e.Pipeline < 0 {
		bad("-batch-size, -batch-bytes, -batch-delay and -pipeline must not be negative")
	}
	if e.Null && len(c.Cluster) > 0 {
		bad("-null and -ceiling need a cluster bench starts, not -cluster")
	}
	if len(c.ClusterAdmin) > 0 && len(c.Cluster) == 0 {
		bad("-cluster-admin needs -cluster")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}
