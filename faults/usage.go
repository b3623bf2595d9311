package faults

import (
	"fmt"
	"strings"
)

// Usage is the schedule syntax in brief, for `bench -h` and the README. The
// package documentation says the same at more length. The kinds' lines
// come from the kinds table.
var Usage = usage()

func usage() string {
	var b strings.Builder
	b.WriteString(`A fault schedule is a comma-separated list of KIND[=ARG]@START[+DURATION]:
START is from the start of the measured run; +DURATION heals the fault by
itself after that long (restart a killed node, continue a paused one, lift a
network fault); without it the fault lasts until restart, resume or heal.
Nodes are ids (1, 2, ...) or roles resolved when the event fires.

`)
	for _, d := range kinds {
		for _, u := range d.usage {
			fmt.Fprintf(&b, "  %-25s %s\n", u[0], u[1])
		}
	}
	b.WriteString("\nExample: kill-leader@10s,restart@15s,partition-leader@20s+5s,drop=2%@50s+10s")
	return b.String()
}
