package transport

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// A node's certificate names the node it belongs to with a URI subject
// alternative name:
//
//	mpaxos://cluster/<cluster id>/node/<node id>
//
// Both ids are decimal and non-zero. The peer handshake checks it against
// the ids the other end claims in its hello (or, dialling, against the node
// this side meant to reach), so a certificate of node 3 cannot be used to
// take node 1's link, and one of another cluster is refused outright.

// ErrIdentity wraps every failure to read a node identity from a
// certificate, and every mismatch between it and the ids claimed.
var ErrIdentity = errors.New("transport: certificate identity")

// Identity is the cluster and node a certificate names.
type Identity struct {
	Cluster, Node uint64
}

// URI is the identity's subject alternative name.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: "mpaxos", Host: "cluster", Path: fmt.Sprintf("/%d/node/%d", id.Cluster, id.Node)}
}

func (id Identity) String() string { return id.URI().String() }

// CertIdentity returns the node identity cert names. It fails when cert
// names none, or more than one (a certificate good for two nodes would let
// either impersonate the other).
func CertIdentity(cert *x509.Certificate) (Identity, error) {
	var found []Identity
	for _, u := range cert.URIs {
		if u.Scheme != "mpaxos" {
			continue
		}
		id, err := parseIdentity(u)
		if err != nil {
			return Identity{}, err
		}
		found = append(found, id)
	}
	switch len(found) {
	case 0:
		return Identity{}, fmt.Errorf("%w: certificate %q names no node (want a URI SAN mpaxos://cluster/<id>/node/<id>)", ErrIdentity, cert.Subject.CommonName)
	case 1:
		return found[0], nil
	default:
		return Identity{}, fmt.Errorf("%w: certificate %q names %d nodes", ErrIdentity, cert.Subject.CommonName, len(found))
	}
}

func parseIdentity(u *url.URL) (Identity, error) {
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if u.Host != "cluster" || len(parts) != 3 || parts[1] != "node" {
		return Identity{}, fmt.Errorf("%w: %q is not mpaxos://cluster/<id>/node/<id>", ErrIdentity, u)
	}
	c, err1 := strconv.ParseUint(parts[0], 10, 64)
	n, err2 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || c == 0 || n == 0 {
		return Identity{}, fmt.Errorf("%w: %q: ids must be non-zero decimal numbers", ErrIdentity, u)
	}
	return Identity{Cluster: c, Node: n}, nil
}

// checkIdentity is the handshake's test of the certificate the other end
// presented: it must name this cluster and node want.
func checkIdentity(got Identity, cluster, want uint64) error {
	switch {
	case got.Cluster != cluster:
		return fmt.Errorf("%w: certificate is for cluster %d (%s), this is cluster %d", ErrIdentity, got.Cluster, got, cluster)
	case got.Node != want:
		return fmt.Errorf("%w: certificate is for node %d (%s), but the peer is node %d", ErrIdentity, got.Node, got, want)
	}
	return nil
}
