package node

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/net/certgen"
	"github.com/mpaxos/mpaxos/net/transport"
)

// TestPostFaultsNeedsToken: POST /faults without the admin token is
// refused (401 without credentials, 403 with wrong ones or when the node
// has no token or no fault hook) and leaves the hook's setting as it was.
func TestPostFaultsNeedsToken(t *testing.T) {
	const body = `{"isolate":[1,2]}`
	tests := []struct {
		name string
		edit func(*Config)
		auth string
		code int
	}{
		{"no credentials", func(c *Config) { c.AdminToken, c.EnableFaultHook = testToken, true }, "", http.StatusUnauthorized},
		{"basic auth", func(c *Config) { c.AdminToken, c.EnableFaultHook = testToken, true }, "Basic dXNlcjpwYXNz", http.StatusUnauthorized},
		{"wrong token", func(c *Config) { c.AdminToken, c.EnableFaultHook = testToken, true }, "Bearer " + testToken + "x", http.StatusForbidden},
		{"empty token", func(c *Config) { c.AdminToken, c.EnableFaultHook = testToken, true }, "Bearer ", http.StatusForbidden},
		{"node without a token", func(c *Config) { c.EnableFaultHook = true }, "Bearer ", http.StatusForbidden},
		{"node without a token, any bearer", func(c *Config) { c.EnableFaultHook = true }, "Bearer " + testToken, http.StatusForbidden},
		{"hook disabled", func(c *Config) { c.AdminToken = testToken }, "Bearer " + testToken, http.StatusForbidden},
		{"defaults", func(*Config) {}, "", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, h := faultNodeWith(t, tc.edit)
			n.peers.Faults().OneWay(3, 1) // a setting the refused POST must not replace
			before := n.peers.Faults().String()
			w := postFaultsAuth(h, body, tc.auth)
			if w.Code != tc.code {
				t.Fatalf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tc.code)
			}
			if tc.code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a WWW-Authenticate: Bearer challenge: %q", w.Header().Get("WWW-Authenticate"))
			}
			if after := n.peers.Faults().String(); after != before {
				t.Errorf("a refused POST changed the hook: %q -> %q", before, after)
			}
		})
	}
}

// TestPprofOnlyWhenAsked: /debug/pprof is served only with Pprof set.
func TestPprofOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		_, h := faultNodeWith(t, func(c *Config) { c.Pprof = on })
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
		if got := w.Code == http.StatusOK; got != on {
			t.Errorf("Pprof %v: GET /debug/pprof/ answered %d", on, w.Code)
		}
	}
}

// TestAdminListenAddr: a host-less admin address binds to loopback; an
// explicit host is kept.
func TestAdminListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		":9001":          "127.0.0.1:9001",
		":0":             "127.0.0.1:0",
		"127.0.0.1:9001": "127.0.0.1:9001",
		"0.0.0.0:9001":   "0.0.0.0:9001",
		"[::1]:9001":     "[::1]:9001",
	} {
		if got := adminListenAddr(in); got != want {
			t.Errorf("adminListenAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPostFaultsClientCert: on an HTTPS admin port, a client certificate
// of the admin CA authorizes POST /faults without a token; no certificate
// and no token is 401, and a certificate of another CA fails the
// handshake. Refused requests leave the hook as it was.
func TestPostFaultsClientCert(t *testing.T) {
	ca, err := certgen.NewCA("admin")
	if err != nil {
		t.Fatal(err)
	}
	files := func(ca *certgen.CA, name string) transport.CertFiles {
		f, err := ca.WriteFiles(t.TempDir(), name, certgen.Leaf{CommonName: name})
		if err != nil {
			t.Fatal(err)
		}
		return transport.CertFiles{Cert: f.Cert, Key: f.Key, CA: f.CA}
	}
	addr := freeAddrs(t, 1)[0]
	n, _ := faultNodeWith(t, func(c *Config) {
		c.EnableFaultHook = true
		c.AdminAddr = addr
		c.AdminTLS = files(ca, "node")
	})
	operator, err := transport.LoadCerts(files(ca, "operator"), nil)
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := certgen.NewCA("other")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := transport.LoadCerts(files(otherCA, "stranger"), nil)
	if err != nil {
		t.Fatal(err)
	}
	post := func(tc *tls.Config) (int, error) {
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := hc.Post("https://"+addr+"/faults", "application/json", strings.NewReader(`{"isolate":[1]}`))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	noCert := operator.ClientTLS()
	noCert.GetClientCertificate = nil
	if code, err := post(noCert); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("no certificate, no token: %d %v, want 401", code, err)
	}
	if _, err := post(stranger.ClientTLS()); err == nil {
		t.Fatal("a certificate of another CA got an answer")
	}
	if got := n.peers.Faults().String(); got != "none" {
		t.Fatalf("refused requests changed the hook: %q", got)
	}
	if code, err := post(operator.ClientTLS()); err != nil || code != http.StatusNoContent {
		t.Fatalf("operator certificate: %d %v, want 204", code, err)
	}
	if got := n.peers.Faults().String(); got != "blocked 1->3 3->1" {
		t.Fatalf("hook %q after an authorized POST", got)
	}
}
