package benchkit

import (
	"fmt"
	"strings"
)

// Scenario is a named preset of a run: a fault schedule (Config.Faults)
// and the workload that exposes one failure of the naive replication
// schemes (package naive), played the same way against Multi-Paxos.
// Times count from the start of measuring.
type Scenario struct {
	Name string
	// Exposes is the failure the scenario is built to show, for reports.
	Exposes string
	// About says what it does, for help text and reports.
	About string
	// Faults is the schedule, in Config.Faults syntax; empty for none.
	Faults string
	// Keys and ReadRatio, when not zero, replace the workload's: few keys
	// and reads make concurrent writes collide and show a stale read.
	Keys      int
	ReadRatio float64
	// Check turns the correctness checks on (a scenario with Faults
	// always does).
	Check bool
}

// Scenarios is every preset, in the order reports list them.
var Scenarios = []Scenario{
	{Name: "none", Exposes: "cost", About: "no faults, the default workload: throughput and p99"},
	{Name: "concurrent", Exposes: "divergence", Keys: 256, ReadRatio: 0.5, Check: true,
		About: "concurrent clients on every node writing and reading 256 keys, no faults"},
	{Name: "lost-write", Exposes: "lost write", Keys: 100000, ReadRatio: 0.5,
		Faults: "isolate-leader@1s+3s,kill-leader@1.3s",
		About:  "cut the primary off from the others at 1s and kill it 300ms later, before any timeout: what it answered meanwhile was never forwarded (it restarts for the checks); many keys, so few of those writes are overwritten"},
	{Name: "split-brain", Exposes: "split brain", Keys: 100000, ReadRatio: 0.5,
		Faults: "isolate-leader@1s+3s",
		About:  "cut the primary off from the others for 3s while clients homed on both sides keep writing"},
}

// ScenarioNames lists the presets' names.
func ScenarioNames() []string {
	out := make([]string, len(Scenarios))
	for i, s := range Scenarios {
		out[i] = s.Name
	}
	return out
}

// LookupScenario finds a preset by name.
func LookupScenario(name string) (Scenario, error) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, nil
		}
	}
	return Scenario{}, fmt.Errorf("%w: unknown scenario %q (scenarios: %s)", ErrConfig, name, strings.Join(ScenarioNames(), ", "))
}

// Apply sets the scenario's schedule and workload on c; a scenario with
// faults also turns the checks on.
func (s Scenario) Apply(c *Config) {
	c.Faults = s.Faults
	if s.Keys > 0 {
		c.Keys = s.Keys
	}
	if s.ReadRatio > 0 {
		c.ReadRatio = s.ReadRatio
	}
	if s.Faults != "" || s.Check {
		c.Check = true
	}
}

// ScenarioUsage is the help text's list of presets.
func ScenarioUsage() string {
	var b strings.Builder
	b.WriteString("Scenarios (-scenario NAME: a preset of -faults and the workload, see bench why-paxos):\n")
	for _, s := range Scenarios {
		f := s.Faults
		if f == "" {
			f = "no faults"
		}
		fmt.Fprintf(&b, "  %-12s %s (%s)\n", s.Name, s.About, f)
	}
	return b.String()
}
