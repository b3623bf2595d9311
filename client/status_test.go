package client

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/kv"
)

// TestAnswersThatDidNotExecuteAreErrors: an answer saying the command was
// not executed (stale seq, a session held by another token) must reach the
// caller as an error from every method, and no method may take a status it
// does not expect for success: if Do returned StatusStale as a result and
// Put ignored it, puts that never ran would report nil.
func TestAnswersThatDidNotExecuteAreErrors(t *testing.T) {
	var status atomic.Uint32
	srv := newFake(t, 1, func(kv.Request) (kv.Status, uint16, bool) {
		return kv.Status(status.Load()), 1, true
	})
	c, err := Dial([]string{srv.srv.Addr().String()}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Session()
	k, v := []byte("k"), []byte("v")
	ops := map[string]func(context.Context) error{
		"put":    func(ctx context.Context) error { return s.Put(ctx, k, v) },
		"delete": func(ctx context.Context) error { return s.Delete(ctx, k) },
		"cas":    func(ctx context.Context) error { return s.CAS(ctx, k, v, v) },
		"get": func(ctx context.Context) error {
			_, _, err := s.Get(ctx, k)
			return err
		},
		"do": func(ctx context.Context) error {
			_, err := s.Do(ctx, kv.Command{Op: kv.OpPut, Key: k, Value: v})
			return err
		},
	}
	tests := []struct {
		op     string
		status kv.Status
		want   error // nil: success
	}{
		{"put", kv.StatusStale, ErrStale},
		{"delete", kv.StatusStale, ErrStale},
		{"cas", kv.StatusStale, ErrStale},
		{"get", kv.StatusStale, ErrStale},
		{"do", kv.StatusStale, ErrStale},
		{"put", kv.StatusNotOwner, ErrNotOwner},
		{"get", kv.StatusNotOwner, ErrNotOwner},
		{"do", kv.StatusNotOwner, ErrNotOwner},
		{"put", kv.StatusOK, nil},
		{"put", kv.StatusNotFound, ErrUnexpected},
		{"put", kv.StatusCASFailed, ErrUnexpected},
		{"delete", kv.StatusOK, nil},
		{"delete", kv.StatusNotFound, nil},
		{"delete", kv.StatusCASFailed, ErrUnexpected},
		{"get", kv.StatusOK, nil},
		{"get", kv.StatusNotFound, nil},
		{"get", kv.StatusCASFailed, ErrUnexpected},
		{"cas", kv.StatusOK, nil},
		{"cas", kv.StatusCASFailed, ErrCASFailed},
		{"cas", kv.StatusNotFound, ErrCASFailed}, // a missing key fails the CAS
	}
	for _, tt := range tests {
		status.Store(uint32(tt.status))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := ops[tt.op](ctx)
		cancel()
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s answered %v: err = %v, want %v", tt.op, tt.status, err, tt.want)
		}
	}
	// Every command of the session carried its id and one token, which
	// another session does not share.
	s2 := c.Session()
	status.Store(uint32(kv.StatusOK))
	if err := s2.Put(context.Background(), k, v); err != nil {
		t.Fatal(err)
	}
	seen := srv.commands()
	last := seen[len(seen)-1]
	for _, cmd := range seen[:len(seen)-1] {
		if cmd.ClientID != s.ID() || cmd.Token == 0 || cmd.Token != seen[0].Token {
			t.Fatalf("session %#x sent id %#x token %#x, first token %#x", s.ID(), cmd.ClientID, cmd.Token, seen[0].Token)
		}
	}
	if last.ClientID != s2.ID() || last.Token == seen[0].Token || last.Token == 0 {
		t.Fatalf("second session sent id %#x token %#x (first's token %#x)", last.ClientID, last.Token, seen[0].Token)
	}
}
