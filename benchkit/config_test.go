package benchkit

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/internal/config"
	"github.com/mpaxos/mpaxos/naive"
)

// TestConfigValidate: every problem is one FieldError naming the field
// (a command maps it to its flag), and says what is wrong.
func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*Config)
		fields []string // the fields reported, in order; none means valid
		says   string   // a substring of the error
	}{
		{"defaults", func(*Config) {}, nil, ""},
		{"open loop zipf", func(c *Config) { c.Rate = 1000; c.Dist = Zipf }, nil, ""},
		{"ops instead of duration", func(c *Config) { c.Duration = 0; c.Ops = 1000 }, nil, ""},
		{"external cluster ignores nodes", func(c *Config) { c.Cluster = []string{"127.0.0.1:1"}; c.Nodes = 0 }, nil, ""},
		{"zero clients", func(c *Config) { c.Clients = 0 }, []string{"Clients"}, "Clients 0: must be at least 1"},
		{"too many conns", func(c *Config) { c.Conns = 51 }, []string{"Conns"}, "Conns 51: must be 1..the number of clients (50)"},
		{"both duration and ops", func(c *Config) { c.Ops = 5 }, []string{"Ops"}, "not both"},
		{"neither duration nor ops", func(c *Config) { c.Duration = 0 }, []string{"Duration"}, "needs a duration or a number of operations"},
		{"short duration", func(c *Config) { c.Duration = time.Millisecond }, []string{"Duration"}, "Duration 1ms: must be at least 100ms"},
		{"bad dist", func(c *Config) { c.Dist = "pareto" }, []string{"Dist"}, `Dist "pareto": must be uniform or zipf`},
		{"zipf s", func(c *Config) { c.Dist = Zipf; c.ZipfS = 1 }, []string{"ZipfS"}, "greater than 1"},
		{"read ratio", func(c *Config) { c.ReadRatio = 1.5 }, []string{"ReadRatio"}, "ReadRatio 1.5: must be 0..1"},
		{"nodes", func(c *Config) { c.Nodes = 0 }, []string{"Nodes"}, "Nodes 0: must be 1..15"},
		{"key size", func(c *Config) { c.KeySize = 8 }, []string{"KeySize"}, "fixed at 16 bytes"},
		{"timeout", func(c *Config) { c.Timeout = 0 }, []string{"Timeout"}, "must be positive"},
		{"negative knobs", func(c *Config) { c.Engine.BatchDelay = -time.Millisecond }, []string{"Engine.BatchDelay"}, "Engine.BatchDelay -1ms"},
		{"every negative knob named with its value", func(c *Config) { c.Engine.BatchSize, c.Engine.Pipeline, c.Engine.BatchBytes = -3, -1, -2 },
			[]string{"Engine.BatchSize", "Engine.BatchBytes", "Engine.Pipeline"}, "Engine.BatchSize -3: must not be negative"},
		{"read modes", func(c *Config) { c.Engine.ReadMode = "lease" }, nil, ""},
		{"bad read mode", func(c *Config) { c.Engine.ReadMode = "stale" }, []string{"Engine.ReadMode"}, `Engine.ReadMode "stale": must be log, index or lease`},
		{"read mode on a running cluster", func(c *Config) { c.Cluster, c.Engine.ReadMode = []string{"127.0.0.1:1"}, "index" }, []string{"Engine.ReadMode"}, "running"},
		{"null on a running cluster", func(c *Config) { c.Cluster, c.Engine.Null = []string{"127.0.0.1:1"}, true }, []string{"Engine.Null"}, "running"},
		{"admin without cluster", func(c *Config) { c.ClusterAdmin = []string{"127.0.0.1:2"} }, []string{"ClusterAdmin"}, "client addresses"},
		{"faults and check", func(c *Config) { c.Faults = "kill-leader@1s+1s,drop=2%@3s+1s"; c.Check = true }, nil, ""},
		{"network faults on a running cluster", func(c *Config) {
			c.Cluster, c.ClusterAdmin, c.Faults = []string{"127.0.0.1:1"}, []string{"127.0.0.1:2"}, "partition-leader@1s+1s"
		}, nil, ""},
		{"bad schedule", func(c *Config) { c.Faults = "explode@1s,drop=200%@2s" }, []string{"Faults", "Faults"}, `Faults: event 1 "explode@1s": unknown kind "explode"`},
		{"schedule names a non-member", func(c *Config) { c.Faults = "kill=4@1s" }, []string{"Faults"}, `Faults: event "kill=4@1s": node 4 is not a member`},
		{"kill on a running cluster", func(c *Config) {
			c.Cluster, c.ClusterAdmin, c.Faults = []string{"127.0.0.1:1"}, []string{"127.0.0.1:2"}, "kill-leader@1s+1s"
		}, []string{"Faults"}, "cannot kill or pause the nodes of a running cluster; only network faults (isolate, split, oneway, delay, drop, heal)"},
		{"faults on a running cluster without admin", func(c *Config) {
			c.Cluster, c.Faults = []string{"127.0.0.1:1"}, "drop=1%@1s"
		}, []string{"Faults"}, "admin addresses"},
		{"faults on null nodes", func(c *Config) { c.Faults, c.Engine.Null = "drop=1%@1s", true }, []string{"Faults"}, "null-mode"},
		{"membership changes", func(c *Config) { c.Nodes, c.Faults = 5, "replace=2@1s,replace=leader@2s,add@3s,remove=6@4s" }, nil, ""},
		{"membership on netns hosts", func(c *Config) { c.Hosts, c.Faults = HostsNetns, "add@1s" }, []string{"Faults"}, "add@1s: membership changes need loopback hosts"},
		{"membership with RESP", func(c *Config) { c.RESP, c.Faults = true, "remove=1@1s" }, []string{"Faults"}, "not played with -resp"},
		{"membership of a naive scheme", func(c *Config) { c.Engine.Protocol, c.Faults = naive.Unsync, "add@1s" }, []string{"Faults"}, "need the paxos protocol"},
		{"membership past 15 nodes", func(c *Config) { c.Nodes, c.Faults = 14, "add@1s,add@2s" }, []string{"Faults"}, "14 nodes and 2 joined by the schedule: at most 15 together"},
		{"membership on a running cluster", func(c *Config) {
			c.Cluster, c.ClusterAdmin, c.Faults = []string{"127.0.0.1:1"}, []string{"127.0.0.1:2"}, "replace=1@1s"
		}, []string{"Faults"}, "replace=1@1s: cannot kill or pause the nodes of a running cluster"},
		{"replace of a non-member", func(c *Config) { c.Faults = "replace=4@1s" }, []string{"Faults"}, `Faults: event "replace=4@1s": node 4 is not a member`},
		{"fault after the run", func(c *Config) { c.Faults, c.Duration = "kill-leader@20s", 3*time.Second },
			[]string{"Faults"}, "Faults: kill-leader@20s fires at 20s, not before the end of the 3s run"},
		{"fault at the end of the run", func(c *Config) { c.Faults, c.Duration = "drop=1%@1s,kill-leader@3s", 3*time.Second },
			[]string{"Faults"}, "kill-leader@3s fires at 3s"},
		{"infinite rate", func(c *Config) { c.Rate = math.Inf(1) }, []string{"Rate"}, "must be a finite"},
		{"NaN rate", func(c *Config) { c.Rate = math.NaN() }, []string{"Rate"}, "must be a finite"},
		{"check needs unique values", func(c *Config) { c.Check, c.ValueSize = true, 8 }, []string{"ValueSize"}, "ValueSize 8: the correctness checks need at least 16 bytes"},
		{"check on null nodes", func(c *Config) { c.Check, c.Engine.Null = true, true }, []string{"Check"}, "null-mode"},
		{"check sample", func(c *Config) { c.CheckSample = 2 }, []string{"CheckSample"}, "CheckSample 2: must be 0..1"},
		{"check timeout", func(c *Config) { c.CheckTimeout = -1 }, []string{"CheckTimeout"}, "must not be negative"},
		{"netns hosts", func(c *Config) { c.Hosts, c.Faults = HostsNetns, "blackhole-leader@1s+1s,dup=5%@2s+1s" }, nil, ""},
		{"netns hosts, hook layer", func(c *Config) { c.Hosts, c.FaultLayer, c.Faults = HostsNetns, LayerHook, "split=minority@1s+1s" }, nil, ""},
		{"unknown hosts", func(c *Config) { c.Hosts = "moon" }, []string{"Hosts"}, `"moon": must be local or netns`},
		{"netns of a running cluster", func(c *Config) { c.Hosts, c.Cluster = HostsNetns, []string{"x:1"} }, []string{"Hosts"}, "not a running cluster's"},
		{"kernel layer on loopback", func(c *Config) { c.FaultLayer = LayerKernel }, []string{"FaultLayer"}, "needs netns hosts"},
		{"unknown layer", func(c *Config) { c.FaultLayer = "x" }, []string{"FaultLayer"}, "must be kernel or hook"},
		{"kernel-only fault on loopback", func(c *Config) { c.Faults = "clientcut-leader@1s+1s" }, []string{"Faults"}, "only the kernel layer injects it"},
		{"kernel-only fault through the hook", func(c *Config) { c.Hosts, c.FaultLayer, c.Faults = HostsNetns, LayerHook, "flap=1:1s@1s+1s" }, []string{"Faults"}, "only the kernel layer"},
		{"every problem at once", func(c *Config) {
			c.Clients, c.ValueSize, c.Keys, c.Warmup, c.Rate = -1, -1, 0, -1, -5
		}, []string{"Clients", "Warmup", "ValueSize", "Keys", "Rate"}, "Warmup -1ns: must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if len(tc.fields) == 0 {
				if err != nil {
					t.Fatalf("valid config rejected: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
			var got []string
			for _, fe := range config.Fields(err) {
				got = append(got, fe.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("fields %v, want %v (%v)", got, tc.fields, err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

func TestSample(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct {
		keys   int
		sample float64
		want   float64
	}{{100000, 0, 0.01}, {500, 0, 1}, {100000, 0.5, 0.5}} {
		c.Keys, c.CheckSample = tc.keys, tc.sample
		if got := c.Sample(); got != tc.want {
			t.Errorf("keys %d sample %v: %v, want %v", tc.keys, tc.sample, got, tc.want)
		}
	}
}

func TestFormatKey(t *testing.T) {
	var b [KeySize]byte
	for _, tc := range []struct {
		i    uint64
		want string
	}{{0, "k000000000000000"}, {42, "k000000000000042"}, {999999999999999, "k999999999999999"}} {
		if got := string(formatKey(b[:], tc.i)); got != tc.want {
			t.Errorf("formatKey(%d) = %q, want %q", tc.i, got, tc.want)
		}
	}
}

func TestWorkloadMixAndRange(t *testing.T) {
	for _, dist := range []Dist{Uniform, Zipf} {
		cfg := DefaultConfig()
		cfg.Keys, cfg.ReadRatio, cfg.Dist, cfg.Seed = 100, 0.25, dist, 7
		w := newWorkload(cfg, 3)
		gets, counts := 0, map[string]int{}
		const n = 20000
		for i := 0; i < n; i++ {
			op := w.next()
			if len(op.Key) != KeySize {
				t.Fatalf("key %q", op.Key)
			}
			counts[string(op.Key)]++
			switch op.Kind {
			case OpGet:
				gets++
			case OpPut:
				if len(op.Value) != cfg.ValueSize {
					t.Fatalf("value size %d", len(op.Value))
				}
			default:
				t.Fatalf("kind %v", op.Kind)
			}
		}
		if len(counts) > 100 {
			t.Fatalf("%s: %d distinct keys, want <= 100", dist, len(counts))
		}
		if f := float64(gets) / n; f < 0.22 || f > 0.28 {
			t.Errorf("%s: get fraction %.3f, want about 0.25", dist, f)
		}
		hot := counts["k000000000000000"]
		if dist == Zipf && hot < n/10 {
			t.Errorf("zipf: hottest key only %d of %d", hot, n)
		}
		if dist == Uniform && hot > n/20 {
			t.Errorf("uniform: key 0 drawn %d of %d", hot, n)
		}
	}
}

func TestWorkloadOneKey(t *testing.T) {
	for _, dist := range []Dist{Uniform, Zipf} {
		cfg := DefaultConfig()
		cfg.Keys, cfg.Dist = 1, dist
		w := newWorkload(cfg, 0)
		for i := 0; i < 100; i++ {
			if k := string(w.next().Key); k != "k000000000000000" {
				t.Fatalf("%s: key %q", dist, k)
			}
		}
	}
}

func BenchmarkWorkloadNext(b *testing.B) {
	w := newWorkload(DefaultConfig(), 1)
	b.ReportAllocs()
	for b.Loop() {
		w.next()
	}
}
