package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/internal/config"
)

// TestFieldFlags: every field benchkit's Validate methods report, over
// configs that break each one, has a flag in fieldFlags, and every flag
// fieldFlags names exists in bench -h or bench sweep -h.
func TestFieldFlags(t *testing.T) {
	var errs []error
	for _, mod := range []func(*benchkit.Config){
		func(c *benchkit.Config) {
			c.Nodes, c.Clients, c.Conns, c.Duration, c.Warmup, c.Timeout = 0, 0, 0, time.Millisecond, -1, 0
			c.ValueSize, c.KeySize, c.Keys, c.ReadRatio, c.Dist, c.Rate = -1, 1, 0, 2, "x", math.Inf(1)
			c.Engine = benchkit.Engine{BatchSize: -1, BatchBytes: -1, BatchDelay: -1, Pipeline: -1, ReadMode: "quorum", Groups: 65}
			c.Faults, c.CheckSample, c.CheckTimeout = "explode@1s", 2, -1
			c.Engine.Protocol = 99
		},
		func(c *benchkit.Config) { c.Ops, c.ClusterAdmin, c.Dist, c.ZipfS = -1, []string{"x"}, benchkit.Zipf, 1 },
		func(c *benchkit.Config) { c.Ops = 5 },
		func(c *benchkit.Config) { c.Cluster, c.Engine.Null, c.Check = []string{"x"}, true, true },
		func(c *benchkit.Config) { c.RESP, c.Engine.Null = true, true },
		func(c *benchkit.Config) { c.Hosts, c.FaultLayer = "moon", "x" },
	} {
		c := benchkit.DefaultConfig()
		mod(&c)
		errs = append(errs, c.Validate())
	}
	base := benchkit.DefaultConfig()
	base.Cluster = []string{"x"}
	errs = append(errs, benchkit.Grid{}.Validate(base),
		benchkit.Grid{BatchSize: []int{1, 1}, Pipeline: []int{2, 2}, Clients: []int{0, 0}, Rates: []int{2, 1}}.Validate(base))
	seen := map[string]bool{}
	for _, err := range errs {
		for _, fe := range config.Fields(err) {
			seen[fe.Field] = true
			if _, ok := fieldFlags[fe.Field]; !ok {
				t.Errorf("field %s (%v) has no flag in fieldFlags", fe.Field, fe)
			}
		}
	}
	if len(seen) < len(fieldFlags)-1 {
		t.Errorf("only %d of fieldFlags' %d fields were reported: the test no longer breaks them all", len(seen), len(fieldFlags))
	}
	_, run, _ := bench(t, "-h")
	_, sweep, _ := bench(t, "sweep", "-h")
	for field, names := range fieldFlags {
		for _, name := range strings.Split(names, ", ") {
			if !strings.HasPrefix(name, "-") {
				continue // a fixed setting no flag sets
			}
			if !strings.Contains(run+sweep, "\n  "+name+" ") && !strings.Contains(run+sweep, "\n  "+name+"\n") {
				t.Errorf("field %s: no flag %s in bench -h or bench sweep -h", field, name)
			}
		}
	}
}
