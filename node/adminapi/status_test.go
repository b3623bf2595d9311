package adminapi

import (
	"encoding/json"
	"testing"
)

// The JSON names are the contract with tools that do not import this
// package (scripts, dashboards): they must not change unnoticed.
func TestStatusJSONNames(t *testing.T) {
	st := Status{ID: 2, Role: "leader", Leader: 2, Acked: 5, Settings: Settings{Sync: true, BatchSize: 1024, BatchBytes: 1 << 20,
		BatchDelayNs: 1e6, Batching: "adaptive", Pipeline: 64, Groups: 1, ReadMode: "log"}}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": 2.0, "role": "leader", "leader": 2.0, "sync": true, "batch_size": 1024.0,
		"batch_bytes": float64(1 << 20), "batch_delay_ns": 1e6, "batching": "adaptive", "pipeline": 64.0,
		"groups": 1.0, "read_mode": "log", "null": false, "acked": 5.0}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s: %v, want %v (in %s)", k, m[k], v, b)
		}
	}
	var back Status
	if err := json.Unmarshal(b, &back); err != nil || back.Settings != st.Settings || back.ID != 2 {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestDurabilityAndReported(t *testing.T) {
	for _, tc := range []struct {
		st   Status
		want string
	}{
		{Status{Settings: Settings{Sync: true}}, "sync"},
		{Status{}, "nosync"},
		{Status{Null: true}, "null"},
	} {
		if got := tc.st.Durability(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.st, got, tc.want)
		}
	}
	var old Status
	if err := json.Unmarshal([]byte(`{"id":1,"role":"leader","leader":1}`), &old); err != nil || old.Reported() {
		t.Fatalf("a node without settings reads as reporting them: %v %+v", err, old)
	}
}
