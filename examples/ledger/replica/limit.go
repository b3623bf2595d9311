package replica

import (
	"net"
	"sync"
)

// limitListener caps the open client connections: one accepted beyond max
// is closed at once, so a flood of sockets costs a bounded number of
// goroutines and buffers while the connections already open keep working.
// (The node runtime's client port goes further: it evicts the longest-idle
// connection to make room, see transport.ServerConfig.MaxConns.)
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func newLimitListener(l net.Listener, max int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, max)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
			c.Close()
		}
	}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
