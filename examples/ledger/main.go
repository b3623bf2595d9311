// Command ledger runs one replica of a bank ledger replicated by mpaxos:
// the example of embedding the engine in a service of your own. See
// README.md for running three replicas by hand.
//
//	ledger -id 1 -peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 \
//	       -http 1=127.0.0.1:8001,2=127.0.0.1:8002,3=127.0.0.1:8003 -dir /tmp/ledger1
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/examples/ledger/replica"
)

func main() {
	err := run(os.Args[1:], os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		// One line, however many problems Validate found.
		fmt.Fprintln(os.Stderr, "ledger:", strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(2)
	}
}

// parseAddrs reads "1=host:port,2=host:port".
func parseAddrs(s string) (map[engine.NodeID]string, error) {
	out := map[engine.NodeID]string{}
	for _, kv := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.ParseUint(id, 10, 16)
		if !ok || err != nil || n == 0 || addr == "" {
			return nil, fmt.Errorf("%q: want id=host:port with id in 1..65535", kv)
		}
		out[engine.NodeID(n)] = addr
	}
	return out, nil
}

// config turns the command line into a replica.Config.
func config(args []string, stderr io.Writer) (replica.Config, error) {
	cfg := replica.DefaultConfig()
	fs := flag.NewFlagSet("ledger", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // a bad flag is one line from main, not the usage
	id := fs.Uint("id", 0, "this replica's id, a key of -peers")
	peers := fs.String("peers", "", "every replica's peer address: 1=host:port,2=host:port,...")
	httpAddrs := fs.String("http", "", "every replica's client API address, same ids as -peers")
	fs.StringVar(&cfg.Dir, "dir", "", "this replica's store directory")
	fs.Uint64Var(&cfg.ClusterID, "cluster", cfg.ClusterID, "cluster id, the same on every replica")
	fs.DurationVar(&cfg.Tick, "tick", cfg.Tick, "engine tick interval")
	fs.IntVar(&cfg.ElectionTicks, "election-ticks", cfg.ElectionTicks, "election timeout in ticks")
	fs.Uint64Var(&cfg.SnapshotEvery, "snapshot-every", cfg.SnapshotEvery, "snapshot and truncate the log every this many slots")
	fs.IntVar(&cfg.MaxPeerFrame, "max-peer-frame", cfg.MaxPeerFrame, "largest peer message in bytes; must fit a snapshot plus the log since it")
	fs.IntVar(&cfg.MaxClients, "max-clients", cfg.MaxClients, "most open client API connections")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "usage: ledger -id N -peers 1=host:port,... -http 1=host:port,... -dir DIR")
			fs.PrintDefaults()
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *id > 65535 {
		return cfg, fmt.Errorf("-id %d: must be in 1..65535", *id)
	}
	cfg.ID = engine.NodeID(*id)
	var err error
	if cfg.Peers, err = parseAddrs(*peers); err != nil {
		return cfg, fmt.Errorf("-peers: %w", err)
	}
	if cfg.HTTP, err = parseAddrs(*httpAddrs); err != nil {
		return cfg, fmt.Errorf("-http: %w", err)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return cfg, cfg.Validate()
}

func run(args []string, stderr io.Writer) error {
	cfg, err := config(args, stderr)
	if err != nil {
		return err
	}
	r, err := replica.Start(cfg)
	if err != nil {
		return err
	}
	cfg.Logger.Info("ledger replica serving", "id", cfg.ID, "http", cfg.HTTP[cfg.ID], "peers", cfg.Peers[cfg.ID], "dir", cfg.Dir)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		cfg.Logger.Info("stopping", "signal", s.String())
	case <-r.Done():
	}
	return errors.Join(r.Err(), r.Close())
}
