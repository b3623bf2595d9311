package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/net/certgen"
	"github.com/mpaxos/mpaxos/net/frame"
)

// tlsCluster starts n nodes of cluster 7 whose peer connections run over
// mutual TLS with certificates of ca.
func tlsCluster(t *testing.T, n int) ([]*testNode, *certgen.CA) {
	ca := testCA(t, "cluster 7")
	nodes := newCluster(t, n, func(c *PeersConfig) {
		c.TLS = nodeCerts(t, ca, 7, c.ID, certOpts{}).PeerTLS()
	})
	return nodes, ca
}

// TestPeersTLSMesh: frames cross a mutual-TLS mesh in order, and the
// connections really are TLS.
func TestPeersTLSMesh(t *testing.T) {
	nodes, _ := tlsCluster(t, 3)
	for _, from := range nodes {
		for _, to := range nodes {
			if from != to {
				send(t, from, to.p.cfg.ID, 1, "over tls")
			}
		}
	}
	for _, to := range nodes {
		for _, from := range nodes {
			if from != to {
				to.in.waitFor(t, from.p.cfg.ID, "1:over tls")
			}
		}
	}
	c := nodes[0].p.link(2).conn.Load()
	tc, ok := c.nc.(*tls.Conn)
	if !ok || tc.ConnectionState().Version != tls.VersionTLS13 {
		t.Fatalf("peer connection is %T, want TLS 1.3", c.nc)
	}
}

