package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/net/frame"
)

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("transport: invalid config")

// ConnConfig holds the settings of one framed connection. The zero value is
// not valid; start from DefaultConnConfig.
type ConnConfig struct {
	// MaxFrameSize is the largest frame body, in bytes, this side accepts and
	// sends. A received length above it closes the connection
	// (frame.ErrFrameTooLarge); Send refuses a larger body. Both ends of a
	// connection must agree. The default is frame.DefaultMaxFrame (4 MiB);
	// it must lie in [1, frame.MaxLimit].
	MaxFrameSize int
	// ReadBufferSize is the largest size in bytes of the connection's read
	// buffer, in which frames are decoded in place. The buffer starts at
	// frame.InitialBufferSize and grows towards this size only as bytes
	// arrive, so an idle or silent connection costs the small size. Frames
	// larger than it still work, through a pooled buffer (see
	// frame.Reader). The default is 64 KiB; it must be at least 512.
	ReadBufferSize int
	// SendQueue bounds, in frames, how many frames may wait for the writer.
	// When it is full, Send drops the frame and returns false instead of
	// blocking. The writer may hold as many again while it writes them. The
	// default is 1024; it must be at least 1.
	SendQueue int
	// IdleTimeout closes a connection on which, with no frame in progress,
	// nothing has arrived for this long (so: no complete frame for this
	// long). Zero (the default here) disables it and leaves dead-peer
	// detection to TCP keepalive and WriteTimeout; DefaultServerConfig sets
	// DefaultClientIdleTimeout for client connections. On peer connections
	// each writer sends a keepalive frame after IdleTimeout/3 without other
	// writes, so the timeout closes connections to peers that are gone, not
	// to quiet ones.
	IdleTimeout time.Duration
	// FrameTimeout closes a connection on which a frame, once started, has not
	// arrived in full within this long, however the bytes trickle in (this is
	// what ends a slow-loris sender). The default is 10 s; zero disables it.
	FrameTimeout time.Duration
	// WriteTimeout closes a connection when one writev cannot complete within
	// this long, which means the peer stopped reading. The deadline is moved
	// only once half of it has passed, so a blocked write fails after
	// between WriteTimeout/2 and WriteTimeout. The default is 10 s; zero
	// disables it.
	WriteTimeout time.Duration
	// DialTimeout bounds establishing a TCP connection (Dial, and Peers'
	// dialling). The default is 2 s; it must be positive.
	DialTimeout time.Duration
	// SocketBufferSize, if positive, sets SO_SNDBUF and SO_RCVBUF to this
	// many bytes (the kernel caps it at net.core.wmem_max/rmem_max and
	// doubles it). Zero (the default) keeps the kernel's auto-tuning: fixed
	// sizes measured no consistent gain on loopback (see doc.go). It must not
	// be negative.
	SocketBufferSize int
	// BodyPool is the pool Send's bodies come from and go back to. Nil (the
	// default) means bytebufferpool's package-level pool (bytebufferpool.Get
	// and Put). A separate pool for large bodies matters: bytebufferpool
	// calibrates each pool to the sizes Put into it and discards buffers above
	// its 95th percentile, so big Accept batches sharing the default pool
	// with many small replies would be allocated afresh every time.
	BodyPool *bytebufferpool.Pool
	// TLS, if set, runs every connection over TLS with this configuration:
	// a Server's as the server, Dial's as the client, Peers' as both (see
	// Certs for configurations whose certificates can be reloaded). Frames
	// are then copied into one buffer per batch, to become few TLS records,
	// and Send never writes inline. Nil (the default) is plain TCP.
	TLS *tls.Config
	// Logger receives connection-level events (never per frame). The default
	// is slog.Default().
	Logger *slog.Logger
	// Dial, if set, makes Dial's TCP connection instead of net.DialTimeout
	// (a benchmark dials from another network namespace). The default is
	// nil.
	Dial func(addr string, timeout time.Duration) (net.Conn, error)
}

// DefaultConnConfig returns the default connection settings.
func DefaultConnConfig() ConnConfig {
	return ConnConfig{
		MaxFrameSize:   frame.DefaultMaxFrame,
		ReadBufferSize: 64 << 10,
		SendQueue:      1024,
		FrameTimeout:   10 * time.Second,
		WriteTimeout:   10 * time.Second,
		DialTimeout:    2 * time.Second,
	}
}

// Validate reports every problem with c at once.
func (c ConnConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.MaxFrameSize < 1 || c.MaxFrameSize > frame.MaxLimit {
		bad("MaxFrameSize %d outside [1, %d]", c.MaxFrameSize, frame.MaxLimit)
	}
	if c.ReadBufferSize < 512 {
		bad("ReadBufferSize %d below 512", c.ReadBufferSize)
	}
	if c.SendQueue < 1 {
		bad("SendQueue %d below 1", c.SendQueue)
	}
	if c.IdleTimeout < 0 || c.FrameTimeout < 0 || c.WriteTimeout < 0 {
		bad("negative timeout (idle %v, frame %v, write %v)", c.IdleTimeout, c.FrameTimeout, c.WriteTimeout)
	}
	if c.DialTimeout <= 0 {
		bad("DialTimeout %v not positive", c.DialTimeout)
	}
	if c.SocketBufferSize < 0 {
		bad("SocketBufferSize %d negative", c.SocketBufferSize)
	}
	return errors.Join(errs...)
}

func (c ConnConfig) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}
