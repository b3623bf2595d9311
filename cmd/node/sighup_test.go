package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/net/certgen"
	"github.com/mpaxos/mpaxos/net/transport"
)

// TestSIGHUPReloadsTLS: a node started with -tls-dir and
// -client-cert-auth serves TLS clients; after its files are replaced,
// SIGHUP makes new connections get the new certificate while the open
// client keeps working; a broken file on SIGHUP is reported and the node
// keeps the certificate it has.
func TestSIGHUPReloadsTLS(t *testing.T) {
	ca, err := certgen.NewCA("sighup test")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	issue := func() string {
		t.Helper()
		f, err := ca.WriteFiles(dir, "node", certgen.Leaf{CommonName: "node 1",
			URIs: []*url.URL{transport.Identity{Cluster: 1, Node: 1}.URI()}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(f.Cert)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return cert.SerialNumber.Text(16)
	}
	first := issue()
	cf, err := ca.WriteFiles(t.TempDir(), "client", certgen.Leaf{CommonName: "client"})
	if err != nil {
		t.Fatal(err)
	}
	cliCerts, err := transport.LoadCerts(transport.CertFiles{Cert: cf.Cert, Key: cf.Key, CA: cf.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, 1, "-tls-dir", dir, "-client-cert-auth")
	nd := c.nodes[0]
	c.waitLeader(c.nodes, 10*time.Second)
	cfg := client.DefaultConfig()
	cfg.TLS = cliCerts.ClientTLS()
	cl, err := client.Dial(c.clientAddrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	s := cl.Session()
	put := func(v string) {
		t.Helper()
		if err := s.Put(ctxFor(t, 10*time.Second), []byte("k"), []byte(v)); err != nil {
			t.Fatalf("put %s: %v", v, err)
		}
	}
	served := func() string {
		t.Helper()
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", nd.clientAddr, cliCerts.ClientTLS())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
	}
	put("before")
	if got := served(); got != first {
		t.Fatalf("serves %s, want %s", got, first)
	}
	// A client without a certificate is refused (TLS 1.3 reports it on the
	// client's first read, after its side of the handshake).
	if conn, err := tls.Dial("tcp", nd.clientAddr, &tls.Config{InsecureSkipVerify: true}); err == nil {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, rerr := conn.Read(make([]byte, 1))
		conn.Close()
		if rerr == nil || strings.Contains(rerr.Error(), "timeout") {
			t.Fatalf("a client without a certificate was not refused: %v", rerr)
		}
	}

	second := issue()
	if err := nd.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, nd.logPath, "TLS certificates reloaded", "port=client", "serial="+second)
	if got := served(); got != second {
		t.Fatalf("after SIGHUP a new connection gets %s, want %s (before: %s)", got, second, first)
	}
	put("after") // the connection opened before the reload still works

	if err := os.WriteFile(dir+"/node.pem", []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := nd.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, nd.logPath, "TLS reload failed; keeping the previous certificates")
	if got := served(); got != second {
		t.Fatalf("after a failed reload a new connection gets %s, want %s", got, second)
	}
	put("still")
}

// waitLog waits, for at most 10 s, until a line of the log at path holds
// every one of subs. The node is another process: polling its log is the
// only way to await what it did.
func waitLog(t *testing.T, path string, subs ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			ok := true
			for _, s := range subs {
				ok = ok && strings.Contains(line, s)
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", subs, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
