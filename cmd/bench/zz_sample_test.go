package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
)

type jitterTarget struct{ fakeTarget }

func (j *jitterTarget) Session() benchkit.Session { return jitterSession{j} }

type jitterSession struct{ j *jitterTarget }

func (s jitterSession) Do(ctx context.Context, op benchkit.Op) (benchkit.Result, error) {
	n := s.j.n.Add(1)
	d := 200 * time.Microsecond
	if n%100 == 0 {
		d = 3 * time.Millisecond
	}
	if n%5000 == 0 {
		d = 30 * time.Millisecond
	}
	time.Sleep(d)
	return benchkit.Result{}, nil
}

func TestZZSample(t *testing.T) {
	if os.Getenv("SAMPLE") == "" {
		t.Skip()
	}
	old := dialTarget
	dialTarget = func(context.Context, []string, int) (benchkit.Target, error) { return &jitterTarget{}, nil }
	defer func() { dialTarget = old }()
	code := realMain(context.Background(), []string{"bench", "-cluster", "127.0.0.1:8001", "-clients", "50", "-duration", "5s", "-warmup", "1s", "-out", "/tmp/bsample/fake"}, os.Stdout, os.Stderr)
	if code != 0 {
		t.Fatal(code)
	}
}
