// Command bench is mpaxos's benchmark harness: it starts a local cluster of
// real node processes (or targets a running one), drives clients against
// it, and reports throughput and HdrHistogram latency percentiles.
//
//	bench [flags]                         run one benchmark (bench -h)
//	bench -faults kill-leader@5s+3s ...   ... with faults injected and the run checked
//	bench compare [-force] A.json B.json  compare runs side by side
//	bench sweep -batch-size 1,8,64 ...    run a grid of configurations
//	bench floor                           a 1-client p50 against this machine's floor
//
// The work is in package benchkit; this command maps flags to its Config,
// and wires the fault schedule (package faults, over the launcher's
// controls) and the correctness checks (package check, through the client
// library and the nodes' admin endpoints): see package benchkit/runner. Exit status: 0
// success, 1 failure (a correctness check FAILED among them), 2 bad usage,
// 130 interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/runner"
	"github.com/mpaxos/mpaxos/internal/config"
	"github.com/mpaxos/mpaxos/internal/timerslack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// reexec is false in tests, which call realMain in their own process:
// setting the timer slack re-executes the binary.
var reexec = true

// closedLoopSlack is the timer slack bench gives all its threads in a
// closed-loop run (package timerslack): the Go runtime's monitor thread
// then polls about once a millisecond instead of every 20 µs after each
// idle moment, which cost the load generator a seventh of its CPU at one
// client. Closed-loop timers (the per-second series, the run's end,
// attempt timeouts) are seconds long. An open-loop run (-rate) paces its
// sends with timers that the slack would make late, so it keeps the OS
// default; nodes are started with the slack bench had (see
// cluster.StartProc) and set their own.
const closedLoopSlack = time.Millisecond

// setSlack gives bench closedLoopSlack for a closed-loop run. It returns
// only when the slack is in place, when it is not wanted, or when it could
// not be set (said on stderr; the run goes on).
func setSlack(cfg benchkit.Config, stderr io.Writer) {
	if !reexec || cfg.Rate > 0 {
		return
	}
	if err := timerslack.Set(closedLoopSlack); err != nil {
		fmt.Fprintf(stderr, "bench: timer slack not set, the OS default applies: %v\n", err)
	}
}

// errInterrupted: the run was cut short by a signal; partial results were
// written.
var errInterrupted = runner.ErrInterrupted

// realMain runs the command line argv and returns the exit status:
// 0 success, 1 failure, 2 bad usage, 130 interrupted.
// A cancelled ctx (Ctrl-C) stops the run; partial results are still written.
func realMain(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	args := argv[1:]
	var err error
	switch {
	case len(args) > 0 && args[0] == "compare":
		err = cmdCompare(args[1:], argv, stdout)
	case len(args) > 0 && args[0] == "sweep":
		err = cmdSweep(ctx, args[1:], argv, stdout, stderr)
	case len(args) > 0 && args[0] == "why-paxos":
		err = cmdWhyPaxos(ctx, args[1:], argv, stdout, stderr)
	case len(args) > 0 && args[0] == "floor":
		err = cmdFloor(ctx, args[1:], argv, stdout, stderr)
	default:
		err = cmdRun(ctx, args, argv, stdout, stderr)
	}
	var usage usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "bench: %s (bench -h for help)\n", usage.msg)
		return 2
	case errors.Is(err, errInterrupted) || ctx.Err() != nil:
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 130
	}
	fmt.Fprintf(stderr, "bench: %v\n", err)
	return 1
}

// usageError is a bad command line: printed as one line, exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// badUsage turns a validation error into one line that names, for each
// problem, the flag that sets the field (fieldFlags).
func badUsage(err error) error {
	fes := config.Fields(err)
	if len(fes) == 0 {
		return usageError{strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	parts := make([]string, 0, len(fes))
	for _, fe := range fes {
		name, ok := fieldFlags[fe.Field]
		if !ok {
			name = fe.Field
		}
		parts = append(parts, fe.Short(name))
	}
	return usageError{strings.Join(parts, "; ")}
}

// newFlagSet returns a flag set that prints nothing on errors (the caller
// prints one line; parse prints the usage on -h).
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args; on -h it prints the usage to stdout and returns
// flag.ErrHelp; other errors become a usageError.
func parse(fs *flag.FlagSet, args []string, synopsis string, stdout io.Writer, interleaved bool) ([]string, error) {
	var pos []string
	var err error
	if interleaved {
		pos, err = parseInterleaved(fs, args)
	} else {
		err = fs.Parse(args)
		pos = fs.Args()
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, synopsis)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil, flag.ErrHelp
	}
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return pos, nil
}
