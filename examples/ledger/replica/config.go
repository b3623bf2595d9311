package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/net/frame"
)

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("replica: invalid config")

// Config configures one replica.
type Config struct {
	// ID is this replica's node id, a key of Peers. Required.
	ID engine.NodeID
	// ClusterID names the cluster; peers of another cluster are refused.
	// The default is 1.
	ClusterID uint64
	// Peers maps every replica's id, this one included, to the TCP address
	// of its peer port. Required, at least 1 entry.
	Peers map[engine.NodeID]string
	// HTTP maps every replica's id to the host:port of its client API, so
	// a follower can redirect to the leader. This replica's entry is the
	// address it serves on (unless HTTPListener is set). Required.
	HTTP map[engine.NodeID]string
	// Dir is this replica's store directory (Pebble). Required.
	Dir string
	// Tick is the engine's tick interval. The default is 10 ms.
	Tick time.Duration
	// ElectionTicks is the engine's election timeout in ticks. The default
	// is 20 (200 ms with the default Tick).
	ElectionTicks int
	// SnapshotEvery takes a snapshot and truncates the log every this many
	// applied slots. The default is 10000; it must be at least 1.
	SnapshotEvery uint64
	// RequestTimeout bounds how long a client call waits for its command
	// to commit before it is answered 503 (and retried by the client).
	// The default is 2 s.
	RequestTimeout time.Duration
	// MaxPeerFrame is the largest message, in bytes, sent to or accepted
	// from a peer. It must fit a snapshot of the ledger plus the log since
	// it: a lagging replica's catch-up and a new leader's Promises carry
	// them in one message, and one that does not fit is dropped, again
	// and again, so that replica never catches up. The default is 256 MiB
	// (a limit, not an allocation: a read buffer grows with the bytes that
	// arrive); it must lie in [64 KiB, frame.MaxLimit].
	MaxPeerFrame int
	// MaxClients bounds the open client API connections; one more is
	// closed as soon as it is accepted. The default is 1024; it must be at
	// least 1.
	MaxClients int
	// PeerListener and HTTPListener, when set, are used instead of
	// listening on this replica's Peers and HTTP address (tests pass
	// listeners on port 0). The replica closes them.
	PeerListener, HTTPListener net.Listener
	// Logger receives role changes, snapshots and errors. nil means
	// slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; the caller sets ID, Peers, HTTP, Dir.
func DefaultConfig() Config {
	return Config{
		ClusterID:      1,
		Tick:           10 * time.Millisecond,
		ElectionTicks:  20,
		SnapshotEvery:  10000,
		RequestTimeout: 2 * time.Second,
		MaxClients:     1024,
		MaxPeerFrame:   256 << 20,
	}
}

// Validate reports every problem of c at once.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...)))
	}
	if c.ID == 0 {
		add("ID must be set")
	}
	if c.ClusterID == 0 {
		add("ClusterID must not be 0")
	}
	if _, ok := c.Peers[c.ID]; !ok {
		add("Peers has no address for this replica (%d)", c.ID)
	}
	for id := range c.Peers {
		if id == 0 {
			add("Peers has id 0")
		}
		if _, ok := c.HTTP[id]; !ok {
			add("HTTP has no address for replica %d", id)
		}
	}
	if c.Dir == "" {
		add("Dir must be set")
	}
	if c.Tick <= 0 {
		add("Tick %v must be positive", c.Tick)
	}
	if c.ElectionTicks < 2 {
		add("ElectionTicks %d must be at least 2", c.ElectionTicks)
	}
	if c.SnapshotEvery < 1 {
		add("SnapshotEvery must be at least 1")
	}
	if c.MaxPeerFrame < 64<<10 || c.MaxPeerFrame > frame.MaxLimit {
		add("MaxPeerFrame %d outside [64 KiB, %d]", c.MaxPeerFrame, frame.MaxLimit)
	}
	if c.MaxClients < 1 {
		add("MaxClients %d must be at least 1", c.MaxClients)
	}
	if c.RequestTimeout <= 0 {
		add("RequestTimeout %v must be positive", c.RequestTimeout)
	}
	return errors.Join(errs...)
}
