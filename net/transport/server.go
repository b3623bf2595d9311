package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/mpaxos/mpaxos/net/frame"
)

// ServerConfig holds the settings of a client-facing listener.
type ServerConfig struct {
	// Addr is the TCP address to listen on, such as "127.0.0.1:8001".
	// Ignored when Listener is set; otherwise required.
	Addr string
	// Listener, if set, is used instead of listening on Addr (tests pass a
	// listener on port 0). The Server closes it on Close.
	Listener net.Listener
	// Conn holds the settings of every accepted connection.
	Conn ConnConfig
	// MaxConns bounds the number of open client connections; one more is
	// closed as soon as it is accepted. The default is 4096; it must be at
	// least 1.
	MaxConns int
}

// DefaultServerConfig returns the default server settings (Addr still to set).
func DefaultServerConfig() ServerConfig {
	return ServerConfig{Conn: DefaultConnConfig(), MaxConns: 4096}
}

// Validate reports every problem with c at once.
func (c ServerConfig) Validate() error {
	var errs []error
	if c.Addr == "" && c.Listener == nil {
		errs = append(errs, fmt.Errorf("%w: neither Addr nor Listener set", ErrConfig))
	}
	if c.MaxConns < 1 {
		errs = append(errs, fmt.Errorf("%w: MaxConns %d below 1", ErrConfig, c.MaxConns))
	}
	errs = append(errs, c.Conn.Validate())
	return errors.Join(errs...)
}

// Server accepts client connections and runs each as a *Conn with the same
// handler. Its accept goroutine and every connection are stopped by Close.
type Server struct {
	cfg ServerConfig
	ln  net.Listener
	h   Handler
	log *slog.Logger

	mu struct {
		sync.Mutex
		conns  map[*Conn]struct{}
		closed bool
	}
	wg sync.WaitGroup // the accept goroutine and every connection's goroutines
}

// Listen starts a Server on cfg.Addr (or cfg.Listener) that calls h for every
// frame of every connection, on that connection's reader goroutine (so h is
// called concurrently for different connections). h's body is valid only
// during the call.
func Listen(cfg ServerConfig, h Handler) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("transport: listen: %w", err)
		}
	}
	s := &Server{cfg: cfg, ln: ln, h: h, log: cfg.Conn.logger()}
	s.mu.conns = make(map[*Conn]struct{})
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Len returns the number of open connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.conns)
}

// Close stops accepting, closes every connection and waits until all their
// goroutines have exited, which includes any handler call in progress
// returning. It must not be called from a handler.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	conns := make([]*Conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	err := s.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("transport: accept failed; server stops accepting", "addr", s.ln.Addr(), "err", err)
			}
			return
		}
		setSockOpts(nc, s.cfg.Conn)
		c := newConn(nc, frame.NewReader(nc, s.cfg.Conn.ReadBufferSize, s.cfg.Conn.MaxFrameSize), s.cfg.Conn, s.h)
		c.onExit = s.forget
		s.mu.Lock()
		if s.mu.closed || len(s.mu.conns) >= s.cfg.MaxConns {
			full := !s.mu.closed
			s.mu.Unlock()
			_ = nc.Close()
			if full {
				s.log.Warn("transport: refusing client connection: too many connections", "remote", nc.RemoteAddr(), "max", s.cfg.MaxConns)
			}
			continue
		}
		s.mu.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		c.start()
	}
}

// forget runs when a connection's goroutines have exited.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.mu.conns, c)
	s.mu.Unlock()
	if err := c.Err(); !isClosedErr(err) {
		s.log.Info("transport: client connection closed", "remote", c.RemoteAddr(), "err", err)
	}
	s.wg.Done()
}

// Dial connects to a Server at addr (client side) and calls h for every frame
// received, on the connection's reader goroutine; h's body is valid only
// during the call. The caller owns the returned Conn and must Close it.
func Dial(addr string, cfg ConnConfig, h Handler) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	nc, err := net.DialTimeout("tcp", addr, cfg.DialTimeout)
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	setSockOpts(nc, cfg)
	c := newConn(nc, frame.NewReader(nc, cfg.ReadBufferSize, cfg.MaxFrameSize), cfg, h)
	c.start()
	return c, nil
}
