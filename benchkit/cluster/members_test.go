package cluster

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mpaxos/mpaxos/node/adminapi"
)

// fakeAdmin serves a node's /status and /members from the values it
// holds now.
type fakeAdmin struct {
	status  atomic.Pointer[adminapi.Status]
	members atomic.Pointer[adminapi.Members]
}

func (f *fakeAdmin) start(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/status":
			if st := f.status.Load(); st != nil {
				json.NewEncoder(w).Encode(st)
				return
			}
		case "/members":
			if m := f.members.Load(); m != nil {
				json.NewEncoder(w).Encode(m)
				return
			}
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestCaughtUp: a learner is caught up once both the leader's Match for
// it and what it applied itself are within PromoteLag of the commit
// index. The leader's Match alone is not enough: a fresh peer's is taken
// to be the leader's compaction point until it answers, so a learner that
// has applied nothing may look caught up right after a snapshot.
func TestCaughtUp(t *testing.T) {
	var leader, learner fakeAdmin
	c := &Cluster{cfg: withDefaults(Config{Nodes: 1})}
	c.setNodesLocked([]*Node{{ID: 1, AdminAddr: leader.start(t)}, {ID: 2, AdminAddr: learner.start(t)}})
	c.Monitor = NewMonitor(c.AdminAddrs())
	const commit = 10_000
	leader.status.Store(&adminapi.Status{ID: 1, Role: "leader", Leader: 1, Commit: commit,
		GroupStatus: []adminapi.GroupStatus{{Group: 0, Role: "leader", Leader: 1, Commit: commit}}})
	members := func(match uint64) *adminapi.Members {
		return &adminapi.Members{Node: 1, Groups: []adminapi.GroupMembers{{Group: 0, Leader: 1, Members: []adminapi.Member{
			{ID: 1, Role: adminapi.RoleVoter, Match: commit}, {ID: 2, Role: adminapi.RoleLearner, Match: match}}}}}
	}
	learnerAt := func(applied uint64) *adminapi.Status {
		return &adminapi.Status{ID: 2, Role: "follower", Leader: 1, Applied: applied,
			GroupStatus: []adminapi.GroupStatus{{Group: 0, Role: "follower", Leader: 1, Applied: applied}}}
	}
	near := commit - PromoteLag
	for _, tc := range []struct {
		name    string
		match   uint64
		learner *adminapi.Status // nil: does not answer
		want    bool
	}{
		{"learner not started", near, nil, false},
		{"the leader's assumed match, nothing applied", near, learnerAt(0), false},
		{"applied, not yet acknowledged", 0, learnerAt(near), false},
		{"caught up", near, learnerAt(near), true},
		{"too far behind", near - 1, learnerAt(near - 1), false},
	} {
		leader.members.Store(members(tc.match))
		learner.status.Store(tc.learner)
		got, err := c.CaughtUp(context.Background(), 2)
		if err != nil || got != tc.want {
			t.Errorf("%s: CaughtUp %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}
