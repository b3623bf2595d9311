package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/internal/testnet"
	"github.com/mpaxos/mpaxos/node"
)

// The end-to-end tests run real node processes (this package's binary,
// built once by TestMain) on loopback with real Pebble stores.

var nodeBinary string

func TestMain(m *testing.M) {
	reexec = false // run() in this process must not replace the test binary
	dir, err := os.MkdirTemp("", "mpaxos-node-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nodeBinary = filepath.Join(dir, "node")
	build := exec.Command("go", "build", "-o", nodeBinary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building node:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type testNode struct {
	id         int
	peerAddr   string
	clientAddr string
	adminAddr  string
	dataDir    string
	logPath    string
	cmd        *exec.Cmd
	exited     chan struct{}
}

type cluster struct {
	t     *testing.T
	nodes []*testNode
	extra []string
	token string // the nodes' admin token
}

// freePorts reserves n distinct loopback ports (testnet.FreePorts).
func freePorts(t *testing.T, n int) []int { return testnet.FreePorts(t, n) }

func startCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	ports := freePorts(t, 3*n)
	c := &cluster{t: t, extra: extra}
	base := t.TempDir()
	c.token = "cmd-node-test-admin-token"
	tokenFile := filepath.Join(base, "admin-token")
	if err := os.WriteFile(tokenFile, []byte(c.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.extra = append([]string{"-enable-fault-hook", "-admin-token-file", tokenFile}, extra...)
	for i := 0; i < n; i++ {
		c.nodes = append(c.nodes, &testNode{
			id:         i + 1,
			peerAddr:   fmt.Sprintf("127.0.0.1:%d", ports[3*i]),
			clientAddr: fmt.Sprintf("127.0.0.1:%d", ports[3*i+1]),
			adminAddr:  fmt.Sprintf("127.0.0.1:%d", ports[3*i+2]),
			dataDir:    filepath.Join(base, fmt.Sprintf("n%d", i+1)),
			logPath:    filepath.Join(base, fmt.Sprintf("n%d.log", i+1)),
		})
	}
	for _, nd := range c.nodes {
		c.start(nd)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			c.kill(nd)
		}
		if t.Failed() {
			for _, nd := range c.nodes {
				b, _ := os.ReadFile(nd.logPath)
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				if len(lines) > 40 {
					lines = lines[len(lines)-40:]
				}
				t.Logf("--- node %d log (tail) ---\n%s", nd.id, strings.Join(lines, "\n"))
			}
		}
	})
	return c
}

func (c *cluster) peersFlag() string {
	var parts []string
	for _, nd := range c.nodes {
		parts = append(parts, fmt.Sprintf("%d=%s", nd.id, nd.peerAddr))
	}
	return strings.Join(parts, ",")
}

func (c *cluster) start(nd *testNode) {
	c.t.Helper()
	args := []string{
		"-id", strconv.Itoa(nd.id), "-peers", c.peersFlag(),
		"-client-addr", nd.clientAddr, "-admin-addr", nd.adminAddr, "-data", nd.dataDir,
		"-tick", "5ms", "-heartbeat", "20ms", "-election-timeout", "150ms",
	}
	c.launch(nd, args)
}

// launch starts node nd with args and the cluster's extra flags, its
// output appended to its log.
func (c *cluster) launch(nd *testNode, args []string) {
	c.t.Helper()
	args = append(args, c.extra...)
	logf, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(nodeBinary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	logf.Close()
	nd.cmd = cmd
	nd.exited = make(chan struct{})
	go func(ch chan struct{}) { cmd.Wait(); close(ch) }(nd.exited)
}

// kill sends SIGKILL: no clean shutdown, unsynced state is lost.
func (c *cluster) kill(nd *testNode) {
	if nd.cmd == nil {
		return
	}
	nd.cmd.Process.Kill()
	<-nd.exited
	nd.cmd = nil
}

func (c *cluster) clientAddrs() []string {
	var a []string
	for _, nd := range c.nodes {
		a = append(a, nd.clientAddr)
	}
	return a
}

func (c *cluster) status(nd *testNode) (node.Status, error) {
	var st node.Status
	cl := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := cl.Get("http://" + nd.adminAddr + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// waitLeader waits until exactly one of the given nodes says it leads and
// the others that answer agree, and returns it.
func (c *cluster) waitLeader(among []*testNode, within time.Duration) *testNode {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var leader *testNode
		agree := true
		for _, nd := range among {
			st, err := c.status(nd)
			if err != nil {
				continue
			}
			if st.Role == "leader" {
				if leader != nil {
					agree = false
				}
				leader = nd
			}
		}
		if leader != nil && agree {
			return leader
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no single leader among %d nodes within %v", len(among), within)
	return nil
}

func (c *cluster) setFaults(nd *testNode, spec node.FaultSpec) {
	c.t.Helper()
	b, _ := json.Marshal(spec)
	req, err := http.NewRequest(http.MethodPost, "http://"+nd.adminAddr+"/faults", strings.NewReader(string(b)))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		c.t.Fatalf("POST /faults: %s", resp.Status)
	}
}

func (c *cluster) others(nd *testNode) []*testNode {
	var o []*testNode
	for _, x := range c.nodes {
		if x != nd {
			o = append(o, x)
		}
	}
	return o
}

func dial(t *testing.T, addrs ...string) *client.Client {
	t.Helper()
	cfg := client.DefaultConfig()
	cfg.Attempt = 300 * time.Millisecond
	cl, err := client.Dial(addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// acked records every write a client saw acknowledged, to read back later.
type acked struct {
	mu sync.Mutex
	kv map[string]string
}

func (a *acked) put(k, v string) {
	a.mu.Lock()
	a.kv[k] = v
	a.mu.Unlock()
}

// load runs writers until stop is closed; each writer owns its keys, so the
// last acknowledged value of a key is what must be read back.
func load(t *testing.T, cl *client.Client, writers int, a *acked, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := cl.Session()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("w%d-k%d", w, i%50)
				v := fmt.Sprintf("v%d", i)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				err := s.Put(ctx, []byte(k), []byte(v))
				cancel()
				if err == nil {
					a.put(k, v)
				}
			}
		}(w)
	}
	return &wg
}

func (a *acked) verify(t *testing.T, cl *client.Client) {
	t.Helper()
	s := cl.Session()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.kv) == 0 {
		t.Fatal("no write was acknowledged at all")
	}
	for k, v := range a.kv {
		got, ok, err := s.Get(ctxFor(t, 10*time.Second), []byte(k))
		if err != nil {
			t.Fatalf("reading back %s: %v", k, err)
		}
		if !ok || string(got) != v {
			t.Fatalf("acknowledged write lost: %s = %q, read %q (found=%v)", k, v, got, ok)
		}
	}
}
