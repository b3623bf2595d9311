// Command node runs one mpaxos server.
//
//	node -id 1 -peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 \
//	     -client-addr 127.0.0.1:8001 -admin-addr 127.0.0.1:9001 -data ./data/1
//
// A fresh node joins a running cluster without the old -peers list:
//
//	node -id 6 -join 127.0.0.1:9001,127.0.0.1:9002 -listen 127.0.0.1:7006 \
//	     -client-addr 127.0.0.1:8006 -admin-addr 127.0.0.1:9006 -data ./data/6 \
//	     -admin-token-file token
//
// asks the members (POST /members, following the leader's redirects) to
// add it as a learner at its -listen address, learns every member's
// address from the configuration (GET /members), and starts with an
// empty store, caught up by snapshot and log; promote it with POST
// /members once it caught up (see join.go). Restarted with the same
// flags, it finds itself a member and only learns the addresses again.
//
// It stops cleanly on SIGINT or SIGTERM: no new clients, queued writes
// finish, the store closes. A restart recovers from -data and catches up.
// SIGHUP reads the TLS files again: new connections use the new
// certificates, open ones keep theirs.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/internal/config"
	"github.com/mpaxos/mpaxos/internal/timerslack"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/naive"
	"github.com/mpaxos/mpaxos/net/transport"
	"github.com/mpaxos/mpaxos/node"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// reexec is false in tests, which call run in their own process: setting
// the timer slack re-executes the binary.
var reexec = true

func run(args []string, stderr io.Writer) int {
	cfg, o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "node:", firstLine(err))
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	if o.timerSlack > 0 && reexec {
		// Returns only when the slack is already in place, or with why
		// it could not be set; either way the node runs.
		if err := timerslack.Set(o.timerSlack); err != nil {
			cfg.Logger.Warn("timer slack not set; the OS default applies", "want", o.timerSlack, "err", err)
		}
	}
	if o.join.admins != nil {
		if err := joinCluster(&cfg, o.join, cfg.Logger); err != nil {
			fmt.Fprintln(stderr, "node:", firstLine(err))
			return 1
		}
	}
	n, err := node.Start(cfg)
	if err != nil {
		// The node's own errors already say "node:".
		fmt.Fprintln(stderr, "node:", strings.TrimPrefix(firstLine(err), "node: "))
		return 1
	}
	stopRESP := func() {}
	if o.resp.Listen != "" {
		rs, cl, err := startRESP(o.resp, cfg, n, cfg.Logger)
		if err != nil {
			fmt.Fprintln(stderr, "node:", firstLine(err))
			n.Close()
			return 1
		}
		stopRESP = func() { rs.Close(); cl.Close() }
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
wait:
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGHUP {
				// Errors are logged by the node, which keeps the
				// certificates it has.
				_ = n.ReloadTLS()
				continue
			}
			cfg.Logger.Info("shutting down", "signal", s.String())
			break wait
		case <-n.Done():
			break wait
		}
	}
	stopRESP() // before the node: no RESP command is left waiting on it
	if err := n.Close(); err != nil {
		fmt.Fprintln(stderr, "node:", firstLine(err))
		return 1
	}
	return 0
}

// procOptions are the flags that concern the process, not the node.
type procOptions struct {
	logLevel   slog.Level
	timerSlack time.Duration
	resp       respOptions
	join       joinOptions
}

