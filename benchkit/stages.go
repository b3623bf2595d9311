package benchkit

import (
	"context"
	"fmt"
	"sort"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// StagesFunc fetches every node's cumulative per-stage histograms (GET
// /stages).
type StagesFunc func(ctx context.Context) ([]adminapi.StageReport, error)

// stageSnap is one fetch of every node's reports.
type stageSnap struct {
	reports []adminapi.StageReport
	err     error
}

// stageTimeout bounds one fetch of the nodes' histograms.
const stageTimeout = 5 * time.Second

func fetchStages(ctx context.Context, f StagesFunc) stageSnap {
	ctx, cancel := context.WithTimeout(ctx, stageTimeout)
	defer cancel()
	r, err := f(ctx)
	return stageSnap{r, err}
}

// StageDelta returns what each node's stages recorded between two fetches,
// and the batch sizes of all nodes merged (only a leader proposes), encoded.
func StageDelta(before, after []adminapi.StageReport) ([]results.Stage, string, error) {
	prev := map[uint16]adminapi.StageReport{}
	for _, r := range before {
		prev[r.Node] = r
	}
	var stages []results.Stage
	var batches *hdr.Histogram
	for _, a := range after {
		b := prev[a.Node]
		names := make([]string, 0, len(a.Stages))
		for n := range a.Stages {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool {
			return stageOrder(names[i]) < stageOrder(names[j]) || stageOrder(names[i]) == stageOrder(names[j]) && names[i] < names[j]
		})
		for _, name := range names {
			d, err := delta(a.Stages[name], b.Stages[name])
			if err != nil {
				return nil, "", fmt.Errorf("node %d stage %s: %w", a.Node, name, err)
			}
			enc, err := hist.Encode(d)
			if err != nil {
				return nil, "", err
			}
			stages = append(stages, results.Stage{Node: uint64(a.Node), Name: name, Histogram: enc, Latency: hist.Summarize(d)})
		}
		if a.BatchSizes != "" {
			d, err := delta(a.BatchSizes, b.BatchSizes)
			if err != nil {
				return nil, "", fmt.Errorf("node %d batch sizes: %w", a.Node, err)
			}
			if batches == nil {
				batches = d
			} else {
				batches.Merge(d)
			}
		}
	}
	enc := ""
	if batches != nil && batches.TotalCount() > 0 {
		var err error
		if enc, err = hist.Encode(batches); err != nil {
			return nil, "", err
		}
	}
	return stages, enc, nil
}

// delta decodes two encoded cumulative histograms and subtracts them; an
// empty before means "nothing yet". A count that fell means the node
// restarted in between (a fault killed it): its histogram then covers the
// time since the restart, and is taken as it is.
func delta(after, before string) (*hdr.Histogram, error) {
	a, err := hist.Decode(after)
	if err != nil {
		return nil, err
	}
	if before == "" {
		return a, nil
	}
	b, err := hist.Decode(before)
	if err != nil {
		return nil, err
	}
	d, err := hist.Subtract(a, b)
	if err != nil {
		return a, nil
	}
	return d, nil
}

// stageOrder ranks the known stages in the order a command meets them;
// unknown names follow.
func stageOrder(name string) int {
	for i, n := range []string{results.StageQueue, results.StageBatchWait, results.StageLeaderSync,
		results.StageQuorumWait, results.StageApply, results.StageReply} {
		if n == name {
			return i
		}
	}
	return 100
}
