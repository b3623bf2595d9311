package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/mpaxos/mpaxos/examples/ledger/replica"
)

func TestConfigFromFlags(t *testing.T) {
	good := []string{"-id", "2", "-peers", "1=127.0.0.1:7001,2=127.0.0.1:7002", "-http", "1=127.0.0.1:8001,2=127.0.0.1:8002", "-dir", "/tmp/x"}
	cfg, err := config(good, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ID != 2 || cfg.Peers[1] != "127.0.0.1:7001" || cfg.HTTP[2] != "127.0.0.1:8002" || cfg.Dir != "/tmp/x" {
		t.Fatalf("config %+v", cfg)
	}
	tests := []struct {
		args []string
		want string // in the error
	}{
		{[]string{"-bogus"}, "flag provided but not defined"},
		{append(good[2:], "-id", "0"), "ID must be set"},
		{append(good, "-id", "70000"), "-id 70000"},
		{[]string{"-id", "1", "-peers", "1=a:1,x=b:2", "-http", "1=c:3"}, `-peers: "x=b:2"`},
		{[]string{"-id", "3", "-peers", "1=a:1", "-http", "1=c:3", "-dir", "d"}, "no address for this replica (3)"},
		{[]string{"-id", "1", "-peers", "1=a:1,2=b:2", "-http", "1=c:3", "-dir", "d"}, "HTTP has no address for replica 2"},
		{append(good, "-snapshot-every", "0"), "SnapshotEvery"},
		{append(good, "extra"), `unexpected argument "extra"`},
		{append(good, "-max-peer-frame", "1000"), "MaxPeerFrame 1000"},
		{append(good, "-max-clients", "0"), "MaxClients 0"},
	}
	for _, tt := range tests {
		_, err := config(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want it to say %q", tt.args, err, tt.want)
		}
	}
	if _, err := config([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// TestValidateReportsEverything: one call names every problem.
func TestValidateReportsEverything(t *testing.T) {
	cfg := replica.DefaultConfig()
	cfg.Tick, cfg.RequestTimeout = 0, 0
	err := cfg.Validate()
	for _, want := range []string{"ID must be set", "Dir must be set", "Tick", "RequestTimeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v does not say %q", err, want)
		}
	}
	if !errors.Is(err, replica.ErrConfig) {
		t.Errorf("err %v is not ErrConfig", err)
	}
}