func parseFlags(args []string, stderr io.Writer) (node.Config, procOptions, error) {
	var o procOptions
	cfg := node.DefaultConfig()
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.Uint("id", 0, "this node's id (1..65535), a key of -peers")
	peers := fs.String("peers", "", "every member's peer address: id=host:port,... (this node included); not with -join")
	join := fs.String("join", "", "join a running cluster instead of -peers: admin addresses (host:port,...) of some of its members, which add this node as a learner at -listen")
	listen := fs.String("listen", "", "with -join: this node's peer address (host:port), recorded in the cluster's configuration")
	fs.Uint64Var(&cfg.ClusterID, "cluster-id", cfg.ClusterID, "cluster id; peers of another cluster are refused")
	fs.StringVar(&cfg.ClientAddr, "client-addr", "", "address clients connect to (host:port)")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", "", "HTTP address for /status, /metrics and POST /faults (empty: off; no host, as in :9001: 127.0.0.1)")
	tokenFile := fs.String("admin-token-file", "", "file holding the bearer token the admin port's mutating endpoints (POST /faults) require (none: they refuse every request)")
	fs.BoolVar(&cfg.EnableFaultHook, "enable-fault-hook", false, "serve POST /faults, which partitions, delays and drops peer traffic (tests and benchmarks)")
	fs.BoolVar(&cfg.Pprof, "pprof", false, "serve /debug/pprof on the admin port")
	tlsDir := fs.String("tls-dir", "", "TLS on both ports from `dir`/node.pem, node-key.pem and ca.pem (the -peer-* and -client-* flags override single files)")
	fs.StringVar(&cfg.PeerTLS.Cert, "peer-cert", "", "peer port: this node's certificate (PEM), naming it with a URI SAN mpaxos://cluster/<cluster-id>/node/<id>")
	fs.StringVar(&cfg.PeerTLS.Key, "peer-key", "", "peer port: the certificate's private key (PEM)")
	fs.StringVar(&cfg.PeerTLS.CA, "peer-ca", "", "peer port: the CA (PEM) every member's certificate must chain to")
	fs.StringVar(&cfg.ClientTLS.Cert, "client-cert", "", "client port: the node's certificate (PEM)")
	fs.StringVar(&cfg.ClientTLS.Key, "client-key", "", "client port: the certificate's private key (PEM)")
	fs.StringVar(&cfg.ClientTLS.CA, "client-ca", "", "client port: the CA (PEM) client certificates must chain to")
	fs.BoolVar(&cfg.ClientCertAuth, "client-cert-auth", false, "client port: require a client certificate (needs client TLS)")
	fs.DurationVar(&cfg.TLSWatch, "tls-watch", cfg.TLSWatch, "how often to check the TLS files for changes and reload them (0: only on SIGHUP)")
	fs.StringVar(&cfg.AdminTLS.Cert, "admin-cert", "", "admin port: serve HTTPS with this certificate (PEM); a client certificate chaining to -admin-ca then authorizes POST /faults like the token")
	fs.StringVar(&cfg.AdminTLS.Key, "admin-key", "", "admin port: the certificate's private key (PEM)")
	fs.StringVar(&cfg.AdminTLS.CA, "admin-ca", "", "admin port: the CA (PEM) admin client certificates must chain to")
	fs.StringVar(&cfg.DataDir, "data", "", "data directory (the Pebble store)")
	fs.BoolVar(&cfg.Sync, "sync", cfg.Sync, "fsync every write group before acknowledging (false only for benchmarks that say so)")
	fs.IntVar(&cfg.Batch.MaxCount, "batch-size", cfg.Batch.MaxCount, "most commands in one proposed batch")
	fs.IntVar(&cfg.Batch.MaxBytes, "batch-bytes", cfg.Batch.MaxBytes, "most bytes in one proposed batch")
	fs.DurationVar(&cfg.Batch.MaxDelay, "batch-delay", cfg.Batch.MaxDelay, "longest a command waits for its batch to fill (0 with adaptive batching: never wait while the pipeline has room)")
	fs.IntVar(&cfg.Pipeline, "pipeline", cfg.Pipeline, "most proposed, not yet chosen slots")
	fs.IntVar(&cfg.Groups, "groups", cfg.Groups, fmt.Sprintf("independent Paxos groups the keys are split over, 1..%d; every member must run the same", node.MaxGroups))
	fs.DurationVar(&cfg.Tick, "tick", cfg.Tick, "engine clock period")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", cfg.Heartbeat, "leader heartbeat interval")
	fs.DurationVar(&cfg.ElectionTimeout, "election-timeout", cfg.ElectionTimeout, "follower election timeout (randomized up to 2x)")
	fs.Var(&cfg.Protocol, "protocol", "replication protocol: "+strings.Join(naive.Names(), "|")+"; all but paxos are naive schemes that lose or diverge data, for comparisons only")
	fs.Var(readModeFlag{&cfg.ReadMode}, "read-mode", "how a linearizable get that names no mode is served: log (through the log like a write), index (a heartbeat round, no disk) or lease (at once under the leader's lease, which trusts -max-clock-drift)")
	fs.Float64Var(&cfg.MaxClockDrift, "max-clock-drift", cfg.MaxClockDrift, "most the nodes' clock rates may differ, as a fraction in [0, 1): a lease lasts election timeout x (1 - this) less a tick; the same on every member")
	fs.BoolVar(&cfg.PrePrepare, "pre-prepare", cfg.PrePrepare, "ask a majority before raising the ballot after an election timeout, so a node that was cut off does not force an election when it rejoins")
	fs.BoolVar(&cfg.Thrifty, "thrifty", cfg.Thrifty, "at 5 voters or more, the leader sends Accepts to its fastest majority only; the other followers get chosen entries with the commit and write them without a sync (false: every Accept to every follower)")
	fs.Uint64Var(&cfg.SnapshotEvery, "snapshot-every", cfg.SnapshotEvery, "slots between state machine snapshots (0: never)")
	fs.Uint64Var(&cfg.SnapshotBytes, "snapshot-bytes", cfg.SnapshotBytes, "also snapshot after this many bytes of applied log (0: no byte trigger)")
	fs.IntVar(&cfg.MemTable, "memtable", cfg.MemTable, "store memtable size in bytes (1 MiB..1 GiB); holds the log between snapshots")
	fs.Int64Var(&cfg.SpaceQuota, "space-quota", cfg.SpaceQuota, "bytes of disk the store may use; at it the leader refuses writes (reads go on) until usage falls (0: no quota)")
	fs.Int64Var(&cfg.MinFreeBytes, "min-free-bytes", cfg.MinFreeBytes, "refuse writes while the data directory's filesystem has less than this free (0: off)")
	fs.DurationVar(&cfg.SpaceCheck, "space-check", cfg.SpaceCheck, "how often the disk use is measured against -space-quota and -min-free-bytes")
	fs.Uint64Var(&cfg.SessionTTL, "session-ttl", cfg.SessionTTL, "slots a client session lives unused")
	fs.IntVar(&cfg.MaxFrame, "max-frame", cfg.MaxFrame, "largest frame accepted from a peer, in bytes (must fit a snapshot plus the log since it)")
	fs.IntVar(&cfg.ClientMaxFrame, "client-max-frame", cfg.ClientMaxFrame, "largest frame accepted from a client, in bytes (0: the largest request whose command fits a batch, see -batch-bytes)")
	fs.DurationVar(&cfg.ClientIdleTimeout, "client-idle-timeout", cfg.ClientIdleTimeout, "close a client connection with no request for this long")
	fs.IntVar(&cfg.MaxClientConns, "max-client-conns", cfg.MaxClientConns, "most open client connections (when full, a new one closes the longest-idle)")
	fs.IntVar(&cfg.MaxClientConnsPerIP, "max-client-conns-per-ip", cfg.MaxClientConnsPerIP, "most open client connections from one IP address")
	fs.IntVar(&cfg.RecordApplied, "record-applied", 0, "keep the last N executed (slot, client, seq) for GET /applied (benchmark checks; 0: off)")
	fs.BoolVar(&cfg.UnsafeNoPersist, "unsafe-no-persist", false, "TESTS ONLY: acknowledge writes without storing them, to show the benchmark's checks catch data loss")
	fs.BoolVar(&cfg.Null, "null", false, "answer clients at once without replicating or storing (harness ceiling)")
	respAddr := fs.String("resp-addr", "", "serve the Redis protocol (RESP) here: host:port, or every node's as id=host:port,... (the same list on each node, so a follower's -MOVED names the leader's); empty: off")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&o.timerSlack, "timer-slack", time.Millisecond, "timer slack of the process's threads (Linux; 0: the OS default, 50µs): how late a timer may fire so the kernel can batch wake-ups; 1ms cuts the Go runtime's idle polling (see results/README.md)")
	// A bad flag is one line (run prints the error); only -h prints the
	// usage.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "Usage of node:")
			fs.PrintDefaults()
		}
		return cfg, o, err
	}
	if fs.NArg() > 0 {
		return cfg, o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *id > 65535 {
		return cfg, o, fmt.Errorf("-id %d is above 65535", *id)
	}
	cfg.ID = engine.NodeID(*id)
	if err := o.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, o, fmt.Errorf("-log-level: %v", err)
	}
	var err error
	groupsSet := false
	fs.Visit(func(f *flag.Flag) { groupsSet = groupsSet || f.Name == "groups" })
	switch {
	case *join != "" && *peers != "":
		return cfg, o, fmt.Errorf("-join and -peers: give one (-join learns the members from the cluster)")
	case *join != "" && *listen == "":
		return cfg, o, fmt.Errorf("-join needs -listen, this node's peer address")
	case *join == "" && *listen != "":
		return cfg, o, fmt.Errorf("-listen is for -join; without it -peers gives this node's address")
	case *join != "" && *tokenFile == "":
		return cfg, o, fmt.Errorf("-join needs -admin-token-file: adding a member takes the cluster's admin token")
	case *join != "" && cfg.Null:
		return cfg, o, fmt.Errorf("-join does not work with -null")
	case *join != "":
		if o.join, err = parseJoin(*join, *listen, groupsSet); err != nil {
			return cfg, o, err
		}
		// The members are learnt from the cluster before Start
		// (joinCluster); Validate sees this node alone meanwhile.
		cfg.Peers = map[engine.NodeID]string{cfg.ID: *listen}
	default:
		if cfg.Peers, err = ParsePeers(*peers); err != nil {
			return cfg, o, err
		}
	}
	if o.resp, err = parseRESPAddr(*respAddr, uint16(cfg.ID)); err != nil {
		return cfg, o, err
	}
	if o.resp.Listen != "" && (*tlsDir != "" || cfg.ClientTLS.Cert != "") {
		// The RESP server reaches the node through its client port.
		return cfg, o, fmt.Errorf("-resp-addr does not work with TLS on the client port")
	}
	if *tlsDir != "" {
		for _, f := range []*transport.CertFiles{&cfg.PeerTLS, &cfg.ClientTLS} {
			for _, p := range []struct {
				dst  *string
				name string
			}{{&f.Cert, "node.pem"}, {&f.Key, "node-key.pem"}, {&f.CA, "ca.pem"}} {
				if *p.dst == "" {
					*p.dst = filepath.Join(*tlsDir, p.name)
				}
			}
		}
	}
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return cfg, o, fmt.Errorf("-admin-token-file: %w", err)
		}
		if cfg.AdminToken = strings.TrimSpace(string(b)); cfg.AdminToken == "" {
			return cfg, o, fmt.Errorf("-admin-token-file %s is empty", *tokenFile)
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, o, flagErrors(err)
	}
	if o.timerSlack < 0 {
		return cfg, o, fmt.Errorf("-timer-slack %v is negative", o.timerSlack)
	}
	return cfg, o, nil
}

