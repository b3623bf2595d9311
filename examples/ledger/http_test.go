package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/examples/ledger/client"
)

// TestBadRequests: malformed calls get 400 and a reason, bounded in what
// the replica reads, and the replica keeps serving.
func TestBadRequests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := newCluster(t, 1, 10000)
	leader := c.waitLeader(ctx)
	base := "http://" + c.httpAddr[leader]
	huge := `{"client":1,"seq":1,"account":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name, method, path, body string
	}{
		{"not json", "POST", "/open", "{"},
		{"huge body", "POST", "/open", huge},
		{"client 0", "POST", "/open", `{"client":0,"seq":1,"account":"a"}`},
		{"long account", "POST", "/open", `{"client":1,"seq":1,"account":"` + strings.Repeat("y", 65) + `"}`},
		{"negative amount", "POST", "/deposit", `{"client":1,"seq":1,"account":"a","amount":-5}`},
		{"payee on open", "POST", "/open", `{"client":1,"seq":1,"account":"a","to":"b"}`},
		{"transfer without payee", "POST", "/transfer", `{"client":1,"seq":1,"account":"a","amount":5}`},
		{"bad query", "GET", "/balance?client=x&seq=1&account=a", ""},
	}
	for _, tt := range tests {
		req, err := http.NewRequestWithContext(ctx, tt.method, base+tt.path, bytes.NewBufferString(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", tt.name, resp.StatusCode)
		}
	}
	cl := client.New(c.addrs())
	mustOK(t, "open after bad requests")(cl.Open(ctx, "a"))
	if r, err := cl.Open(ctx, "a"); err != nil || r.Code.String() != "exists" {
		t.Fatalf("second open: %+v, %v", r, err)
	}
}
