package main

import (
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// respCluster starts n nodes that each serve RESP, every node given every
// node's RESP address (-resp-addr 1=...,2=...), and returns the cluster
// and the RESP addresses by node index.
func respCluster(t *testing.T, n int) (*cluster, []string) {
	t.Helper()
	ports := freePorts(t, n)
	addrs := make([]string, n)
	parts := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", ports[i])
		parts[i] = fmt.Sprintf("%d=%s", i+1, addrs[i])
	}
	return startCluster(t, n, "-resp-addr", strings.Join(parts, ",")), addrs
}

func (c *cluster) respAddrOf(addrs []string, nd *testNode) string { return addrs[nd.id-1] }

func TestParseRESPAddr(t *testing.T) {
	for _, tt := range []struct {
		in, listen, err string
		n               int
	}{
		{"", "", "", 0},
		{"127.0.0.1:6379", "127.0.0.1:6379", "", 1},
		{"1=127.0.0.1:6381,2=127.0.0.1:6382", "127.0.0.1:6382", "", 2},
		{"1=127.0.0.1:6381,3=127.0.0.1:6383", "", "no address for this node (-id 2)", 0},
		{"1=a:1,1=b:2,2=c:3", "", "id 1 listed twice", 0},
		{"x=a:1,2=b:2", "", `"x=a:1" is not id=host:port`, 0},
	} {
		o, err := parseRESPAddr(tt.in, 2)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || o.Listen != tt.listen || len(o.Addrs) != tt.n {
			t.Errorf("%q: %+v %v", tt.in, o, err)
		}
	}
}

// go-redis, both protocols: a cluster client finds the leader through
// CLUSTER SLOTS and runs every command there; a plain client on a follower
// gets -MOVED naming the leader's RESP address.
func TestRESPGoRedis(t *testing.T) {
	c, addrs := respCluster(t, 3)
	leader := c.waitLeader(c.nodes, 10*time.Second)
	ctx := ctxFor(t, 30*time.Second)
	for _, protocol := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", protocol), func(t *testing.T) {
			cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Protocol: protocol, MaxRedirects: 8})
			defer cc.Close()
			p := fmt.Sprintf("p%d:", protocol)
			if err := cc.Set(ctx, p+"k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if v, err := cc.Get(ctx, p+"k").Result(); err != nil || v != "v" {
				t.Fatalf("GET: %q %v", v, err)
			}
			if _, err := cc.Get(ctx, p+"missing").Result(); !errors.Is(err, redis.Nil) {
				t.Fatalf("GET of a missing key: %v, want redis.Nil", err)
			}
			if err := cc.SetArgs(ctx, p+"k", "w", redis.SetArgs{Mode: "NX"}).Err(); !errors.Is(err, redis.Nil) {
				t.Fatalf("SET NX of an existing key: %v, want redis.Nil", err)
			}
			if err := cc.SetArgs(ctx, p+"new", "w", redis.SetArgs{Mode: "NX"}).Err(); err != nil {
				t.Fatalf("SET NX of a new key: %v", err)
			}
			if n, err := cc.IncrBy(ctx, p+"n", 5).Result(); err != nil || n != 5 {
				t.Fatalf("INCRBY: %d %v", n, err)
			}
			if err := cc.Set(ctx, p+"ttl", "v", time.Minute).Err(); err == nil || !strings.Contains(err.Error(), "not supported") {
				t.Fatalf("SET EX: %v, want a clear refusal", err)
			}
			// One group holds every slot, so multi-key commands need no hash tags.
			if err := cc.MSet(ctx, p+"a", "1", p+"b", "2").Err(); err != nil {
				t.Fatal(err)
			}
			if vs, err := cc.MGet(ctx, p+"a", p+"b", p+"missing").Result(); err != nil || fmt.Sprint(vs) != "[1 2 <nil>]" {
				t.Fatalf("MGET: %v %v", vs, err)
			}
			if n, err := cc.Del(ctx, p+"a", p+"b", p+"missing").Result(); err != nil || n != 2 {
				t.Fatalf("DEL: %d %v", n, err)
			}
			if n, err := cc.Exists(ctx, p+"a", p+"k").Result(); err != nil || n != 1 {
				t.Fatalf("EXISTS: %d %v", n, err)
			}
			if err := cc.Do(ctx, "FLUSHALL").Err(); err == nil || !strings.Contains(err.Error(), "unknown command") {
				t.Fatalf("FLUSHALL: %v", err)
			}
			shards, err := cc.ClusterShards(ctx).Result()
			if err != nil || len(shards) != 1 || len(shards[0].Slots) != 1 || shards[0].Slots[0].End != 16383 || len(shards[0].Nodes) != 3 {
				t.Fatalf("CLUSTER SHARDS: %+v %v", shards, err)
			}
			if n := shards[0].Nodes[0]; n.Role != "master" || fmt.Sprintf("%s:%d", n.IP, n.Port) != c.respAddrOf(addrs, leader) {
				t.Fatalf("CLUSTER SHARDS names %+v first, want the leader at %s", n, c.respAddrOf(addrs, leader))
			}
			// A pipeline goes to the cluster as one command; its replies
			// come back in order, each seeing the commands before it.
			cmds, err := cc.Pipelined(ctx, func(pp redis.Pipeliner) error {
				for i := 0; i < 50; i++ {
					pp.Set(ctx, p+"pk", strconv.Itoa(i), 0)
					pp.Incr(ctx, p+"pn")
					pp.Get(ctx, p+"pk")
				}
				return nil
			})
			if err != nil {
				t.Fatalf("pipeline: %v", err)
			}
			for i := 0; i < 50; i++ {
				if n, err := cmds[3*i+1].(*redis.IntCmd).Result(); err != nil || n != int64(i+1) {
					t.Fatalf("pipelined INCR %d: %d %v", i, n, err)
				}
				if v, err := cmds[3*i+2].(*redis.StringCmd).Result(); err != nil || v != strconv.Itoa(i) {
					t.Fatalf("pipelined GET %d: %q %v", i, v, err)
				}
			}
		})
	}
	for _, nd := range c.others(leader) {
		rc := redis.NewClient(&redis.Options{Addr: c.respAddrOf(addrs, nd), MaxRetries: -1})
		// A pipeline sent to a follower: every command in it is redirected,
		// each with its own key's slot.
		cmds, _ := rc.Pipelined(ctx, func(pp redis.Pipeliner) error {
			pp.Set(ctx, "foo", "bar", 0)
			pp.Get(ctx, "bar")
			return nil
		})
		for i, want := range []string{"MOVED 12182 ", "MOVED 5061 "} {
			if err := cmds[i].Err(); err == nil || err.Error() != want+c.respAddrOf(addrs, leader) {
				t.Errorf("pipelined command %d on follower %d: %v, want %q", i, nd.id, err, want+c.respAddrOf(addrs, leader))
			}
		}
		err := rc.Set(ctx, "foo", "bar", 0).Err()
		want := fmt.Sprintf("MOVED 12182 %s", c.respAddrOf(addrs, leader))
		if err == nil || err.Error() != want {
			t.Errorf("SET on follower %d: %v, want %q", nd.id, err, want)
		}
		info, err := rc.Info(ctx, "replication").Result()
		if err != nil || !strings.Contains(info, "role:slave") || !strings.Contains(info, fmt.Sprintf("mpaxos_leader:%d", leader.id)) {
			t.Errorf("INFO on follower %d: %v\n%s", nd.id, err, info)
		}
		rc.Close()
	}
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian's redis-tools; .ci/run installs it): skipping", name)
	}
	return p
}

