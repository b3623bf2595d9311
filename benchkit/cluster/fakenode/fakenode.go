// Package fakenode is a test double for cmd/node: a process that accepts
// cmd/node's flags and serves the admin /status the launcher polls, and
// nothing else (no consensus, no client port). Tests run their own test
// binary as a fake node: TestMain calls Main when the environment variable
// Env is "node".
//
// Environment knobs (all optional):
//
//	FAKE_NODE_FAIL=N       node N exits at once as if its port were taken
//	FAKE_NODE_NO_LEADER=1  no node ever becomes leader
//	FAKE_NODE_PIDS=DIR     each node writes its pid to DIR/node<N>.pid
//	FAKE_NODE_NO_STAGES=1  no GET /stages (404)
//	FAKE_NODE_NO_SETTINGS=1 /status without the node's settings (an older node)
//
// GET /stages answers cumulative histograms that grow by 100 "queue" values
// of 50 µs, 100 "quorum_wait" values of 400 µs and (on the leader) 10
// batches of 16 commands at every request.
package fakenode

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/mpaxos/mpaxos/batch"
	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// Env is the environment variable that selects the fake node in TestMain.
const Env = "BENCHKIT_FAKE_NODE"

// Main runs the fake node with cmd/node's arguments until it is killed
// (SIGTERM's default action ends it).
func Main(args []string) {
	fs := flag.NewFlagSet("node", flag.ExitOnError)
	id := fs.Uint64("id", 0, "")
	fs.Uint64("cluster-id", 0, "")
	peers := fs.String("peers", "", "")
	client := fs.String("client-addr", "", "")
	admin := fs.String("admin-addr", "", "")
	data := fs.String("data", "", "")
	syncOn := fs.Bool("sync", true, "")
	// cmd/node's defaults, reported on /status as the real node does.
	bdef := batch.DefaultConfig()
	batchSize := fs.Int("batch-size", bdef.MaxCount, "")
	pipeline := fs.Int("pipeline", 64, "")
	batchBytes := fs.Int("batch-bytes", bdef.MaxBytes, "")
	batchDelay := fs.Duration("batch-delay", bdef.MaxDelay, "")
	null := fs.Bool("null", false, "")
	fs.Bool("enable-fault-hook", false, "")
	fs.String("admin-token-file", "", "")
	fs.Parse(args)
	if *id == 0 || *peers == "" || *client == "" || *data == "" || *admin == "" {
		fmt.Fprintln(os.Stderr, "fake node: missing flags")
		os.Exit(2)
	}
	if dir := os.Getenv("FAKE_NODE_PIDS"); dir != "" {
		// Written whole or not at all: the node may be killed at any moment.
		p := filepath.Join(dir, fmt.Sprintf("node%d.pid", *id))
		if os.WriteFile(p+".tmp", []byte(strconv.Itoa(os.Getpid())), 0o644) == nil {
			os.Rename(p+".tmp", p)
		}
	}
	if os.Getenv("FAKE_NODE_FAIL") == strconv.FormatUint(*id, 10) {
		fmt.Fprintln(os.Stderr, "listen tcp", *client+": bind: address already in use")
		os.Exit(1)
	}
	l, err := net.Listen("tcp", *admin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	role, leader := "follower", uint64(1)
	if *id == 1 {
		role = "leader"
	}
	if os.Getenv("FAKE_NODE_NO_LEADER") != "" {
		role, leader = "candidate", 0
	}
	var mu sync.Mutex
	queue, quorum, batches := hist.New(), hist.New(), hdr.New(1, 1<<20, 3)
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/status":
			st := adminapi.Status{ID: uint16(*id), Role: role, Leader: uint16(leader), Null: *null}
			if os.Getenv("FAKE_NODE_NO_SETTINGS") == "" {
				st.Settings = adminapi.Settings{Sync: *syncOn && !*null, BatchSize: *batchSize, BatchBytes: *batchBytes,
					BatchDelayNs: int64(*batchDelay), Batching: "adaptive", Pipeline: *pipeline, Groups: 1, ReadMode: "log"}
			}
			json.NewEncoder(w).Encode(st)
		case r.URL.Path == "/stages" && os.Getenv("FAKE_NODE_NO_STAGES") == "":
			mu.Lock()
			defer mu.Unlock()
			queue.RecordValues(50_000, 100)
			quorum.RecordValues(400_000, 100)
			rep := adminapi.StageReport{Node: uint16(*id), Stages: map[string]string{}}
			rep.Stages[results.StageQueue], _ = hist.Encode(queue)
			rep.Stages[results.StageQuorumWait], _ = hist.Encode(quorum)
			if role == "leader" {
				batches.RecordValues(16, 10)
				rep.BatchSizes, _ = hist.Encode(batches)
			}
			json.NewEncoder(w).Encode(rep)
		default:
			http.NotFound(w, r)
		}
	}))
}
