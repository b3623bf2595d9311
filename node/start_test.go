package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mpaxos/mpaxos/engine"
)

// TestBusyPortLeavesNoDataDir: a node whose client, peer or admin port is
// taken fails with an error naming that address, before it creates its
// data directory.
func TestBusyPortLeavesNoDataDir(t *testing.T) {
	for _, which := range []string{"client", "peer", "admin"} {
		t.Run(which, func(t *testing.T) {
			busy, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			ports := freePorts(t, 3)
			addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
			cfg := DefaultConfig()
			cfg.ID = 1
			cfg.Peers = map[engine.NodeID]string{1: addr(0)}
			cfg.ClientAddr, cfg.AdminAddr = addr(1), addr(2)
			cfg.Logger = quietLog
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			switch which {
			case "client":
				cfg.ClientAddr = busy.Addr().String()
			case "peer":
				cfg.Peers[1] = busy.Addr().String()
			case "admin":
				cfg.AdminAddr = busy.Addr().String()
			}
			n, err := Start(cfg)
			if err == nil {
				n.Close()
				t.Fatal("started on a busy port")
			}
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("error %v does not say the address is in use", err)
			}
			if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the data directory was created (%v)", err)
			}
		})
	}
}
