package faults_test

import (
	"fmt"

	"github.com/mpaxos/mpaxos/faults"
)

func ExampleParse() {
	s, err := faults.Parse("kill-leader@10s,restart@15s,partition-leader@20s+5s,drop=2%@50s+10s")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range s {
		fmt.Printf("%-22s kind=%v target=%q at=%v for=%v\n", e, e.Kind, e.Target, e.At, e.For)
	}
	_, err = faults.Parse("kill=x@1s,drop=200%@2s,restart=3@3s")
	fmt.Println(err)
	// Output:
	// kill-leader@10s        kind=kill target="leader" at=10s for=0s
	// restart@15s            kind=restart target="" at=15s for=0s
	// isolate-leader@20s+5s  kind=isolate target="leader" at=20s for=5s
	// drop=2%@50s+10s        kind=drop target="" at=50s for=10s
	// faults: bad schedule: event 1 "kill=x@1s": bad node id "x" (want 1..65535)
	// faults: bad schedule: event 2 "drop=200%@2s": drop=200%: percentage outside 0..100
}
