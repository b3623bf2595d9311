package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/internal/testnet"
	"github.com/mpaxos/mpaxos/net/certgen"
	"github.com/mpaxos/mpaxos/net/transport"
)

// tlsTestCluster is three in-process nodes whose peer and client ports
// run over TLS with certificates of one CA, client certificates required.
type tlsTestCluster struct {
	ca      *certgen.CA
	nodes   []*Node
	dirs    []string // each node's certificate directory
	addrs   []string // client addresses
	cliDir  string
	cliTLS  *transport.Certs
	cluster uint64
}

// freeAddrs picks n loopback addresses on ports below the ephemeral
// range (testnet), so no peer's dial takes one before its node binds it.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for _, p := range testnet.FreePorts(t, n) {
		out = append(out, fmt.Sprintf("127.0.0.1:%d", p))
	}
	return out
}

// issueNode writes node id's certificate into dir.
func (c *tlsTestCluster) issueNode(t *testing.T, dir string, id uint64) transport.CertFiles {
	t.Helper()
	f, err := c.ca.WriteFiles(dir, "node", certgen.Leaf{CommonName: fmt.Sprintf("node %d", id),
		URIs: []*url.URL{transport.Identity{Cluster: c.cluster, Node: id}.URI()}})
	if err != nil {
		t.Fatal(err)
	}
	return transport.CertFiles{Cert: f.Cert, Key: f.Key, CA: f.CA}
}

func (c *tlsTestCluster) issueClient(t *testing.T) transport.CertFiles {
	t.Helper()
	f, err := c.ca.WriteFiles(c.cliDir, "client", certgen.Leaf{CommonName: "bench client"})
	if err != nil {
		t.Fatal(err)
	}
	return transport.CertFiles{Cert: f.Cert, Key: f.Key, CA: f.CA}
}

func startTLSCluster(t *testing.T) *tlsTestCluster {
	t.Helper()
	ca, err := certgen.NewCA("tls test cluster")
	if err != nil {
		t.Fatal(err)
	}
	c := &tlsTestCluster{ca: ca, cluster: 5, cliDir: t.TempDir()}
	ports := freeAddrs(t, 6)
	peers := map[engine.NodeID]string{}
	for i := range 3 {
		peers[engine.NodeID(i+1)] = ports[2*i]
		c.addrs = append(c.addrs, ports[2*i+1])
	}
	for i := range 3 {
		dir := t.TempDir()
		c.dirs = append(c.dirs, dir)
		files := c.issueNode(t, dir, uint64(i+1))
		cfg := DefaultConfig()
		cfg.ID, cfg.ClusterID, cfg.Peers = engine.NodeID(i+1), c.cluster, peers
		cfg.ClientAddr = c.addrs[i]
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
		cfg.Sync = false
		cfg.Tick, cfg.Heartbeat, cfg.ElectionTimeout = 5*time.Millisecond, 20*time.Millisecond, 150*time.Millisecond
		cfg.PeerTLS, cfg.ClientTLS, cfg.ClientCertAuth = files, files, true
		cfg.Logger = slog.New(slog.DiscardHandler)
		n, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		c.nodes = append(c.nodes, n)
	}
	if c.cliTLS, err = transport.LoadCerts(c.issueClient(t), nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// servedSerial is the serial of the certificate node i's client port
// presents to a new connection.
func (c *tlsTestCluster) servedSerial(t *testing.T, i int) string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", c.addrs[i], c.cliTLS.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
}

// TestNodeRefusesOwnCertOfAnotherNode: a node does not start with a peer
// certificate that names another node.
func TestNodeRefusesOwnCertOfAnotherNode(t *testing.T) {
	ca, err := certgen.NewCA("c")
	if err != nil {
		t.Fatal(err)
	}
	c := &tlsTestCluster{ca: ca, cluster: 5}
	cfg := validConfig()
	cfg.ClusterID = 5
	cfg.PeerTLS = c.issueNode(t, t.TempDir(), 2) // this is node 1
	cfg.DataDir = t.TempDir()
	cfg.Logger = slog.New(slog.DiscardHandler)
	if _, err := Start(cfg); err == nil {
		t.Fatal("node 1 started with node 2's certificate")
	}
}

// TestTLSRotationUnderLoad: 50 clients write through TLS (client
// certificates required) while every node's and the clients'
// certificates are reissued and reloaded; some clients redial all along,
// so handshakes straddle the reload. No request fails, and new
// connections get the new certificates.
func TestTLSRotationUnderLoad(t *testing.T) {
	c := startTLSCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const workers = 50
	var (
		stop     atomic.Bool
		failures atomic.Int64
		firstErr atomic.Pointer[error]
		wg       sync.WaitGroup
		phase    atomic.Int32 // 0 before the reload, 1 after
	)
	// done[p] counts workers that completed an operation in phase p.
	var doneMu sync.Mutex
	done := [2]map[int]bool{{}, {}}
	progress := make(chan struct{}, 1)
	dial := func() (*client.Client, error) {
		cc := client.DefaultConfig()
		cc.Attempt = 5 * time.Second
		cc.DialTimeout = 5 * time.Second
		cc.TLS = c.cliTLS.ClientTLS()
		return client.Dial(c.addrs, cc)
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := dial()
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, &err)
				return
			}
			defer func() { cl.Close() }()
			s := cl.Session()
			for i := 0; !stop.Load(); i++ {
				if w%5 == 0 && i%10 == 9 {
					// New connections, so handshakes happen
					// throughout the reload.
					cl.Close()
					if cl, err = dial(); err != nil {
						failures.Add(1)
						firstErr.CompareAndSwap(nil, &err)
						return
					}
					s = cl.Session()
				}
				octx, ocancel := context.WithTimeout(ctx, 20*time.Second)
				err := s.Put(octx, []byte(fmt.Sprintf("k%d", w)), []byte(fmt.Sprint(i)))
				ocancel()
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				p := phase.Load()
				doneMu.Lock()
				if !done[p][w] {
					done[p][w] = true
					select {
					case progress <- struct{}{}:
					default:
					}
				}
				doneMu.Unlock()
			}
		}()
	}
	awaitAll := func(p int) {
		t.Helper()
		for {
			doneMu.Lock()
			n := len(done[p])
			doneMu.Unlock()
			if n == workers || failures.Load() > 0 {
				return
			}
			select {
			case <-progress:
			case <-ctx.Done():
				t.Fatalf("phase %d: only %d of %d workers completed a request", p, n, workers)
			}
		}
	}
	awaitAll(0)
	before := c.servedSerial(t, 0)
	// Rotate: new node and client certificates from the same CA, files
	// replaced atomically, then every node reloads (as on SIGHUP).
	for i, dir := range c.dirs {
		c.issueNode(t, dir, uint64(i+1))
	}
	c.issueClient(t)
	if err := c.cliTLS.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		if err := n.ReloadTLS(); err != nil {
			t.Fatal(err)
		}
	}
	phase.Store(1)
	awaitAll(1)
	stop.Store(true)
	wg.Wait()
	if f := failures.Load(); f > 0 {
		t.Fatalf("%d workers saw a failed request; first: %v", f, *firstErr.Load())
	}
	if after := c.servedSerial(t, 0); after == before {
		t.Fatalf("a new connection after the reload still gets certificate %s", before)
	} else if want := c.nodes[0].clientCerts.Leaf().SerialNumber.Text(16); after != want {
		t.Fatalf("a new connection gets certificate %s, want the reloaded %s", after, want)
	}
}

