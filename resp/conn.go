package resp

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/mpaxos/mpaxos/kv"
)

// flushAt is the reply bytes a connection buffers before it writes them
// out mid-burst: replies to a pipeline of large GETs must not pile up
// without bound while the client keeps sending.
const flushAt = 64 << 10

// conn is one client connection, served by one goroutine: it parses every
// command the client pipelined, runs them one after the other in order
// (each through the cluster's log, in the connection's session), and
// writes the replies in one write per burst.
type conn struct {
	s     *Server
	nc    net.Conn
	r     *reader
	out   []byte // replies not yet written; owned by the serving goroutine
	proto proto
	id    int64
	name  string
	sess  Session
	quit  bool

	// The deadline commands share (see Config.CommandTimeout).
	ctx      context.Context
	cancel   context.CancelFunc
	deadline time.Time

	// The pipeline not yet sent (pipeline.go).
	multi kv.Multi
	queue []queued
	group int          // the group of the queued commands (Config.Groups)
	subs  []kv.Command // scratch sub-commands

	lower [24]byte  // a command name, lower-cased for the table lookup
	tmp   []byte    // scratch for replies built from numbers
	sc    [][]byte  // scratch arguments
	_     [0]func() // not comparable: conns are map keys by pointer only
}

func (s *Server) newConn(nc net.Conn) *conn {
	return &conn{s: s, nc: nc, proto: resp2, id: s.nextID.Add(1)}
}

func (c *conn) serve() {
	defer func() {
		if c.cancel != nil {
			c.cancel()
		}
		c.nc.Close()
		c.r.setBuf(nil)
	}()
	c.r = newReader(c.nc, &c.s.readBuffers, c.s.cfg.MaxArgs, c.s.cfg.MaxRequest)
	c.out = make([]byte, 0, minBuffer)
	c.sess = c.s.cfg.NewSession()
	for {
		args, err := c.r.next()
		if err != nil {
			c.s.log.Debug("closing connection", "remote", c.nc.RemoteAddr().String(), "err", err)
			c.errorReply("ERR Protocol error: " + trimProtocol(err))
			c.flush()
			return
		}
		if args == nil {
			// The client sent nothing more for now: it waits for the
			// replies, so the pipeline goes out.
			c.sendQueued()
			if len(c.out) > 0 && !c.flush() {
				return
			}
			c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
			if err := c.r.fill(); err != nil {
				if !errors.Is(err, net.ErrClosed) {
					c.s.log.Debug("connection ends", "remote", c.nc.RemoteAddr().String(), "err", err)
				}
				return
			}
			continue
		}
		c.exec(args)
		if c.quit {
			c.flush()
			return
		}
		if len(c.out) >= flushAt && !c.flush() {
			return
		}
	}
}

// flush writes the buffered replies; false if the connection failed (a
// client that stops reading is cut off after IdleTimeout).
func (c *conn) flush() bool {
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
	_, err := c.nc.Write(c.out)
	if cap(c.out) > 4*flushAt {
		c.out = make([]byte, 0, minBuffer) // give back a large burst's memory
	} else {
		c.out = c.out[:0]
	}
	return err == nil
}

// cmdCtx returns the context a command waits for the cluster with: its
// deadline is at least CommandTimeout/2 away. A new one is made only when
// the current one has less left, so a connection allocates one context
// per CommandTimeout/2, not one per command.
func (c *conn) cmdCtx() context.Context {
	now := time.Now()
	if c.ctx == nil || c.deadline.Sub(now) < c.s.cfg.CommandTimeout/2 {
		if c.cancel != nil {
			c.cancel()
		}
		c.deadline = now.Add(c.s.cfg.CommandTimeout)
		c.ctx, c.cancel = context.WithDeadline(c.s.ctx, c.deadline)
	}
	return c.ctx
}

func trimProtocol(err error) string {
	s := err.Error()
	if p := ErrProtocol.Error() + ": "; len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
