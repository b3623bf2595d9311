package resp

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/internal/config"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/route"
)

// Session is one logical client of the cluster, as the server uses it: a
// *client.Session of a client.Client dialled to this node alone with
// client.Config.NoRedirect, so that a follower's refusal comes back as
// client.ErrNotLeader naming the leader, which the server turns into
// -MOVED. Get is the client's read path (whatever read mode it was
// configured with); Do runs every other command.
type Session interface {
	Get(ctx context.Context, key []byte) ([]byte, bool, error)
	Do(ctx context.Context, cmd kv.Command) (client.Result, error)
}

// Status is what INFO and CLUSTER report of the node the server runs
// beside.
type Status struct {
	ID     uint16
	Role   string // "leader", "follower" or "candidate"
	Leader uint16 // 0: unknown
	Commit uint64
	// Applied is the last slot the node's state machine applied.
	Applied uint64
	// Leaders is each group's leader (0: unknown), by group id, when the
	// node runs several groups (Config.Groups); nil with one, whose
	// leader is Leader.
	Leaders []uint16
}

// leaderOf returns group g's leader as s reports it.
func (s *Status) leaderOf(g int) uint16 {
	if g < len(s.Leaders) {
		return s.Leaders[g]
	}
	return s.Leader
}

// Config configures a Server.
type Config struct {
	// Addr is where the server listens (host:port). Required.
	Addr string
	// ID is the node this server runs beside. Required.
	ID uint16
	// Groups is how many Paxos groups the node runs (node.Config.Groups):
	// the hash slots are split over them (route.SlotRange), each led by
	// its own node. CLUSTER SLOTS and SHARDS list a range per group with
	// its leader as primary; a command whose key's group this node does not
	// lead gets -MOVED to that group's leader (the node refuses it, naming
	// the leader); a pipeline is sent as one command per run of commands of
	// one group, and a multi-key command whose keys belong to several
	// groups gets -CROSSSLOT, as Redis Cluster answers keys of several
	// slots. The default is 1.
	Groups int
	// Addrs maps node ids to the addresses their RESP servers are reached
	// at: -MOVED names the leader's, CLUSTER SLOTS and NODES list them.
	// A leader missing from Addrs gets an -ERR naming it instead of a
	// redirect. This node's entry defaults to Addr. The default is none.
	Addrs map[uint16]string
	// NewSession returns a new session for a new connection. Required.
	NewSession func() Session
	// Status reports the node's role, leader, commit and applied slots.
	// Required.
	Status func() Status
	// MaxConns bounds the open connections; one more is answered "-ERR
	// max number of clients reached" and closed, as Redis does. The
	// default is 1024.
	MaxConns int
	// IdleTimeout closes a connection that sent nothing, or did not read
	// its replies, for this long. The default is 5 minutes.
	IdleTimeout time.Duration
	// CommandTimeout bounds how long a command waits for the cluster
	// before it is answered with an error (whose outcome is unknown: see
	// doc.go). A command gets between half of it and all of it: the
	// deadline is shared by the commands within that span so that none
	// allocates a context of its own. The default is 10s.
	CommandTimeout time.Duration
	// MaxRequest is the largest command accepted, in bytes of RESP
	// (headers included); a larger one closes its connection when its
	// header announces it, before its bytes arrive. A connection's read
	// buffer never grows past it plus 4 KiB. It should not exceed the
	// node's batch size in bytes, which bounds a command anyway. The
	// default is 1 MiB, the default batch size.
	MaxRequest int
	// MaxArgs bounds the arguments of one command (MSET of n keys takes
	// 2n+1). The default is 65536.
	MaxArgs int
	// Logger receives connection errors at debug level and the server's
	// own at warn. The default is slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; Addr, ID, NewSession and Status are
// the caller's.
func DefaultConfig() Config {
	return Config{
		MaxConns:       1024,
		IdleTimeout:    5 * time.Minute,
		CommandTimeout: 10 * time.Second,
		MaxRequest:     1 << 20,
		MaxArgs:        1 << 16,
		Groups:         1,
	}
}

// ErrConfig is wrapped by every problem Validate reports.
var ErrConfig = errors.New("resp: invalid config")

// Validate reports every problem with c.
func (c Config) Validate() error {
	v := config.NewCollector(ErrConfig)
	if c.Addr == "" {
		v.Bad("Addr", nil, "is required")
	}
	if c.ID == 0 {
		v.Bad("ID", nil, "is required")
	}
	if c.NewSession == nil {
		v.Bad("NewSession", nil, "is required")
	}
	if c.Status == nil {
		v.Bad("Status", nil, "is required")
	}
	if c.MaxConns < 1 {
		v.Bad("MaxConns", c.MaxConns, "must be at least 1")
	}
	if c.IdleTimeout <= 0 {
		v.Bad("IdleTimeout", c.IdleTimeout, "must be positive")
	}
	if c.CommandTimeout <= 0 {
		v.Bad("CommandTimeout", c.CommandTimeout, "must be positive")
	}
	if c.MaxRequest < 1<<10 || c.MaxRequest > 1<<30 {
		v.Bad("MaxRequest", c.MaxRequest, "must be between 1 KiB and 1 GiB")
	}
	if c.Groups < 1 || c.Groups > route.Slots {
		v.Bad("Groups", c.Groups, "must be between 1 and the slot count")
	}
	if c.MaxArgs < 3 {
		v.Bad("MaxArgs", c.MaxArgs, "must be at least 3 (SET key value)")
	}
	for id, a := range c.Addrs {
		if id == 0 || a == "" {
			v.Bad("Addrs", id, "needs a node id above 0 and an address")
		}
	}
	return v.Err()
}
