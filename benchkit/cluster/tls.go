package cluster

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"

	"github.com/mpaxos/mpaxos/net/certgen"
	"github.com/mpaxos/mpaxos/net/transport"
)

// setupTLS makes a throwaway CA under dir/tls, a certificate for every
// node (naming its id in this cluster, good for 127.0.0.1) in
// dir/tls/node<id>, which the node reads with -tls-dir, and one for the
// benchmark's clients, which the nodes require (-client-cert-auth).
func (c *Cluster) setupTLS() error {
	root := filepath.Join(c.Dir, "tls")
	ca, err := certgen.NewCA(fmt.Sprintf("mpaxos bench cluster %d", c.cfg.ClusterID))
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.mu.Lock()
	all := append(slices.Clone(c.Nodes()), c.mu.spares...)
	c.mu.Unlock()
	for _, n := range all {
		n.TLSDir = filepath.Join(root, fmt.Sprintf("node%d", n.ID))
		if err := os.MkdirAll(n.TLSDir, 0o700); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		id := transport.Identity{Cluster: c.cfg.ClusterID, Node: n.ID}
		if _, err := ca.WriteFiles(n.TLSDir, "node", certgen.Leaf{CommonName: fmt.Sprintf("node %d", n.ID), URIs: []*url.URL{id.URI()}}); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	dir := filepath.Join(root, "client")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	f, err := ca.WriteFiles(dir, "client", certgen.Leaf{CommonName: "mpaxos bench client"})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	certs, err := transport.LoadCerts(transport.CertFiles{Cert: f.Cert, Key: f.Key, CA: f.CA}, nil)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.clientTLS = certs.ClientTLS()
	return nil
}

// ClientTLS returns the TLS configuration the benchmark's clients dial
// the nodes with: nil unless the cluster was started with Config.TLS.
func (c *Cluster) ClientTLS() *tls.Config { return c.clientTLS }
