package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/examples/ledger/api"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
)

// fakeReplica answers with a scripted status and records what it got.
type fakeReplica struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []api.Request
	answer func(w http.ResponseWriter, r *http.Request)
}

func newFake(t *testing.T) *fakeReplica {
	f := &fakeReplica{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q api.Request
		json.NewDecoder(r.Body).Decode(&q)
		f.mu.Lock()
		f.got = append(f.got, q)
		f.mu.Unlock()
		f.answer(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeReplica) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func answer(code int, resp api.Response) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(resp)
	}
}

// TestRedirectAndRetryKeepSeq: a 503 sends the client to the next replica,
// a 307 to the leader named, and every attempt carries the same client and
// seq; the next call uses the leader it learnt, with the next seq.
func TestRedirectAndRetryKeepSeq(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	down, follower, leader := newFake(t), newFake(t), newFake(t)
	down.answer = answer(http.StatusServiceUnavailable, api.Response{Error: "no leader"})
	follower.answer = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://"+leader.addr()+r.URL.RequestURI())
		answer(http.StatusTemporaryRedirect, api.Response{Leader: 3})(w, r)
	}
	leader.answer = answer(http.StatusOK, api.FromResult(ledger.Result{Code: ledger.CodeOK, Balance: 5}))

	c := New([]string{down.addr(), follower.addr(), leader.addr()})
	c.next = 0
	r, err := c.Deposit(ctx, "a", 5)
	if err != nil || r != (ledger.Result{Code: ledger.CodeOK, Balance: 5}) {
		t.Fatalf("deposit: %+v, %v", r, err)
	}
	all := append(append(append([]api.Request{}, down.got...), follower.got...), leader.got...)
	if len(all) != 3 {
		t.Fatalf("%d attempts, want 3 (down, follower, leader)", len(all))
	}
	for _, q := range all {
		if q.Client != c.ID() || q.Seq != 1 || q.Account != "a" || q.Amount != 5 {
			t.Fatalf("attempt %+v: want client %d seq 1", q, c.ID())
		}
	}
	if _, err := c.Deposit(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	if len(leader.got) != 2 || leader.got[1].Seq != 2 || len(down.got)+len(follower.got) != 2 {
		t.Fatalf("second call did not go straight to the leader with seq 2: leader got %+v", leader.got)
	}
}

func TestRejectedIsFinal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f := newFake(t)
	f.answer = answer(http.StatusBadRequest, api.Response{Error: "bad"})
	c := New([]string{f.addr()})
	if _, err := c.Open(ctx, "a"); !errors.Is(err, ErrRejected) || len(f.got) != 1 {
		t.Fatalf("err %v after %d attempts, want ErrRejected after 1", err, len(f.got))
	}
}

func TestGivesUpWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	f := newFake(t)
	f.answer = answer(http.StatusServiceUnavailable, api.Response{Error: "no leader"})
	c := New([]string{f.addr()})
	if _, err := c.Open(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
}
