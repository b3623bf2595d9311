package transport

import (
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/net/certgen"
)

// testCA is a throwaway CA for these tests.
func testCA(t *testing.T, name string) *certgen.CA {
	t.Helper()
	ca, err := certgen.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// certOpts tweak a test node certificate.
type certOpts struct {
	notAfter time.Time // zero: a day from now
	noURI    bool      // no node identity at all
}

// nodeFiles issues a certificate naming node id of cluster, signed by ca,
// into a fresh directory.
func nodeFiles(t *testing.T, ca *certgen.CA, cluster, id uint64, o certOpts) CertFiles {
	t.Helper()
	l := certgen.Leaf{CommonName: "test node", NotAfter: o.notAfter}
	if !o.notAfter.IsZero() {
		l.NotBefore = o.notAfter.Add(-48 * time.Hour)
	}
	if !o.noURI {
		l.URIs = []*url.URL{Identity{Cluster: cluster, Node: id}.URI()}
	}
	f, err := ca.WriteFiles(t.TempDir(), "node", l)
	if err != nil {
		t.Fatal(err)
	}
	return CertFiles{Cert: f.Cert, Key: f.Key, CA: f.CA}
}

// nodeCerts loads nodeFiles' certificate.
func nodeCerts(t *testing.T, ca *certgen.CA, cluster, id uint64, o certOpts) *Certs {
	t.Helper()
	c, err := LoadCerts(nodeFiles(t, ca, cluster, id, o), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// reissue writes a fresh certificate for the same identity over files.
func reissue(t *testing.T, ca *certgen.CA, files CertFiles, cluster, id uint64) {
	t.Helper()
	_, err := ca.WriteFiles(filepath.Dir(files.Cert), "node", certgen.Leaf{CommonName: "test node",
		URIs: []*url.URL{Identity{Cluster: cluster, Node: id}.URI()}})
	if err != nil {
		t.Fatal(err)
	}
}
