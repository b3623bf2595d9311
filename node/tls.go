package node

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/mpaxos/mpaxos/net/transport"
)

// loadCerts reads the TLS files of Config.PeerTLS and Config.ClientTLS,
// those that are set.
func (n *Node) loadCerts() error {
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
