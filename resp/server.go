package resp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves the Redis protocol on one address.
type Server struct {
	cfg    Config
	ln     net.Listener
	log    *slog.Logger
	list   []*command          // the command table (a field: COMMAND lists it, and is in it)
	cmds   map[string]*command // lower-case name -> descriptor
	ctx    context.Context     // ends at Close: ends every waiting command
	cancel context.CancelFunc

	mu struct {
		sync.Mutex
		conns  map[*conn]struct{}
		closed bool
	}
	nextID atomic.Int64 // CLIENT ID
	// readBuffers is the bytes the connections' read buffers hold: what
	// clients can make the server keep (see Config.MaxRequest).
	readBuffers atomic.Int64
	wg          sync.WaitGroup
}

// Listen validates cfg, binds cfg.Addr and starts serving.
func Listen(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("resp: %w", err)
	}
	addrs := make(map[uint16]string, len(cfg.Addrs)+1)
	for id, a := range cfg.Addrs {
		addrs[id] = a
	}
	if addrs[cfg.ID] == "" {
		addrs[cfg.ID] = ln.Addr().String()
	}
	cfg.Addrs = addrs
	s := &Server{cfg: cfg, ln: ln, log: cfg.Logger.With("resp", ln.Addr().String()), list: commands, cmds: commandIndex()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.conns = make(map[*conn]struct{})
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Conns returns the number of open connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.conns)
}

// ReadBufferBytes returns the bytes held in the connections' read
// buffers, at most MaxConns x (MaxRequest + 4 KiB) whatever clients send.
func (s *Server) ReadBufferBytes() int64 { return s.readBuffers.Load() }

// Close stops accepting, closes every connection (commands waiting for
// the cluster end with an error) and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	for c := range s.mu.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		c := s.newConn(nc)
		s.mu.Lock()
		switch {
		case s.mu.closed:
			s.mu.Unlock()
			nc.Close()
			return
		case len(s.mu.conns) >= s.cfg.MaxConns:
			s.mu.Unlock()
			s.refuse(nc)
			continue
		}
		s.mu.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.mu.conns, c)
			s.mu.Unlock()
		}()
	}
}

// refuse answers a connection over MaxConns as Redis does and closes it;
// the write cannot block the accept loop for long.
func (s *Server) refuse(nc net.Conn) {
	nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	nc.Write(appendError(nil, "ERR max number of clients reached"))
	nc.Close()
}
