// Command ledger runs one node of a bank ledger replicated by mpaxos: the
// node runtime (package node) with the ledger's state machine
// (ledger.Type) instead of the key-value one. See README.md.
//
//	ledger -id 1 -peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 \
//	       -client 127.0.0.1:8001 -dir /tmp/ledger1
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
	"github.com/mpaxos/mpaxos/node"
)

func main() {
	err := run(os.Args[1:])
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

// config turns the command line into a node.Config running the ledger.
func config(args []string) (node.Config, error) {
	cfg := node.DefaultConfig()
	cfg.Machine = ledger.Type()
	fs := flag.NewFlagSet("ledger", flag.ContinueOnError)
	id := fs.Uint("id", 0, "this node's id, a key of -peers")
	peers := fs.String("peers", "", "every node's peer address: 1=host:port,2=host:port,...")
	fs.StringVar(&cfg.ClientAddr, "client", "", "this node's client address (host:port), for ledger clients")
	fs.StringVar(&cfg.AdminAddr, "admin", "", "this node's admin address (/status, /hash); empty: none")
	fs.StringVar(&cfg.DataDir, "dir", "", "this node's store directory")
	fs.IntVar(&cfg.Groups, "groups", cfg.Groups, "Paxos groups (accounts spread over them by name; the same on every node)")
	fs.Uint64Var(&cfg.SnapshotEvery, "snapshot-every", cfg.SnapshotEvery, "slots between snapshots of the ledger")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.ID = engine.NodeID(*id)
	var err error
	if cfg.Peers, err = parseAddrs(*peers); err != nil {
		return cfg, fmt.Errorf("-peers: %w", err)
	}
	return cfg, cfg.Validate()
}

func run(args []string) error {
	cfg, err := config(args)
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	n, err := node.Start(cfg)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
		return n.Close()
	case <-n.Done():
		return n.Err()
	}
}
