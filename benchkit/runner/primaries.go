package runner

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/cluster"
)

// primaryPoll is how often the split-brain watch asks every node how many
// commands it answered. Two primaries answering within one interval are
// a split brain; a hand-over takes longer than this (an election timeout),
// so a correct protocol never shows one.
const primaryPoll = 50 * time.Millisecond

// primaryWatch polls the nodes' /status during the measured run and keeps
// their answered-command counts (benchkit.PrimarySample).
type primaryWatch struct {
	admins []string
	client *http.Client
	start  time.Time
	stop   context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	samples []benchkit.PrimarySample
}

// watchPrimaries starts polling admins until Stop.
func watchPrimaries(ctx context.Context, admins []string) *primaryWatch {
	w := &primaryWatch{admins: admins, client: &http.Client{Timeout: primaryPoll}, start: time.Now(), done: make(chan struct{})}
	ctx, w.stop = context.WithCancel(ctx)
	go w.run(ctx)
	return w
}

func (w *primaryWatch) run(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(primaryPoll)
	defer t.Stop()
	for {
		w.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *primaryWatch) poll(ctx context.Context) {
	at := time.Since(w.start)
	s := benchkit.PrimarySample{At: at, Acked: make(map[uint16]uint64, len(w.admins))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range w.admins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := cluster.FetchStatus(ctx, w.client, a); err == nil && st.ID != 0 {
				mu.Lock()
				s.Acked[st.ID] = st.Acked
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	w.mu.Lock()
	w.samples = append(w.samples, s)
	w.mu.Unlock()
}

// Stop ends the polling and returns what it found.
func (w *primaryWatch) Stop() benchkit.SplitBrain {
	w.stop()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return benchkit.FindSplitBrain(w.samples)
}
