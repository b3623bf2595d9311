package node

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/mpaxos/mpaxos/net/transport"
)

// loadCerts reads the TLS files of Config.PeerTLS and Config.ClientTLS,
// those that are set. The files' stamps are taken first: watchTLS starts
// from them, so a change made after Start read the files is seen however
// late the watcher's goroutine runs.
func (n *Node) loadCerts() error {
	n.tlsStamps = stamps(n.tlsFiles())
	if n.cfg.PeerTLS.Cert != "" {
		c, err := transport.LoadCerts(n.cfg.PeerTLS, n.checkOwnCert)
		if err != nil {
			return fmt.Errorf("node: peer TLS: %w", err)
		}
		n.peerCerts = c
	}
	if n.cfg.ClientTLS.Cert != "" {
		c, err := transport.LoadCerts(n.cfg.ClientTLS, nil)
		if err != nil {
			return fmt.Errorf("node: client TLS: %w", err)
		}
		n.clientCerts = c
	}
	if n.cfg.AdminTLS.Cert != "" {
		c, err := transport.LoadCerts(n.cfg.AdminTLS, nil)
		if err != nil {
			return fmt.Errorf("node: admin TLS: %w", err)
		}
		n.adminCerts = c
	}
	return nil
}

// checkOwnCert refuses a peer certificate that does not name this node:
// every peer would refuse it, and a node that starts anyway looks up
// while it talks to no one.
func (n *Node) checkOwnCert(leaf *x509.Certificate) error {
	id, err := transport.CertIdentity(leaf)
	if err != nil {
		return err
	}
	if want := (transport.Identity{Cluster: n.cfg.ClusterID, Node: uint64(n.cfg.ID)}); id != want {
		return fmt.Errorf("%w: the certificate names %s, this node is %s", transport.ErrIdentity, id, want)
	}
	return nil
}

// ReloadTLS reads the TLS files again (cmd/node calls it on SIGHUP).
// Connections established from now on use the new certificates and CAs;
// those already open keep theirs until they close. A file that fails to
// load leaves that port's previous material in place, and is reported.
func (n *Node) ReloadTLS() error {
	var errs []error
	for _, c := range []struct {
		name  string
		certs *transport.Certs
	}{{"peer", n.peerCerts}, {"client", n.clientCerts}, {"admin", n.adminCerts}} {
		if c.certs == nil {
			continue
		}
		if err := c.certs.Reload(); err != nil {
			n.log.Error("TLS reload failed; keeping the previous certificates", "port", c.name, "err", err)
			errs = append(errs, fmt.Errorf("node: %s TLS: %w", c.name, err))
			continue
		}
		leaf := c.certs.Leaf()
		n.log.Info("TLS certificates reloaded", "port", c.name, "serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter)
	}
	return errors.Join(errs...)
}

// fileStamp is what watchTLS compares: a file's modification time and
// size (an error reads as the zero stamp, so a file that disappears and
// comes back counts as a change).
type fileStamp struct {
	mod  time.Time
	size int64
}

// tlsFiles lists the TLS files of every port that has them.
func (n *Node) tlsFiles() []string {
	var out []string
	for _, f := range []transport.CertFiles{n.cfg.PeerTLS, n.cfg.ClientTLS, n.cfg.AdminTLS} {
		if f.Cert != "" {
			out = append(out, f.Cert, f.Key, f.CA)
		}
	}
	return out
}

func stamps(paths []string) []fileStamp {
	out := make([]fileStamp, len(paths))
	for i, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			out[i] = fileStamp{fi.ModTime(), fi.Size()}
		}
	}
	return out
}

// maxTLSRetries is how many checks in a row watchTLS retries a failed
// reload of unchanged files.
const maxTLSRetries = 10

// watchTLS reloads the TLS files when one of them changes, checking every
// Config.TLSWatch until the node stops. A change seen while the files are
// being replaced one by one may load a certificate without its key yet:
// that reload fails, keeps the old material, and the next check, seeing
// the rest of the change, loads the pair.
func (n *Node) watchTLS() {
	defer n.wg.Done()
	if n.cfg.hooks != nil && n.cfg.hooks.watchStarts != nil {
		n.cfg.hooks.watchStarts()
	}
	paths := n.tlsFiles()
	last := n.tlsStamps // as loadCerts found them
	retries := 0
	t := time.NewTicker(n.cfg.TLSWatch)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		now := stamps(paths)
		if slices.Equal(now, last) && retries == 0 {
			continue
		}
		if !slices.Equal(now, last) {
			n.log.Info("TLS files changed; reloading")
			retries = maxTLSRetries
		}
		last = now
		// A failed reload (logged by ReloadTLS) is tried again on the
		// next checks, a few times: the files may have been read while
		// being rewritten, a change the stamps need not show (same size,
		// same coarse modification time).
		if n.ReloadTLS() == nil {
			retries = 0
		} else {
			retries--
		}
	}
}
