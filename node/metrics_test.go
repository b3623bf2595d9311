package node

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// TestMetricsExposition: /metrics keeps the node's metric names, adds the
// stage histograms in seconds, the go_* and process_* collectors and
// mpaxos_build_info, in Prometheus's text format.
func TestMetricsExposition(t *testing.T) {
	n, h := faultNode(t)
	n.stages.init()
	n.stages.record(StageLeaderSync, 300*time.Microsecond)
	n.stages.record(StageLeaderSync, 5*time.Millisecond)
	n.stages.record(StageApply, 20*time.Microsecond)
	n.stats.syncs.Add(7)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	body := w.Body.String()
	for _, want := range []string{
		"mpaxos_is_leader 0", "mpaxos_groups_led 0", "mpaxos_commit_slot 0", "mpaxos_syncs_total 7", "mpaxos_dropped_messages_total 0",
		"# TYPE mpaxos_syncs_total counter", "# TYPE mpaxos_store_sync_seconds histogram",
		"mpaxos_store_sync_seconds_count 2", `mpaxos_store_sync_seconds_bucket{le="0.00064"} 1`,
		`mpaxos_store_sync_seconds_bucket{le="+Inf"} 2`, "mpaxos_apply_seconds_count 1",
		"mpaxos_quorum_wait_seconds_count 0", "go_goroutines ", "process_cpu_seconds_total ", "mpaxos_build_info{",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

func TestPromBuckets(t *testing.T) {
	h := hdrhistogram.New(1000, 60_000_000_000, 3)
	for _, v := range []int64{15_000, 15_000, 90_000, 2_000_000_000} {
		h.RecordValue(v)
	}
	bounds := []float64{10e-6, 20e-6, 100e-6, 1}
	count, sum, cum := promBuckets(h, bounds)
	if count != 4 {
		t.Fatalf("count %d", count)
	}
	want := map[float64]uint64{10e-6: 0, 20e-6: 2, 100e-6: 3, 1: 3} // 2 s only in +Inf
	for b, c := range want {
		if cum[b] != c {
			t.Errorf("bucket le=%g: %d, want %d", b, cum[b], c)
		}
	}
	if s := 2.00012; sum < s*0.999 || sum > s*1.001 {
		t.Errorf("sum %g, want about %g", sum, s)
	}
}

// TestRequestLatencyMetric: on a real leader, every applied batch records
// how long its oldest command spent in the node, and /metrics exports it
// as mpaxos_request_seconds, once for every batch whose quorum wait it
// recorded.
func TestRequestLatencyMetric(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	put(t, c.client().Session(), "m", 20)
	l := c.nodes[c.leader()]
	w := httptest.NewRecorder()
	l.metricsHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := w.Body.String()
	if !strings.Contains(body, "# TYPE mpaxos_request_seconds histogram") || strings.Contains(body, "mpaxos_request_seconds_count 0\n") {
		t.Fatalf("no request latency recorded on the leader:\n%s", grepLines(body, "mpaxos_request_seconds"))
	}
	req, quorum := stageCopy(l, StageRequest), stageCopy(l, StageQuorumWait)
	if req.TotalCount() == 0 || req.TotalCount() != quorum.TotalCount() {
		t.Fatalf("request: %d batches; quorum wait: %d batches", req.TotalCount(), quorum.TotalCount())
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// stageCopy copies one stage's histogram.
func stageCopy(n *Node, name string) *hdrhistogram.Histogram {
	return hdrhistogram.Import(n.stages.export([]string{name})[0])
}
