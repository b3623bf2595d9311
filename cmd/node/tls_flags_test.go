package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTLSFlags: -tls-dir fills both ports' files, single-file flags win
// over it, -client-cert-auth needs client TLS, and -admin-token-file is
// read without its surrounding white space.
func TestTLSFlags(t *testing.T) {
	base := []string{"-id", "1", "-peers", "1=127.0.0.1:1", "-client-addr", "127.0.0.1:2", "-data", "x"}
	cfg, _, err := parseFlags(append(base, "-tls-dir", "/d", "-peer-ca", "/other/ca.pem"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PeerTLS.Cert != "/d/node.pem" || cfg.PeerTLS.Key != "/d/node-key.pem" || cfg.PeerTLS.CA != "/other/ca.pem" {
		t.Errorf("peer files %+v", cfg.PeerTLS)
	}
	if cfg.ClientTLS.Cert != "/d/node.pem" || cfg.ClientTLS.CA != "/d/ca.pem" {
		t.Errorf("client files %+v", cfg.ClientTLS)
	}
	if _, _, err := parseFlags(append(base, "-client-cert-auth"), io.Discard); err == nil || !strings.Contains(err.Error(), "-client-cert-auth: needs client TLS files") {
		t.Errorf("-client-cert-auth without TLS: %v", err)
	}
	if _, _, err := parseFlags(append(base, "-peer-cert", "/c.pem"), io.Discard); err == nil || !strings.Contains(err.Error(), "-peer-cert, -peer-key, -peer-ca: needs a certificate, a key and a CA") {
		t.Errorf("-peer-cert alone: %v", err)
	}
	tok := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(tok, []byte("  0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err = parseFlags(append(base, "-admin-token-file", tok, "-enable-fault-hook", "-pprof"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AdminToken != "0123456789abcdef0123" || !cfg.EnableFaultHook || !cfg.Pprof {
		t.Errorf("admin settings: token %q hook %v pprof %v", cfg.AdminToken, cfg.EnableFaultHook, cfg.Pprof)
	}
	if err := os.WriteFile(tok, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := parseFlags(append(base, "-admin-token-file", tok), io.Discard); err == nil || !strings.Contains(err.Error(), "shorter than 16") {
		t.Errorf("short token: %v", err)
	}
}

// TestConfigProblemsNameFlags: every problem Validate finds is reported on
// one line by the flag that sets it, with its value, and the exit status
// is 2.
func TestConfigProblemsNameFlags(t *testing.T) {
	var out strings.Builder
	code := run([]string{"-id", "1", "-peers", "1=127.0.0.1:1", "-client-addr", "127.0.0.1:2", "-data", t.TempDir(),
		"-batch-size", "-3", "-pipeline", "0", "-election-timeout", "10ms"}, &out)
	const want = "node: -batch-size -3: must be at least 1; -pipeline 0: must be at least 1; -election-timeout 10ms: must be at least 3 heartbeats (150ms)\n"
	if code != 2 || out.String() != want {
		t.Fatalf("exit %d, printed\n%q\nwant exit 2 and\n%q", code, out.String(), want)
	}
}

// TestFieldFlagsAreFlags: every flag fieldFlags names exists.
func TestFieldFlagsAreFlags(t *testing.T) {
	var usage strings.Builder
	if _, _, err := parseFlags([]string{"-h"}, &usage); err == nil {
		t.Fatal("-h parsed")
	}
	for field, names := range fieldFlags {
		for _, name := range strings.Split(names, ", ") {
			if !strings.Contains(usage.String(), "\n  "+name+" ") && !strings.Contains(usage.String(), "\n  "+name+"\n") {
				t.Errorf("field %s: no flag %s in node -h", field, name)
			}
		}
	}
}