// TestTLSWatchReloadsChangedFiles: with TLSWatch set, replacing the
// certificate files is enough: the node reloads them, and new
// connections get the new certificate.
func TestTLSWatchReloadsChangedFiles(t *testing.T) { testTLSWatch(t, false) }

// TestTLSWatchStartingLateSeesTheChange: files changed after Start read them
// but before the watcher's goroutine first looks (a busy machine) are still
// a change. The watcher took its first stamps itself, so it saw the new
// files as the old ones and never reloaded: a CI flake under load.
func TestTLSWatchStartingLateSeesTheChange(t *testing.T) { testTLSWatch(t, true) }

func testTLSWatch(t *testing.T, late bool) {
	ca, err := certgen.NewCA("watch")
	if err != nil {
		t.Fatal(err)
	}
	c := &tlsTestCluster{ca: ca, cluster: 1, cliDir: t.TempDir()}
	dir := t.TempDir()
	files := c.issueNode(t, dir, 1)
	if c.cliTLS, err = transport.LoadCerts(c.issueClient(t), nil); err != nil {
		t.Fatal(err)
	}
	log := &lineLog{more: make(chan struct{})}
	cfg := validConfig()
	cfg.Null, cfg.DataDir = true, ""
	c.addrs = freeAddrs(t, 1)
	cfg.ClientAddr = c.addrs[0]
	cfg.ClientTLS = files
	cfg.TLSWatch = 10 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(log, nil))
	release := make(chan struct{})
	if late {
		cfg.hooks = &testHooks{watchStarts: func() { <-release }}
	}
	n, err := Start(cfg)
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer n.Close()
	before := c.servedSerial(t, 0)
	c.issueNode(t, dir, 1)
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fresh, err := transport.LoadCerts(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	serial := fresh.Leaf().SerialNumber.Text(16)
	if serial == before {
		t.Fatal("reissue kept the serial")
	}
	if !log.wait(ctx, "serial="+serial) {
		t.Fatalf("no reload of the changed files (serial %s) logged", serial)
	}
	if got := c.servedSerial(t, 0); got != serial || n.clientCerts.Leaf().SerialNumber.Text(16) != serial {
		t.Fatalf("after the change a new connection gets %s, want %s (before %s)", got, serial, before)
	}
}
