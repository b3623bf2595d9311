package node

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/net/transport"
)

// faultNode is node 3 of {1, 2, 3} with a peer transport (never started:
// the fault hook needs no connection) and the admin mux, served through
// its Handler without a client connection.
func faultNode(t *testing.T) (*Node, http.Handler) {
	t.Helper()
	return faultNodeWith(t, func(c *Config) { c.AdminToken, c.EnableFaultHook = testToken, true })
}

// testToken is the admin token of the test nodes that postFaults sends.
const testToken = "0123456789abcdef-test"

// faultNodeWith is faultNode with its config changed by edit.
func faultNodeWith(t *testing.T, edit func(*Config)) (*Node, http.Handler) {
	t.Helper()
	n := &Node{log: slog.New(slog.DiscardHandler)}
	n.cfg = DefaultConfig()
	n.cfg.ID = 3
	n.cfg.Peers = map[engine.NodeID]string{1: "127.0.0.1:1", 2: "127.0.0.1:2", 3: "127.0.0.1:3"}
	n.cfg.AdminAddr = "127.0.0.1:0"
	edit(&n.cfg)
	n.groups = []*group{{}} // one group, never driven: no loop runs
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pcfg := transport.DefaultPeersConfig()
	pcfg.ClusterID, pcfg.ID, pcfg.Listener = 1, 3, ln
	pcfg.Peers = map[uint64]string{1: "127.0.0.1:1", 2: "127.0.0.1:2"}
	if n.peers, err = transport.NewPeers(pcfg, func(uint64, byte, []byte) {}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.peers.Close() })
	if err := n.loadCerts(); err != nil {
		t.Fatal(err)
	}
	if err := n.startAdmin(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.admin.Close() })
	return n, n.admin.Handler
}

// postFaults POSTs body to /faults with the test token.
func postFaults(h http.Handler, body string) *httptest.ResponseRecorder {
	return postFaultsAuth(h, body, "Bearer "+testToken)
}

// postFaultsAuth POSTs body to /faults with the Authorization header auth
// ("" sends none).
func postFaultsAuth(h http.Handler, body, auth string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/faults", strings.NewReader(body))
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	h.ServeHTTP(w, r)
	return w
}

// TestPostFaultsRejects: POST /faults answers a spec naming a non-member
// (or this node), or a delay that is negative or beyond faults.MaxDelay,
// with 400 and a message saying what is wrong, and leaves the hook's
// previous setting in place.
func TestPostFaultsRejects(t *testing.T) {
	n, h := faultNode(t)
	const prev = `{"isolate":[1]}`
	tests := []struct {
		body string
		want []string // fragments of the 400 message
	}{
		{`{"isolate":[65535,0]}`, []string{"isolate: node 65535 is not a member (members: [1 2 3])", "isolate: node 0 is not a member"}},
		{`{"isolate":[3]}`, []string{"isolate: node 3 is this node"}},
		{`{"drop_to":[4]}`, []string{"drop_to: node 4 is not a member"}},
		{`{"drop_from":[9]}`, []string{"drop_from: node 9 is not a member"}},
		{`{"delay":"-5s"}`, []string{`delay "-5s": negative`}},
		{`{"delay":"1000h"}`, []string{`delay "1000h": above the maximum 1m0s`}},
		{`{"delay":"1m0s1ns"}`, []string{"above the maximum"}},
		{`{"jitter":"2m"}`, []string{`jitter "2m": above the maximum`}},
		{`{"jitter":"-1ms"}`, []string{`jitter "-1ms": negative`}},
		{`{"delay":"soon"}`, []string{`delay "soon": not a Go duration`}},
		{`{"drop_rate":1.5}`, []string{"drop rate 1.5 outside 0..1"}},
		// Every problem at once.
		{`{"isolate":[7],"delay":"-1s","drop_rate":-1}`, []string{"node 7 is not a member", `delay "-1s": negative`, "drop rate -1"}},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			if w := postFaults(h, prev); w.Code != http.StatusNoContent {
				t.Fatalf("setting %s: %d %s", prev, w.Code, w.Body)
			}
			before := n.peers.Faults().String()
			w := postFaults(h, tc.body)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("POST %s: status %d (%s), want 400", tc.body, w.Code, strings.TrimSpace(w.Body.String()))
			}
			msg := w.Body.String()
			if !strings.Contains(msg, "node: bad fault spec") {
				t.Errorf("message %q does not say it is a bad fault spec", msg)
			}
			for _, f := range tc.want {
				if !strings.Contains(msg, f) {
					t.Errorf("message %q lacks %q", msg, f)
				}
			}
			if after := n.peers.Faults().String(); after != before {
				t.Errorf("a refused spec changed the hook: %q -> %q", before, after)
			}
		})
	}
}

// TestPostFaultsAccepts: the limits are inclusive, and valid specs reach
// the hook.
func TestPostFaultsAccepts(t *testing.T) {
	n, h := faultNode(t)
	tests := []struct {
		body, hook string
	}{
		{`{}`, "none"},
		{`{"isolate":[1,2]}`, "blocked 1->3 2->3 3->1 3->2"},
		{`{"drop_to":[2],"drop_from":[1]}`, "blocked 1->3 3->2"},
		{`{"delay":"1m"}`, "delay 1m0s jitter 0s"},
		{`{"delay":"0s","jitter":"5ms"}`, "delay 0s jitter 5ms"},
		{`{"drop_rate":1}`, "drop 1"},
	}
	for _, tc := range tests {
		if w := postFaults(h, tc.body); w.Code != http.StatusNoContent {
			t.Fatalf("POST %s: %d %s", tc.body, w.Code, w.Body)
		}
		if got := n.peers.Faults().String(); got != tc.hook {
			t.Errorf("POST %s: hook %q, want %q", tc.body, got, tc.hook)
		}
	}
	postFaults(h, `{}`)
}