// TestPeersTLSRefusals: a node refuses, and logs why, a peer whose
// certificate comes from another CA, has expired, names another node than
// the one it claims, or another cluster, and a peer speaking plain TCP;
// the real node's link is not disturbed.
func TestPeersTLSRefusals(t *testing.T) {
	nodes, ca := tlsCluster(t, 2)
	target := nodes[1] // node 2, which node 1 dials
	// Same name, different key: the target does not trust it.
	stranger := testCA(t, "cluster 7")
	tests := []struct {
		name       string
		certs      func(t *testing.T) *Certs
		targetSays string // in the target's refusal log line
		dialerSays string // in the rogue dialler's log line
	}{
		{"wrong CA", func(t *testing.T) *Certs {
			// It trusts the cluster's CA, so the target is the one to refuse.
			f := nodeFiles(t, stranger, 7, 1, certOpts{})
			f.CA = nodeFiles(t, ca, 7, 1, certOpts{}).CA
			c, err := LoadCerts(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
			"certificate signed by unknown authority", "handshake with peer failed"},
		{"expired", func(t *testing.T) *Certs {
			return nodeCerts(t, ca, 7, 1, certOpts{notAfter: time.Now().Add(-time.Hour)})
		}, "certificate has expired", "handshake with peer failed"},
		{"id differs from the claimed id", func(t *testing.T) *Certs { return nodeCerts(t, ca, 7, 3, certOpts{}) },
			"certificate is for node 3 (mpaxos://cluster/7/node/3), but the peer is node 1", "refused by peer"},
		{"another cluster", func(t *testing.T) *Certs { return nodeCerts(t, ca, 8, 1, certOpts{}) },
			"certificate is for cluster 8", "refused by peer"},
		{"no identity", func(t *testing.T) *Certs { return nodeCerts(t, ca, 7, 1, certOpts{noURI: true}) },
			"names no node", "refused by peer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certs := tc.certs(t)
			rec := newLogRecorder()
			cfg := DefaultPeersConfig()
			cfg.ClusterID, cfg.ID, cfg.Listener = 7, 1, listenLoopback(t)
			cfg.Peers = map[uint64]string{2: target.p.Addr().String()}
			cfg.BackoffMin, cfg.BackoffMax = time.Second, time.Second
			cfg.TLS = certs.PeerTLS()
			cfg.Logger = rec.logger()
			p, err := NewPeers(cfg, newInbox().handle)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			p.Start()
			target.log.wait(t, "refusing peer connection", tc.targetSays)
			rec.wait(t, tc.dialerSays)
			if p.Connected(2) {
				t.Fatal("the rogue node got connected")
			}
		})
	}
	t.Run("plain TCP to the TLS port", func(t *testing.T) {
		nc, err := net.Dial("tcp", target.p.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write(hello{cluster: 7, from: 1, to: 2}.append(frame.AppendHeader(nil, TypeHello, handshakeSize)))
		awaitClosed(t, nc)
		target.log.wait(t, "refusing peer connection", "first record does not look like a TLS handshake")
	})
	// The existing connection was not disturbed.
	send(t, nodes[0], 2, 1, "still here")
	target.in.waitFor(t, 1, "1:still here")
	if _, ups := target.p.Stats(1); ups != 1 {
		t.Fatalf("node 2 reconnected to node 1: %d connections", ups)
	}
}

// TestPeersTLSDialerVerifies: the dialling side verifies too: a listener
// at node 2's address whose certificate names node 3 is refused by node 1.
func TestPeersTLSDialerVerifies(t *testing.T) {
	ca := testCA(t, "cluster 7")
	impostor := nodeCerts(t, ca, 7, 3, certOpts{})
	ln := listenLoopback(t)
	p3cfg := DefaultPeersConfig()
	p3cfg.ClusterID, p3cfg.ID, p3cfg.Listener = 7, 3, ln
	p3cfg.Peers = map[uint64]string{1: "127.0.0.1:1"}
	p3cfg.TLS = impostor.PeerTLS()
	p3cfg.Logger = newLogRecorder().logger()
	p3, err := NewPeers(p3cfg, newInbox().handle)
	if err != nil {
		t.Fatal(err)
	}
	defer p3.Close()
	p3.Start()
	rec := newLogRecorder()
	cfg := DefaultPeersConfig()
	cfg.ClusterID, cfg.ID, cfg.Listener = 7, 1, listenLoopback(t)
	cfg.Peers = map[uint64]string{2: ln.Addr().String()}
	cfg.TLS = nodeCerts(t, ca, 7, 1, certOpts{}).PeerTLS()
	cfg.Logger = rec.logger()
	p, err := NewPeers(cfg, newInbox().handle)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Start()
	rec.wait(t, "handshake with peer failed", "certificate is for node 3 (mpaxos://cluster/7/node/3), but the peer is node 2")
}

func rootPool(t *testing.T, pem []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		t.Fatal("no CA certificate")
	}
	return p
}

// TestServerTLS: the client port over TLS, with and without required
// client certificates; plain TCP to it is closed.
func TestServerTLS(t *testing.T) {
	ca := testCA(t, "clients")
	srvCerts := nodeCerts(t, ca, 7, 1, certOpts{})
	cliCerts := nodeCerts(t, ca, 7, 9, certOpts{})
	other := nodeCerts(t, testCA(t, "strangers"), 7, 9, certOpts{})
	for _, tc := range []struct {
		name    string
		require bool
		client  *tls.Config
		ok      bool
	}{
		{"server auth only", false, cliCerts.ClientTLS(), true},
		{"client cert required and given", true, cliCerts.ClientTLS(), true},
		{"client cert required, none given", true, &tls.Config{RootCAs: rootPool(t, ca.PEM)}, false},
		{"client cert of another CA", true, other.ClientTLS(), false},
		{"server of another CA", false, other.ClientTLS(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := DefaultServerConfig()
			sc.Conn.TLS = srvCerts.ServerTLS(tc.require)
			s := echoServer(t, sc)
			cc := DefaultConnConfig()
			cc.TLS = tc.client
			got := make(chan string, 1)
			c, err := Dial(s.Addr().String(), cc, func(_ *Conn, _ byte, b []byte) { got <- string(b) })
			if err == nil {
				defer c.Close()
				c.Send(1, pooled([]byte("ping")))
				select {
				case m := <-got:
					err = nil
					if m != "ping" {
						t.Fatalf("echo %q", m)
					}
				case <-c.Done():
					err = c.Err()
				}
			}
			if (err == nil) != tc.ok {
				t.Fatalf("round trip: err %v, want success %v", err, tc.ok)
			}
		})
	}
	t.Run("plain TCP", func(t *testing.T) {
		sc := DefaultServerConfig()
		sc.Conn.TLS = srvCerts.ServerTLS(false)
		rec := newLogRecorder()
		sc.Conn.Logger = rec.logger()
		s := echoServer(t, sc)
		nc, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write(frame.AppendHeader(nil, 1, 0))
		awaitClosed(t, nc)
		rec.wait(t, "client connection closed", "first record does not look like a TLS handshake")
	})
}

// TestPeersTLSReload: after Reload, a new peer connection presents the new
// certificate; the one open during the reload kept working until it
// closed.
func TestPeersTLSReload(t *testing.T) {
	ca := testCA(t, "cluster 7")
	files := map[uint64]CertFiles{}
	certs := map[uint64]*Certs{}
	nodes := newCluster(t, 2, func(c *PeersConfig) {
		files[c.ID] = nodeFiles(t, ca, 7, c.ID, certOpts{})
		var err error
		if certs[c.ID], err = LoadCerts(files[c.ID], nil); err != nil {
			t.Fatal(err)
		}
		c.TLS = certs[c.ID].PeerTLS()
	})
	old := nodes[0].p.link(2).conn.Load()
	oldSerial := old.nc.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber
	for id, f := range files {
		reissue(t, ca, f, 7, id)
		if err := certs[id].Reload(); err != nil {
			t.Fatal(err)
		}
	}
	newSerial := certs[2].Leaf().SerialNumber
	if newSerial.Cmp(oldSerial) == 0 {
		t.Fatal("reissue kept the serial")
	}
	send(t, nodes[0], 2, 1, "after reload, old connection")
	nodes[1].in.waitFor(t, 1, "1:after reload, old connection")
	old.Close()
	if err := nodes[0].p.WaitConnected(testCtx(t), 2, 2); err != nil {
		t.Fatal(err)
	}
	got := nodes[0].p.link(2).conn.Load().nc.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber
	if got.Cmp(newSerial) != 0 {
		t.Fatalf("new connection presents serial %x, want the reloaded %x (old %x)", got, newSerial, oldSerial)
	}
	send(t, nodes[0], 2, 1, "after reload, new connection")
	nodes[1].in.waitFor(t, 1, "1:after reload, new connection")
}

// TestCertsReloadKeepsGoodOnError: a reload from a broken file, or one the
// check refuses, keeps the previous material.
func TestCertsReloadKeepsGoodOnError(t *testing.T) {
	ca := testCA(t, "c")
	f := nodeFiles(t, ca, 7, 1, certOpts{})
	refuse := false
	c, err := LoadCerts(f, func(*x509.Certificate) error {
		if refuse {
			return ErrIdentity
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	before := c.Leaf().SerialNumber
	reissue(t, ca, f, 7, 1)
	refuse = true
	if err := c.Reload(); !errors.Is(err, ErrIdentity) {
		t.Fatalf("reload refused by the check: %v", err)
	}
	refuse = false
	if err := os.WriteFile(f.Cert, []byte("not pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); !errors.Is(err, ErrCerts) {
		t.Fatalf("reload of a broken file: %v", err)
	}
	if c.Leaf().SerialNumber.Cmp(before) != 0 {
		t.Fatal("a failed reload replaced the certificate")
	}
}

// TestPeersTLSPendingBounded: the TLS handshake counts as pending: beyond
// MaxPendingHandshakes strangers that never send a ClientHello, each new
// one closes the oldest.
func TestPeersTLSPendingBounded(t *testing.T) {
	const limit, n = 4, 10
	certs := nodeCerts(t, testCA(t, "c"), 7, 2, certOpts{})
	p := strangerPeers(t, listenLoopback(t), func(c *PeersConfig) {
		c.HandshakeTimeout = time.Hour
		c.MaxPendingHandshakes = limit
		c.TLS = certs.PeerTLS()
		c.Logger = newLogRecorder().logger()
	})
	assertPendingBounded(t, p, n, limit)
}

// TestPeersTLSHandshakeTimeout: a stranger that opens a connection and
// never starts TLS is dropped at the handshake timeout, with a log line
// naming it.
func TestPeersTLSHandshakeTimeout(t *testing.T) {
	rec := newLogRecorder()
	certs := nodeCerts(t, testCA(t, "c"), 7, 2, certOpts{})
	p := strangerPeers(t, listenLoopback(t), func(c *PeersConfig) {
		c.HandshakeTimeout = 200 * time.Millisecond
		c.TLS = certs.PeerTLS()
		c.Logger = rec.logger()
	})
	nc, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rec.wait(t, "refusing peer connection", "no TLS handshake within the handshake timeout of 200ms")
	awaitClosed(t, nc)
}
