package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/net/frame"
	"github.com/mpaxos/mpaxos/net/transport"
	"github.com/mpaxos/mpaxos/node"
)

func TestWriteReadBack(t *testing.T) {
	c := startCluster(t, 3)
	c.waitLeader(c.nodes, 10*time.Second)
	s := dial(t, c.clientAddrs()...).Session()
	ctx := ctxFor(t, 10*time.Second)
	if err := s.Put(ctx, []byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(ctx, []byte("k"))
	if err != nil || !ok || string(got) != "v1" {
		t.Fatalf("get = %q %v %v", got, ok, err)
	}
	if err := s.CAS(ctx, []byte("k"), []byte("nope"), []byte("v2")); !errors.Is(err, client.ErrCASFailed) {
		t.Fatalf("CAS with a wrong expectation: %v", err)
	}
	if err := s.CAS(ctx, []byte("k"), []byte("v1"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(ctx, []byte("k")); err != nil || ok {
		t.Fatalf("after delete: found=%v err=%v", ok, err)
	}
	// The followers persist on their event loops (node.handleReadies).
	for i := range 20 {
		if err := s.Put(ctx, []byte("k"), fmt.Appendf(nil, "v%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.nodes {
		var st node.Status
		getJSON(t, "http://"+n.adminAddr+"/status", &st)
		t.Logf("node %d (%s): %d writes, %d on the loop", st.ID, st.Role, st.Syncs, st.LoopWrites)
		if st.Role == "follower" && st.LoopWrites == 0 {
			t.Errorf("follower %d made none of its %d writes on its loop", st.ID, st.Syncs)
		}
	}
}

// TestKillLeaderUnderLoad kills the leader with SIGKILL while writers run,
// checks a new leader takes over and every acknowledged write survives,
// then restarts the old leader (after enough slots for snapshots and log
// truncation) and checks it catches up.
func TestKillLeaderUnderLoad(t *testing.T) {
	c := startCluster(t, 3, "-snapshot-every", "50")
	old := c.waitLeader(c.nodes, 10*time.Second)
	cl := dial(t, c.clientAddrs()...)
	a := &acked{kv: map[string]string{}}
	stop := make(chan struct{})
	wg := load(t, cl, 8, a, stop)
	time.Sleep(500 * time.Millisecond)
	c.kill(old)
	nl := c.waitLeader(c.others(old), 10*time.Second)
	// Keep writing under the new leader long enough to compact past what
	// the old leader holds, so it must catch up through a snapshot.
	before, _ := c.status(nl)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := c.status(nl)
		if err == nil && st.Commit > before.Commit+200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new leader %d did not make progress: %+v", nl.id, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	a.verify(t, cl)

	c.start(old)
	want, _ := c.status(nl)
	deadline = time.Now().Add(20 * time.Second)
	for {
		st, err := c.status(old)
		if err == nil && st.Applied >= want.Commit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted node %d did not catch up to slot %d: %+v %v", old.id, want.Commit, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(readLog(t, old.logPath), "snapshot installed") {
		t.Fatalf("restarted node %d caught up without a snapshot; the test meant to exercise compaction", old.id)
	}
	t.Logf("%d keys acknowledged and read back; node %d caught up to slot %d", len(a.kv), old.id, want.Commit)
}

// TestSnapshotByBytes turns the slot trigger off and sets a byte trigger
// of 4 KiB: some tens of 200-byte puts must make every node snapshot, and
// a node restarted afterwards must recover from its snapshot.
func TestSnapshotByBytes(t *testing.T) {
	c := startCluster(t, 3, "-snapshot-every", "0", "-snapshot-bytes", "4096")
	c.waitLeader(c.nodes, 10*time.Second)
	s := dial(t, c.clientAddrs()...).Session()
	val := bytes.Repeat([]byte("v"), 200)
	snapshotted := func() bool {
		for _, nd := range c.nodes {
			if !strings.Contains(readLog(t, nd.logPath), "snapshot taken") {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; !snapshotted(); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot on every node after %d puts of %d bytes with -snapshot-bytes 4096", i, len(val))
		}
		if err := s.Put(ctxFor(t, 5*time.Second), []byte(fmt.Sprintf("k%d", i)), val); err != nil {
			t.Fatal(err)
		}
	}
	nd := c.nodes[2]
	c.kill(nd)
	c.start(nd)
	recovered := regexp.MustCompile(`msg=recovered node=\d+ snapshot=[1-9]`)
	for !recovered.MatchString(readLog(t, nd.logPath)) {
		if time.Now().After(deadline) {
			t.Fatalf("restarted node %d did not recover from a snapshot:\n%s", nd.id, readLog(t, nd.logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPartitionedLeaderAcknowledgesNothing isolates the leader with the
// transport fault hook: the minority side must not acknowledge a write; the
// majority elects a leader and goes on; after healing all agree.
func TestPartitionedLeaderAcknowledgesNothing(t *testing.T) {
	c := startCluster(t, 3)
	old := c.waitLeader(c.nodes, 10*time.Second)
	var ids []uint16
	for _, o := range c.others(old) {
		ids = append(ids, uint16(o.id))
	}
	c.setFaults(old, node.FaultSpec{Isolate: ids})

	minority := dial(t, old.clientAddr).Session()
	if err := minority.Put(ctxFor(t, 1500*time.Millisecond), []byte("split"), []byte("minority")); err == nil {
		t.Fatal("an isolated leader acknowledged a write")
	}
	c.waitLeader(c.others(old), 10*time.Second)
	majority := dial(t, c.others(old)[0].clientAddr, c.others(old)[1].clientAddr).Session()
	if err := majority.Put(ctxFor(t, 10*time.Second), []byte("split"), []byte("majority")); err != nil {
		t.Fatalf("majority side: %v", err)
	}
	c.setFaults(old, node.FaultSpec{})
	s := dial(t, c.clientAddrs()...).Session()
	got, _, err := s.Get(ctxFor(t, 10*time.Second), []byte("split"))
	if err != nil || string(got) != "majority" {
		t.Fatalf("after heal: %q %v", got, err)
	}
}

// TestFiveNodesTwoDown keeps serving with two of five nodes killed.
func TestFiveNodesTwoDown(t *testing.T) {
	c := startCluster(t, 5)
	l := c.waitLeader(c.nodes, 10*time.Second)
	others := c.others(l)
	c.kill(l)
	c.kill(others[0])
	c.waitLeader(others[1:], 10*time.Second)
	cl := dial(t, c.clientAddrs()...)
	a := &acked{kv: map[string]string{}}
	stop := make(chan struct{})
	wg := load(t, cl, 4, a, stop)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	a.verify(t, cl)
}

// rawConn speaks the client protocol by hand, to send exactly the bytes a
// test wants (retries with a fixed seq, garbage).
type rawConn struct {
	conn *transport.Conn
	resp chan kv.Response
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	r := &rawConn{resp: make(chan kv.Response, 16)}
	cn, err := transport.Dial(addr, transport.DefaultConnConfig(), func(_ *transport.Conn, typ byte, body []byte) {
		if typ != kv.FrameResponse {
			return
		}
		if resp, err := kv.DecodeResponse(body); err == nil {
			resp.Value = append([]byte(nil), resp.Value...)
			r.resp <- resp
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cn.Close() })
	r.conn = cn
	return r
}

func (r *rawConn) do(t *testing.T, req kv.Request) kv.Response {
	t.Helper()
	buf := bytebufferpool.Get()
	buf.B = kv.AppendRequest(buf.B[:0], &req)
	if !r.conn.Send(kv.FrameRequest, buf) {
		t.Fatal("send failed")
	}
	select {
	case resp := <-r.resp:
		return resp
	case <-time.After(5 * time.Second):
		t.Fatal("no response")
	}
	return kv.Response{}
}

// TestRetryAppliesOnce resends a put with the same client id and seq after
// another client overwrote the key: the retry must get the stored reply and
// not execute again.
func TestRetryAppliesOnce(t *testing.T) {
	c := startCluster(t, 3)
	l := c.waitLeader(c.nodes, 10*time.Second)
	r := dialRaw(t, l.clientAddr)
	put := kv.Request{ReqID: 1, Cmd: kv.Command{ClientID: 77, Seq: 1, Op: kv.OpPut, Key: []byte("k"), Value: []byte("first")}}
	if resp := r.do(t, put); resp.Status != kv.StatusOK {
		t.Fatalf("put: %v", resp.Status)
	}
	other := dial(t, c.clientAddrs()...).Session()
	if err := other.Put(ctxFor(t, 5*time.Second), []byte("k"), []byte("second")); err != nil {
		t.Fatal(err)
	}
	put.ReqID = 2
	if resp := r.do(t, put); resp.Status != kv.StatusOK {
		t.Fatalf("retried put: %v", resp.Status)
	}
	got, _, err := other.Get(ctxFor(t, 5*time.Second), []byte("k"))
	if err != nil || string(got) != "second" {
		t.Fatalf("the retry executed again: k = %q (%v)", got, err)
	}
}

// TestBadInputClosesOnlyThatConnection sends garbage and an oversize length
// prefix to the client and peer ports of the leader; those connections are
// closed and the cluster keeps serving.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	c := startCluster(t, 3)
	l := c.waitLeader(c.nodes, 10*time.Second)
	s := dial(t, c.clientAddrs()...).Session()
	huge := frame.AppendHeader(nil, kv.FrameRequest, 1<<30)
	for _, addr := range []string{l.clientAddr, l.peerAddr} {
		for _, payload := range [][]byte{[]byte("GET / HTTP/1.1\r\n\r\n garbage garbage garbage"), huge, bytes.Repeat([]byte{0xff}, 64)} {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conn.Write(payload)
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 256)
			for {
				if _, err := conn.Read(buf); err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						t.Fatalf("%s kept a connection open after %q", addr, payload[:8])
					}
					break
				}
			}
			conn.Close()
		}
	}
	if err := s.Put(ctxFor(t, 10*time.Second), []byte("still"), []byte("serving")); err != nil {
		t.Fatalf("cluster stopped serving after bad input: %v", err)
	}
}

// TestWrongClusterRefused starts a node that claims another cluster id; the
// members refuse its handshake, so it never learns of a leader.
func TestWrongClusterRefused(t *testing.T) {
	c := startCluster(t, 3)
	c.waitLeader(c.nodes, 10*time.Second)
	intruder := c.nodes[2]
	c.kill(intruder)
	c.extra = []string{"-cluster-id", "99"}
	c.start(intruder)
	time.Sleep(time.Second)
	st, err := c.status(intruder)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != 0 || st.Role == "leader" {
		t.Fatalf("a node of another cluster joined: %+v", st)
	}
	b := readLog(t, c.nodes[0].logPath) + readLog(t, c.nodes[1].logPath)
	if !strings.Contains(b, "cluster") {
		t.Fatalf("no logged refusal naming the cluster id")
	}
}

func readLog(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBadFlags(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("0123456789abcdef0123"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{},
		{"-id", "1"},
		{"-id", "1", "-peers", "1=127.0.0.1:1", "-client-addr", "127.0.0.1:2"},
		{"-id", "4", "-peers", "1=127.0.0.1:1", "-client-addr", "127.0.0.1:2", "-data", "x"},
		{"-id", "1", "-peers", "1=127.0.0.1:1,1=127.0.0.1:3", "-client-addr", "127.0.0.1:2", "-data", "x"},
		{"-id", "1", "-peers", "1=127.0.0.1:1", "-client-addr", "127.0.0.1:2", "-data", "x", "-pipeline", "0"},
		{"-id", "1", "-peers", "1=127.0.0.1:1", "-client-addr", "127.0.0.1:2", "-data", "x", "-groups", "65"},
		{"-id", "1", "-peers", "1=127.0.0.1:1", "-client-addr", "127.0.0.1:2", "-data", "x", "-read-mode", "quorum"},
		{"-id", "1", "-peers", "1=127.0.0.1:1", "-client-addr", "127.0.0.1:2", "-data", "x", "-read-mode", "stale"},
		{"-id", "1", "-peers", "1=127.0.0.1:1", "-client-addr", "127.0.0.1:2", "-data", "x", "-max-clock-drift", "1"},
		{"-id", "1", "-peers", "1=127.0.0.1:1", "-client-addr", "127.0.0.1:2", "-data", "x", "-max-clock-drift", "x"},
		{"-nope"},
		// -join: instead of -peers, with -listen and the admin token.
		{"-id", "6", "-join", "127.0.0.1:9", "-peers", "1=127.0.0.1:1", "-listen", "127.0.0.1:3", "-client-addr", "127.0.0.1:2", "-data", "x"},
		{"-id", "6", "-join", "127.0.0.1:9", "-client-addr", "127.0.0.1:2", "-data", "x"},
		{"-id", "6", "-listen", "127.0.0.1:3", "-client-addr", "127.0.0.1:2", "-data", "x"},
		{"-id", "6", "-join", "127.0.0.1:9", "-listen", "127.0.0.1:3", "-client-addr", "127.0.0.1:2", "-data", "x"},
		{"-id", "6", "-join", "127.0.0.1:9,", "-listen", "127.0.0.1:3", "-client-addr", "127.0.0.1:2", "-data", "x", "-admin-token-file", tokenFile},
		{"-id", "6", "-join", "127.0.0.1:9", "-listen", "nohostport", "-client-addr", "127.0.0.1:2", "-data", "x", "-admin-token-file", tokenFile},
		// No member answers: one line, exit 1.
		{"-id", "6", "-join", "127.0.0.1:1", "-listen", "127.0.0.1:3", "-client-addr", "127.0.0.1:2", "-data", t.TempDir(), "-admin-token-file", tokenFile},
	} {
		var out bytes.Buffer
		if code := run(args, &out); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
		if lines := strings.Count(strings.TrimSpace(out.String()), "\n"); lines > 0 {
			t.Errorf("%v: want one line, got:\n%s", args, out.String())
		}
	}
	_ = fmt.Sprint()
}

// TestCleanShutdownAndRecovery stops every node with SIGTERM (exit 0), starts
// them again from their data directories and reads the data back.
func TestCleanShutdownAndRecovery(t *testing.T) {
	c := startCluster(t, 3)
	c.waitLeader(c.nodes, 10*time.Second)
	cl := dial(t, c.clientAddrs()...)
	s := cl.Session()
	for i := 0; i < 20; i++ {
		if err := s.Put(ctxFor(t, 5*time.Second), []byte(fmt.Sprintf("k%d", i)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for _, nd := range c.nodes {
		nd.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-nd.exited:
		case <-time.After(10 * time.Second):
			t.Fatalf("node %d ignored SIGTERM", nd.id)
		}
		if code := nd.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("node %d exited %d after SIGTERM", nd.id, code)
		}
		nd.cmd = nil
	}
	for _, nd := range c.nodes {
		c.start(nd)
	}
	c.waitLeader(c.nodes, 10*time.Second)
	s2 := dial(t, c.clientAddrs()...).Session()
	for i := 0; i < 20; i++ {
		v, ok, err := s2.Get(ctxFor(t, 5*time.Second), []byte(fmt.Sprintf("k%d", i)))
		if err != nil || !ok || string(v) != "v" {
			t.Fatalf("k%d after restart: %q %v %v", i, v, ok, err)
		}
	}
}

// TestFollowerReads: a follower redirects a get through the log to the
// leader; it serves an index or lease get itself (a follower read: it asks
// the leader for a read index), which sees the latest acknowledged write
// at once; and a stale get it serves from its own state.
func TestFollowerReads(t *testing.T) {
	c := startCluster(t, 3)
	l := c.waitLeader(c.nodes, 10*time.Second)
	if err := dial(t, c.clientAddrs()...).Session().Put(ctxFor(t, 5*time.Second), []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	f := c.others(l)[0]
	r := dialRaw(t, f.clientAddr)
	get := kv.Request{ReqID: 1, Read: kv.ReadLog, Cmd: kv.Command{ClientID: 5, Seq: 1, Op: kv.OpGet, Key: []byte("k")}}
	if resp := r.do(t, get); resp.Status != kv.StatusNotLeader || resp.Leader != uint16(l.id) {
		t.Fatalf("read through the log at a follower: status %v leader %d, want a redirect to %d", resp.Status, resp.Leader, l.id)
	}
	for i, mode := range []kv.ReadMode{kv.ReadIndex, kv.ReadLease, kv.ReadDefault} {
		get.ReqID, get.Read = uint64(10+i), mode
		if resp := r.do(t, get); resp.Status != kv.StatusOK || string(resp.Value) != "v" || resp.Node != uint16(f.id) {
			t.Fatalf("%v read at follower %d: status %v value %q from node %d, want ok \"v\" from the follower", mode, f.id, resp.Status, resp.Value, resp.Node)
		}
	}
	get.ReqID, get.Read = 2, kv.ReadStale
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := r.do(t, get)
		if resp.Status == kv.StatusOK && string(resp.Value) == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stale read never saw the write: %v %q", resp.Status, resp.Value)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	c := startCluster(t, 3)
	l := c.waitLeader(c.nodes, 10*time.Second)
	if err := dial(t, c.clientAddrs()...).Session().Put(ctxFor(t, 5*time.Second), []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + l.adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"mpaxos_is_leader 1", "mpaxos_commit_slot ", "mpaxos_peer_lag_slots{peer=", "mpaxos_syncs_total "} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b)
		}
	}
	resp2, err := http.Get("http://" + l.adminAddr + "/stages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	var rep node.StageReport
	if err := json.NewDecoder(resp2.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{node.StageBatchWait, node.StageLeaderSync, node.StageQuorumWait, node.StageApply} {
		if !strings.HasPrefix(rep.Stages[name], "HISTF") {
			t.Errorf("stage %s: %q", name, rep.Stages[name])
		}
		h, err := hdrhistogram.Decode([]byte(rep.Stages[name]))
		if err != nil || h.TotalCount() == 0 {
			t.Errorf("stage %s recorded nothing after a write (%v)", name, err)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestReplicasAgree: after a load, every node reports the same state hash
// at the same applied slot, and executed each session's commands in order
// and once.
func TestReplicasAgree(t *testing.T) {
	c := startCluster(t, 3, "-record-applied", "100000")
	c.waitLeader(c.nodes, 10*time.Second)
	cl := dial(t, c.clientAddrs()...)
	a := &acked{kv: map[string]string{}}
	stop := make(chan struct{})
	wg := load(t, cl, 8, a, stop)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var hs []node.HashReport
		for _, nd := range c.nodes {
			var h node.HashReport
			getJSON(t, "http://"+nd.adminAddr+"/hash", &h)
			hs = append(hs, h)
		}
		same := true
		for _, h := range hs[1:] {
			if h.Applied != hs[0].Applied {
				same = false
			} else if h.Hash != hs[0].Hash {
				t.Fatalf("replicas diverged at slot %d: %+v", h.Applied, hs)
			}
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas did not reach the same slot: %+v", hs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, nd := range c.nodes {
		var rep node.AppliedReport
		getJSON(t, "http://"+nd.adminAddr+"/applied", &rep)
		if rep.Total == 0 || int(rep.Total) != len(rep.Commands) {
			t.Fatalf("node %d: %d executed, %d recorded", nd.id, rep.Total, len(rep.Commands))
		}
		last := map[uint64]uint64{}
		for _, cmd := range rep.Commands {
			if cmd.Seq <= last[cmd.Client] {
				t.Fatalf("node %d executed client %x seq %d after seq %d", nd.id, cmd.Client, cmd.Seq, last[cmd.Client])
			}
			last[cmd.Client] = cmd.Seq
		}
	}
}