// redis-cli -c follows a follower's -MOVED to the leader.
func TestRESPRedisCLIThroughFollower(t *testing.T) {
	cli := needTool(t, "redis-cli")
	c, addrs := respCluster(t, 3)
	leader := c.waitLeader(c.nodes, 10*time.Second)
	followers := c.others(leader)
	run := func(nd *testNode, args ...string) string {
		t.Helper()
		host, port, _ := strings.Cut(c.respAddrOf(addrs, nd), ":")
		out, err := exec.CommandContext(ctxFor(t, 20*time.Second), cli, append([]string{"-c", "-h", host, "-p", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run(followers[0], "SET", "greeting", "hello"); got != "OK" {
		t.Fatalf("SET through follower %d: %q", followers[0].id, got)
	}
	if got := run(followers[1], "GET", "greeting"); got != "hello" {
		t.Fatalf("GET through follower %d: %q", followers[1].id, got)
	}
	if got := run(followers[1], "INCRBY", "counter", "7"); got != "7" {
		t.Fatalf("INCRBY through follower %d: %q", followers[1].id, got)
	}
}

// benchReport is what redis-benchmark's plain output says of each test.
type benchReport struct {
	completed int
	rps       float64
}

var (
	benchTest      = regexp.MustCompile(`(?m)^====== (\S+) ======`)
	benchCompleted = regexp.MustCompile(`(?m)^\s*(\d+) requests completed in`)
	benchRPS       = regexp.MustCompile(`(?m)^\s*throughput summary: ([\d.]+) requests per second`)
)

// parseRedisBenchmark reads redis-benchmark's (non -q, non --csv) output:
// per test its name, how many requests completed, and the throughput.
func parseRedisBenchmark(out string) map[string]benchReport {
	// Progress lines end in CR alone, so a test's header follows one.
	out = strings.ReplaceAll(out, "\r", "\n")
	res := make(map[string]benchReport)
	idx := benchTest.FindAllStringSubmatchIndex(out, -1)
	for i, m := range idx {
		end := len(out)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		sec := out[m[1]:end]
		var r benchReport
		if c := benchCompleted.FindStringSubmatch(sec); c != nil {
			r.completed, _ = strconv.Atoi(c[1])
		}
		if c := benchRPS.FindStringSubmatch(sec); c != nil {
			r.rps, _ = strconv.ParseFloat(c[1], 64)
		}
		res[out[m[2]:m[3]]] = r
	}
	return res
}

// redis-benchmark -t set,get -n 100000 -c 50 -P 16 against the leader of
// 3 nodes, the command: every request answered, no error reply.
// With a connection's pipeline sent as one command it takes about a second.
func TestRESPRedisBenchmark(t *testing.T) {
	bench := needTool(t, "redis-benchmark")
	c, addrs := respCluster(t, 3)
	leader := c.waitLeader(c.nodes, 10*time.Second)
	host, port, _ := strings.Cut(c.respAddrOf(addrs, leader), ":")
	const n = 100000
	cmd := exec.CommandContext(ctxFor(t, 3*time.Minute), bench, "-h", host, "-p", port, "-t", "set,get", "-n", strconv.Itoa(n), "-c", "50", "-P", "16")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s\n%s", err, out, stderr.String())
	}
	// redis-benchmark prints every error reply it gets ("Error from
	// server: ..."), on stderr or stdout depending on the version.
	all := string(out) + stderr.String()
	if strings.Contains(all, "Error") || strings.Contains(all, "MOVED") {
		t.Fatalf("redis-benchmark saw errors:\n%s", all)
	}
	rep := parseRedisBenchmark(string(out))
	for _, name := range []string{"SET", "GET"} {
		r, ok := rep[name]
		if !ok || r.completed != n || r.rps <= 0 {
			t.Fatalf("%s: %+v (found %v), want %d requests completed\n%s", name, r, ok, n, out)
		}
		t.Logf("%s: %d requests, %.0f requests per second", name, r.completed, r.rps)
	}
	// The benchmark's SETs landed: its key holds a 3-byte value (-d 3,
	// the default; redis-benchmark 7 fills it with random letters).
	rc := redis.NewClient(&redis.Options{Addr: c.respAddrOf(addrs, leader)})
	defer rc.Close()
	if v, err := rc.Get(ctxFor(t, 10*time.Second), "key:__rand_int__").Result(); err != nil || len(v) != 3 {
		t.Fatalf("the benchmark's key: %q %v", v, err)
	}
}

func TestParseRedisBenchmark(t *testing.T) {
	out := " SET: rps=15936.3 (overall: 15873.0)\r====== SET ======\n  20000 requests completed in 1.02 seconds\n  50 parallel clients\n\nSummary:\n  throughput summary: 19607.84 requests per second\n" +
		"====== GET ======\n  19999 requests completed in 0.50 seconds\n  throughput summary: 40000.00 requests per second\n"
	got := parseRedisBenchmark(out)
	if got["SET"] != (benchReport{20000, 19607.84}) || got["GET"] != (benchReport{19999, 40000}) || len(got) != 2 {
		t.Fatalf("%+v", got)
	}
}

// Kill -9 the leader while go-redis cluster clients write through RESP;
// every SET that was acknowledged reads back afterwards.
func TestRESPKillLeader(t *testing.T) {
	c, addrs := respCluster(t, 3)
	leader := c.waitLeader(c.nodes, 10*time.Second)
	ctx := ctxFor(t, 60*time.Second)
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: addrs, MaxRedirects: 16, DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
	})
	defer cc.Close()

	var (
		mu    sync.Mutex
		acked = map[string]string{}
		fails atomic.Int64
		total atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k, v := fmt.Sprintf("w%d:%d", w, i), fmt.Sprintf("v%d.%d", w, i)
				total.Add(1)
				if err := cc.Set(ctx, k, v, 0).Err(); err != nil {
					fails.Add(1) // unknown outcome: not checked
					continue
				}
				mu.Lock()
				acked[k] = v
				mu.Unlock()
			}
		}(w)
	}
	ackedNow := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	// Await load before the kill, and progress after it; both bounded by ctx.
	waitAcked := func(n int) {
		for ackedNow() < n {
			if ctx.Err() != nil {
				t.Fatalf("only %d SETs acknowledged (waiting for %d; %d failed)", ackedNow(), n, fails.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAcked(200)
	c.kill(leader)
	before := ackedNow()
	newLeader := c.waitLeader(c.others(leader), 10*time.Second)
	waitAcked(before + 200)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d SETs, %d acknowledged, %d failed; leader %d killed, %d leads", total.Load(), len(acked), fails.Load(), leader.id, newLeader.id)
	for k, v := range acked {
		got, err := cc.Get(ctx, k).Result()
		if err != nil || got != v {
			t.Fatalf("acknowledged SET %s=%s reads back %q, %v", k, v, got, err)
		}
	}
}