// fieldFlags names the flag that sets each node.Config field Validate can
// complain about, so a user reads the flag they typed, not a Go name.
var fieldFlags = map[string]string{
	"ID": "-id", "Peers": "-peers", "ClientAddr": "-client-addr", "DataDir": "-data",
	"Batch.MaxCount": "-batch-size", "Batch.MaxBytes": "-batch-bytes", "Batch.MaxDelay": "-batch-delay",
	"Pipeline": "-pipeline", "Tick": "-tick", "Heartbeat": "-heartbeat", "ElectionTimeout": "-election-timeout",
	"RecordApplied": "-record-applied", "MemTable": "-memtable", "SpaceQuota": "-space-quota",
	"MinFreeBytes": "-min-free-bytes", "SpaceCheck": "-space-check", "MaxFrame": "-max-frame",
	"ClientMaxFrame": "-client-max-frame", "ClientIdleTimeout": "-client-idle-timeout",
	"PeerTLS": "-peer-cert, -peer-key, -peer-ca", "ClientTLS": "-client-cert, -client-key, -client-ca",
	"AdminTLS": "-admin-cert, -admin-key, -admin-ca", "TLSWatch": "-tls-watch",
	"ClientCertAuth": "-client-cert-auth", "AdminToken": "-admin-token-file",
	"ReadMode": "-read-mode", "MaxClockDrift": "-max-clock-drift",
	"MaxClientConns": "-max-client-conns", "MaxClientConnsPerIP": "-max-client-conns-per-ip",
	"Groups": "-groups", "InitialMembers": "-join",
}

