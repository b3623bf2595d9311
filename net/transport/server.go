package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

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
	// Conn holds the settings of every accepted connection. Its IdleTimeout
	// defaults to DefaultClientIdleTimeout here: a client connection on
	// which no frame arrives for that long is closed (clients redial when
	// they next have a request), so idle sockets cannot hold the
	// connection slots for good.
	Conn ConnConfig
	// MaxConns bounds the number of open client connections. When it is
	// reached, a new connection closes the longest-idle one (the one whose
	// last bytes arrived longest ago) instead of being refused: a flood of
	// idle sockets then cannot lock out a client that is about to send a
	// request. The default is 4096; it must be at least 1.
	MaxConns int
	// MaxConnsPerIP bounds the open connections from one remote IP
	// address; one more is closed as soon as it is accepted. It keeps one
	// host from taking every slot (and, through eviction, every other
	// host's idle connection). The default is 256; it must be at least 1.
	MaxConnsPerIP int
	// HandshakeTimeout bounds a new connection's TLS handshake (with
	// Conn.TLS set): a connection that has not completed it by then is
	// closed. Until then it holds a connection slot like an idle one, and
	// is as liable to eviction. The default is 5 s; it must be positive.
	HandshakeTimeout time.Duration
}

// DefaultClientIdleTimeout is the default IdleTimeout of client connections:
// long enough that a client pausing between bursts keeps its connection,
// short enough that abandoned sockets free their slots.
const DefaultClientIdleTimeout = 5 * time.Minute

// ErrEvicted is the error of a client connection the Server closed to make
// room for a new one (see ServerConfig.MaxConns).
var ErrEvicted = errors.New("transport: connection evicted for a new one (server full)")

// DefaultServerConfig returns the default server settings (Addr still to set).
func DefaultServerConfig() ServerConfig {
	cc := DefaultConnConfig()
	cc.IdleTimeout = DefaultClientIdleTimeout
	return ServerConfig{Conn: cc, MaxConns: 4096, MaxConnsPerIP: 256, HandshakeTimeout: 5 * time.Second}
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
	if c.MaxConnsPerIP < 1 {
		errs = append(errs, fmt.Errorf("%w: MaxConnsPerIP %d below 1", ErrConfig, c.MaxConnsPerIP))
	}
	if c.HandshakeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%w: HandshakeTimeout %v not positive", ErrConfig, c.HandshakeTimeout))
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
		conns  map[*Conn]netip.Addr // every open connection and its remote IP
		perIP  map[netip.Addr]int   // open connections per remote IP
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
	s.mu.conns = make(map[*Conn]netip.Addr)
	s.mu.perIP = make(map[netip.Addr]int)
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
		c, victim := s.admit(nc)
		if victim != nil {
			victim.closeWith(ErrEvicted)
		}
		if c != nil {
			c.start()
		}
	}
}

// admit registers a new connection, or closes nc if its IP is at its limit
// or the server is closing. A full server makes room by taking out the
// longest-idle connection, which the caller closes (victim). The Conn is
// built only once admitted: a refused socket costs no buffers.
func (s *Server) admit(nc net.Conn) (c, victim *Conn) {
	ip := remoteIP(nc)
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		_ = nc.Close()
		return nil, nil
	}
	if n := s.mu.perIP[ip]; n >= s.cfg.MaxConnsPerIP {
		s.mu.Unlock()
		_ = nc.Close()
		s.log.Warn("transport: refusing client connection: too many from its address", "remote", nc.RemoteAddr(), "max_per_ip", s.cfg.MaxConnsPerIP)
		return nil, nil
	}
	if len(s.mu.conns) >= s.cfg.MaxConns {
		victim = s.longestIdleLocked()
		s.dropLocked(victim)
	}
	setSockOpts(nc, s.cfg.Conn)
	var rw net.Conn = nc
	var tc *tls.Conn
	if s.cfg.Conn.TLS != nil {
		tc = tls.Server(nc, s.cfg.Conn.TLS)
		rw = tc
	}
	c = newConn(rw, frame.NewReader(rw, s.cfg.Conn.ReadBufferSize, s.cfg.Conn.MaxFrameSize), s.cfg.Conn, s.h)
	if tc != nil {
		// On the reader goroutine, not here: a stranger's slow
		// handshake must not hold up the accept loop.
		c.handshake, c.handshakeTO = tc.Handshake, s.cfg.HandshakeTimeout
	}
	c.onExit = s.forget
	s.mu.conns[c] = ip
	s.mu.perIP[ip]++
	s.wg.Add(1)
	s.mu.Unlock()
	if victim != nil {
		s.log.Info("transport: server full; closing the longest-idle client connection", "remote", victim.RemoteAddr(), "idle", victim.rd.IdleFor(), "max", s.cfg.MaxConns)
	}
	return c, victim
}

// longestIdleLocked returns the open connection whose last bytes arrived
// longest ago. O(connections), paid only when the server is full.
func (s *Server) longestIdleLocked() *Conn {
	var victim *Conn
	var most time.Duration
	for c := range s.mu.conns {
		if idle := c.rd.IdleFor(); victim == nil || idle > most {
			victim, most = c, idle
		}
	}
	return victim
}

// dropLocked removes c from the counts; a second call for c does nothing.
func (s *Server) dropLocked(c *Conn) {
	ip, ok := s.mu.conns[c]
	if !ok {
		return
	}
	delete(s.mu.conns, c)
	if s.mu.perIP[ip]--; s.mu.perIP[ip] <= 0 {
		delete(s.mu.perIP, ip)
	}
}

// remoteIP is nc's remote IP address, IPv4 in its 4-byte form; the zero
// Addr (one bucket for all) when nc's address is not an IP address.
func remoteIP(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// forget runs when a connection's goroutines have exited.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	s.dropLocked(c)
	s.mu.Unlock()
	if err := c.Err(); !isClosedErr(err) && !errors.Is(err, ErrEvicted) {
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
	dial := cfg.Dial
	if dial == nil {
		dial = func(addr string, timeout time.Duration) (net.Conn, error) {
			return net.DialTimeout("tcp", addr, timeout)
		}
	}
	nc, err := dial(addr, cfg.DialTimeout)
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	setSockOpts(nc, cfg)
	if cfg.TLS != nil {
		if nc, err = clientHandshake(nc, addr, cfg); err != nil {
			return nil, err
		}
	}
	c := newConn(nc, frame.NewReader(nc, cfg.ReadBufferSize, cfg.MaxFrameSize), cfg, h)
	c.start()
	return c, nil
}

// clientHandshake runs the client side of a TLS handshake on nc within
// cfg.DialTimeout. A configuration without a ServerName gets addr's host,
// which standard verification matches against the server's certificate.
func clientHandshake(nc net.Conn, addr string, cfg ConnConfig) (net.Conn, error) {
	t := cfg.TLS
	if t.ServerName == "" && !t.InsecureSkipVerify {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			t = t.Clone()
			t.ServerName = host
		}
	}
	tc := tls.Client(nc, t)
	_ = nc.SetDeadline(time.Now().Add(cfg.DialTimeout))
	if err := tc.Handshake(); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("transport: dial %s: %w: handshake: %w", addr, ErrCerts, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return tc, nil
}
