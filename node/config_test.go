package node

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/internal/config"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/sm"
)

func validConfig() Config {
	c := DefaultConfig()
	c.ID = 1
	c.Peers = map[engine.NodeID]string{1: "127.0.0.1:7001", 2: "127.0.0.1:7002", 3: "127.0.0.1:7003"}
	c.ClientAddr = "127.0.0.1:8001"
	c.DataDir = "/tmp/x"
	return c
}

func TestValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   []string // the fields Validate names, in order
	}{
		{"no id", func(c *Config) { c.ID = 0 }, []string{"ID"}},
		{"id not a member", func(c *Config) { c.ID = 4 }, []string{"Peers"}},
		{"no peers", func(c *Config) { c.Peers = nil }, []string{"Peers"}},
		{"empty peer address", func(c *Config) { c.Peers[2] = "" }, []string{"Peers"}},
		{"no data dir", func(c *Config) { c.DataDir = "" }, []string{"DataDir"}},
		{"null needs no data dir", func(c *Config) { c.DataDir = ""; c.Null = true }, nil},
		{"pipeline", func(c *Config) { c.Pipeline = 0 }, []string{"Pipeline"}},
		{"heartbeat below tick", func(c *Config) { c.Heartbeat = time.Millisecond }, []string{"Heartbeat"}},
		{"election too short", func(c *Config) { c.ElectionTimeout = c.Heartbeat }, []string{"ElectionTimeout"}},
		{"small frame", func(c *Config) { c.MaxFrame = 100 }, []string{"MaxFrame"}},
		{"client frame above peer frame", func(c *Config) { c.ClientMaxFrame = c.MaxFrame + 1 }, []string{"ClientMaxFrame"}},
		{"no client idle timeout", func(c *Config) { c.ClientIdleTimeout = 0 }, []string{"ClientIdleTimeout"}},
		{"no client conns", func(c *Config) { c.MaxClientConnsPerIP = 0 }, []string{"MaxClientConnsPerIP"}},
		{"no memtable", func(c *Config) { c.MemTable = 0 }, []string{"MemTable"}},
		{"huge memtable", func(c *Config) { c.MemTable = 2 << 30 }, []string{"MemTable"}},
		{"batch problems under Batch", func(c *Config) { c.Batch.MaxCount = -3 }, []string{"Batch.MaxCount"}},
		{"stale is no node read mode", func(c *Config) { c.ReadMode = kv.ReadStale }, []string{"ReadMode"}},
		{"default is no node read mode", func(c *Config) { c.ReadMode = kv.ReadDefault }, []string{"ReadMode"}},
		{"drift of 1", func(c *Config) { c.MaxClockDrift = 1 }, []string{"MaxClockDrift"}},
		{"negative drift", func(c *Config) { c.MaxClockDrift = -0.1 }, []string{"MaxClockDrift"}},
		{"several at once", func(c *Config) { c.ID = 0; c.ClientAddr = ""; c.Pipeline = -1 },
			[]string{"ID", "ClientAddr", "Pipeline"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("want ErrConfig, got %v", err)
			}
			var fields []string
			for _, fe := range config.Fields(err) {
				fields = append(fields, fe.Field)
				if !errors.Is(fe, ErrConfig) {
					t.Errorf("%v does not wrap ErrConfig", fe)
				}
			}
			if strings.Join(fields, ",") != strings.Join(tc.want, ",") {
				t.Errorf("Validate named fields %v, want %v (%v)", fields, tc.want, err)
			}
		})
	}
}

func TestAppliedRing(t *testing.T) {
	r := &appliedRing{buf: make([]AppliedCommand, 3)}
	if got := r.ordered(); len(got) != 0 {
		t.Fatalf("empty ring: %v", got)
	}
	for i := uint64(1); i <= 2; i++ {
		r.add(AppliedCommand{Slot: i})
	}
	if got := r.ordered(); len(got) != 2 || got[0].Slot != 1 || got[1].Slot != 2 {
		t.Fatalf("partial ring: %v", got)
	}
	for i := uint64(3); i <= 7; i++ {
		r.add(AppliedCommand{Slot: i})
	}
	got := r.ordered()
	if len(got) != 3 || got[0].Slot != 5 || got[1].Slot != 6 || got[2].Slot != 7 || r.total != 7 {
		t.Fatalf("wrapped ring: %v total %d", got, r.total)
	}
}

// TestSessionTTLDefault: the node's default session TTL is the session
// table's, so a node and an sm.Applier built with defaults agree on which
// retries execute (replicas with different TTLs could diverge).
func TestSessionTTLDefault(t *testing.T) {
	if got, want := DefaultConfig().SessionTTL, uint64(sm.DefaultSessionTTL); got != want {
		t.Fatalf("node's default SessionTTL %d, kv's %d", got, want)
	}
}
