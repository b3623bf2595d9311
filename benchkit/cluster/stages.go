package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// ErrNoStages is returned when the nodes do not serve GET /stages.
var ErrNoStages = errors.New("the nodes do not serve GET /stages")

// FetchStages GETs http://admin/stages (adminapi.StageReport).
func FetchStages(ctx context.Context, c *http.Client, admin string) (adminapi.StageReport, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/stages", nil)
	if err != nil {
		return adminapi.StageReport{}, fmt.Errorf("cluster: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return adminapi.StageReport{}, fmt.Errorf("cluster: stages of %s: %w", admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return adminapi.StageReport{}, ErrNoStages
	}
	if resp.StatusCode != http.StatusOK {
		return adminapi.StageReport{}, fmt.Errorf("cluster: stages of %s: %s", admin, resp.Status)
	}
	var r adminapi.StageReport
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&r); err != nil {
		return adminapi.StageReport{}, fmt.Errorf("cluster: stages of %s: %w", admin, err)
	}
	return r, nil
}

// Stages returns a benchkit.StagesFunc reading the cluster's nodes of the
// moment (Nodes) in parallel, as Stages does.
func (c *Cluster) Stages() benchkit.StagesFunc {
	return func(ctx context.Context) ([]adminapi.StageReport, error) {
		return Stages(c.AdminAddrs())(ctx)
	}
}

// Stages returns a benchkit.StagesFunc reading every node at admins in
// parallel. A node that is down is left out (it has no stages to report);
// if no node serves /stages the error is ErrNoStages.
func Stages(admins []string) benchkit.StagesFunc {
	c := &http.Client{}
	return func(ctx context.Context) ([]adminapi.StageReport, error) {
		reps := make([]adminapi.StageReport, len(admins))
		errs := make([]error, len(admins))
		var wg sync.WaitGroup
		for i, a := range admins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				reps[i], errs[i] = FetchStages(ctx, c, a)
			}()
		}
		wg.Wait()
		var out []adminapi.StageReport
		var first error
		for i, err := range errs {
			if err == nil {
				out = append(out, reps[i])
			} else if first == nil || errors.Is(first, ErrNoStages) {
				first = err
			}
		}
		if len(out) == 0 {
			return nil, first
		}
		return out, nil
	}
}
