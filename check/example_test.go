package check_test

import (
	"fmt"
	"time"

	"github.com/mpaxos/mpaxos/check"
)

func ExampleCheckLinearizable() {
	h, _ := check.NewHistory(check.DefaultHistoryConfig())
	a, b := h.NewRecorder(), h.NewRecorder()
	// Times are History.Now nanoseconds; fixed here for the example.
	a.Put("x", []byte("v1"), 0, 10, check.OK)
	b.Get("x", []byte("v1"), true, 20, 30, check.OK)
	a.Put("x", []byte("v2"), 40, 50, check.Unknown)  // timed out
	b.Get("x", []byte("v1"), true, 60, 70, check.OK) // it has not taken effect (yet)
	res, _ := check.CheckLinearizable(h.Ops(), check.LinConfig{Timeout: time.Minute})
	fmt.Println(res.Verdict)

	b.Get("x", []byte("v0"), true, 80, 90, check.OK) // nobody wrote v0
	res, _ = check.CheckLinearizable(h.Ops(), check.LinConfig{Timeout: time.Minute})
	fmt.Println(res.Verdict, res.BadKeys)
	// Output:
	// linearizable
	// NOT linearizable [x]
}

func ExampleLostLine() {
	fmt.Println(check.LostLine(0))
	// Output: acknowledged writes lost: 0
}
