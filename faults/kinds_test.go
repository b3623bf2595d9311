package faults

import (
	"reflect"
	"strings"
	"testing"
)

// TestKindsTable: every kind of the table has help lines, each of which
// parses to an event of that kind and round-trips through String, and the
// kind's name (and aliases) appear in Usage and in the unknown-kind error.
func TestKindsTable(t *testing.T) {
	_, _, unknown := lookupKind("explode")
	for _, d := range kinds {
		if d.kind.String() != d.name {
			t.Errorf("%v: String %q, want the table's %q", d.kind, d.kind.String(), d.name)
		}
		if len(d.usage) == 0 {
			t.Errorf("%s: no help lines", d.name)
		}
		for _, u := range d.usage {
			if !strings.Contains(Usage, "  "+u[0]+" ") {
				t.Errorf("%s: %q is not in Usage", d.name, u[0])
			}
			// One event alone: a restart or heal needs a fault
			// before it in a schedule.
			e, err := parseEvent(u[0])
			if err != nil || e.Kind != d.kind {
				t.Errorf("%s: %q parses to %v, %v", d.name, u[0], e, err)
				continue
			}
			back, err := parseEvent(e.String())
			if err != nil || !reflect.DeepEqual(back, e) {
				t.Errorf("%s: %q -> %q -> %v, %v", d.name, u[0], e.String(), back, err)
			}
		}
		names := []string{d.name}
		for a := range d.aliases {
			names = append(names, a)
		}
		for _, n := range names {
			if !strings.Contains(unknown.Error(), n) {
				t.Errorf("the unknown-kind error %q does not list %q", unknown, n)
			}
		}
		if d.parse == nil {
			t.Errorf("%s: no parse", d.name)
		}
		if d.heals != 0 && d.heals.info().stopped == "" {
			t.Errorf("%s heals %v, which stops no node", d.name, d.heals)
		}
		if d.roles {
			for _, role := range []string{"-leader", "-follower"} {
				if e, err := parseEvent(d.name + role + "@1s+1s"); err != nil || e.Kind != d.kind {
					t.Errorf("%s%s: %v %v", d.name, role, e, err)
				}
			}
		}
	}
	if Kind(0).info() != nil || Kind(len(kinds)+1).info() != nil {
		t.Error("a kind outside the table has a descriptor")
	}
}