// readModeFlag is -read-mode: a kv.ReadMode by name. Validate refuses the
// names a node cannot default to (default, stale).
type readModeFlag struct{ p *kv.ReadMode }

func (f readModeFlag) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

func (f readModeFlag) Set(s string) error {
	m, err := kv.ParseReadMode(s)
	if err != nil {
		return fmt.Errorf("want log, index or lease")
	}
	*f.p = m
	return nil
}

// flagErrors restates Validate's problems by flag, every one on one line:
// "-batch-size -3: must be at least 1; -pipeline 0: must be at least 1".
// A field no flag sets keeps its Go name.
func flagErrors(err error) error {
	fes := config.Fields(err)
	if len(fes) == 0 {
		return err
	}
	parts := make([]string, 0, len(fes))
	for _, fe := range fes {
		name, ok := fieldFlags[fe.Field]
		if !ok {
			name = fe.Field
		}
		parts = append(parts, fe.Short(name))
	}
	return errors.New(strings.Join(parts, "; "))
}

// ParsePeers reads "1=host:port,2=host:port".
func ParsePeers(s string) (map[engine.NodeID]string, error) {
	if s == "" {
		return nil, fmt.Errorf("-peers is required (id=host:port,...)")
	}
	m := make(map[engine.NodeID]string)
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("-peers: %q is not id=host:port", part)
		}
		id, err := strconv.ParseUint(k, 10, 16)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("-peers: %q: id must be 1..65535", part)
		}
		if _, dup := m[engine.NodeID(id)]; dup {
			return nil, fmt.Errorf("-peers: id %d listed twice", id)
		}
		m[engine.NodeID(id)] = v
	}
	return m, nil
}

// firstLine keeps a user-facing error to one line (Validate joins many).
func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (and more: " + strconv.Itoa(strings.Count(s, "\n")) + " other problems)"
	}
	return s
}
