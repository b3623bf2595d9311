package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// ErrCerts wraps every failure to load TLS material and every certificate
// the other end of a connection presents that does not verify.
var ErrCerts = errors.New("transport: tls")

// CertFiles names the PEM files of one TLS identity.
type CertFiles struct {
	// Cert is the certificate (chain, leaf first) this side presents and
	// Key its private key. Required.
	Cert, Key string
	// CA holds the certificates the other end's certificate must chain
	// to. Required.
	CA string
}

// Certs is a TLS identity read from files that can be replaced while
// connections use it. Reload reads the files again: handshakes after it
// present the new certificate and verify against the new CA; connections
// already established keep the keys they negotiated until they close. The
// tls.Configs it returns read the current material on every handshake, so
// they never need rebuilding.
type Certs struct {
	files CertFiles
	check func(leaf *x509.Certificate) error
	cur   atomic.Pointer[certSet]
}

// certSet is one loaded generation of the files. Immutable.
type certSet struct {
	cert  *tls.Certificate
	roots *x509.CertPool
}

// LoadCerts reads files. check, if not nil, vets the leaf certificate of
// every load (a node refuses a certificate naming another node), so a bad
// file never replaces a good one.
func LoadCerts(files CertFiles, check func(leaf *x509.Certificate) error) (*Certs, error) {
	c := &Certs{files: files, check: check}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again and, if they load and pass the check, makes
// them the material of every later handshake. On error the previous
// material stays in use.
func (c *Certs) Reload() error {
	f := c.files
	if f.Cert == "" || f.Key == "" || f.CA == "" {
		return fmt.Errorf("%w: certificate, key and CA files are all required (got %q, %q, %q)", ErrCerts, f.Cert, f.Key, f.CA)
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return fmt.Errorf("%w: %s, %s: %w", ErrCerts, f.Cert, f.Key, err)
	}
	if c.check != nil {
		if err := c.check(cert.Leaf); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCerts, f.Cert, err)
		}
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCerts, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%w: %s holds no PEM certificate", ErrCerts, f.CA)
	}
	c.cur.Store(&certSet{cert: &cert, roots: roots})
	return nil
}

// Leaf returns the certificate this side currently presents.
func (c *Certs) Leaf() *x509.Certificate { return c.cur.Load().cert.Leaf }

// verify checks the chain the other end presented against the current CA.
// Identity (which node) is the handshake's business; any extended key
// usage is accepted, as one node certificate serves both ends of a peer
// connection.
func (c *Certs) verify(cs tls.ConnectionState, required bool) error {
	if len(cs.PeerCertificates) == 0 {
		if required {
			return fmt.Errorf("%w: the other end presented no certificate", ErrCerts)
		}
		return nil
	}
	inter := x509.NewCertPool()
	for _, ic := range cs.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	leaf := cs.PeerCertificates[0]
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         c.cur.Load().roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("%w: certificate %q (%v): %w", ErrCerts, leaf.Subject.CommonName, leaf.URIs, err)
	}
	return nil
}

func (c *Certs) base() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load().cert, nil
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return c.cur.Load().cert, nil
		},
		// Full-size records from the first byte: the connections are
		// long-lived bulk streams, where the small initial records meant
		// for web page latency only add record overhead.
		DynamicRecordSizingDisabled: true,
	}
}

// PeerTLS returns the configuration of peer connections, for both the
// dialling and the accepting side: each presents its certificate and
// verifies the other's against the CA. The chain is verified here, against
// the CA of the moment (hence InsecureSkipVerify, which only turns off the
// standard verification with its fixed roots and host names, meaningless
// between nodes); which node the certificate names is checked by the
// handshake.
func (c *Certs) PeerTLS() *tls.Config {
	t := c.base()
	t.ClientAuth = tls.RequireAnyClientCert
	t.InsecureSkipVerify = true
	t.VerifyConnection = func(cs tls.ConnectionState) error { return c.verify(cs, true) }
	return t
}

// ServerTLS returns the configuration of the client port. With
// requireClientCert every client must present a certificate that chains to
// the CA; without it none is asked for.
func (c *Certs) ServerTLS(requireClientCert bool) *tls.Config {
	t := c.base()
	if requireClientCert {
		t.ClientAuth = tls.RequireAnyClientCert
		t.VerifyConnection = func(cs tls.ConnectionState) error { return c.verify(cs, true) }
	}
	return t
}

// RequestingTLS returns a server configuration that asks for a client
// certificate without requiring one: a client that presents one must
// present one that chains to the CA (else the handshake fails), so the
// server can treat r.TLS.PeerCertificates as verified. The node's admin
// port uses it: a certificate authorizes, like the bearer token.
func (c *Certs) RequestingTLS() *tls.Config {
	t := c.base()
	t.ClientAuth = tls.RequestClientCert
	t.VerifyConnection = func(cs tls.ConnectionState) error { return c.verify(cs, false) }
	return t
}

// ClientTLS returns the configuration of a client dialling a node's
// client port: it presents its certificate and verifies the node's against
// the CA (chain only, like PeerTLS: nodes are named by id, not host).
func (c *Certs) ClientTLS() *tls.Config {
	t := c.base()
	t.InsecureSkipVerify = true
	t.VerifyConnection = func(cs tls.ConnectionState) error { return c.verify(cs, true) }
	return t
}
