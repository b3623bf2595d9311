package resp

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Each step sends one command and expects exactly these reply bytes; the
// steps share one connection, so state carries over.
func TestCommands(t *testing.T) {
	s := startServer(t, newFakeCluster(t), nil)
	c := dialRaw(t, s)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"ping", "hi"}, "$2\r\nhi\r\n"},
		{[]string{"ECHO", "a\r\nb"}, "$4\r\na\r\nb\r\n"},
		{[]string{"GET", "k"}, "$-1\r\n"},
		{[]string{"SET", "k", "v1"}, "+OK\r\n"},
		{[]string{"GET", "k"}, "$2\r\nv1\r\n"},
		{[]string{"SET", "k", "v2", "NX"}, "$-1\r\n"},
		{[]string{"GET", "k"}, "$2\r\nv1\r\n"},
		{[]string{"SET", "k", "v3", "xx"}, "+OK\r\n"},
		{[]string{"SET", "other", "v", "XX"}, "$-1\r\n"},
		{[]string{"SET", "n1", "v", "NX"}, "+OK\r\n"},
		{[]string{"SET", "k", "v", "NX", "XX"}, "-ERR syntax error\r\n"},
		{[]string{"SET", "k", "v", "EX", "10"}, "-" + errNoTTL + "\r\n"},
		{[]string{"SET", "k", "v", "px", "10"}, "-" + errNoTTL + "\r\n"},
		{[]string{"SET", "k", "v", "bogus"}, "-ERR syntax error\r\n"},
		{[]string{"SET", "k"}, "-ERR wrong number of arguments for 'set' command\r\n"},
		{[]string{"GET", "k"}, "$2\r\nv3\r\n"},
		{[]string{"EXISTS", "k", "nope", "k"}, ":2\r\n"},
		{[]string{"INCR", "n"}, ":1\r\n"},
		{[]string{"INCRBY", "n", "41"}, ":42\r\n"},
		{[]string{"INCRBY", "n", "-50"}, ":-8\r\n"},
		{[]string{"INCRBY", "n", "x"}, "-" + errNotInt + "\r\n"},
		{[]string{"INCR", "k"}, "-" + errNotInt + "\r\n"},
		{[]string{"GET", "n"}, "$2\r\n-8\r\n"},
		{[]string{"SET", "big", "9223372036854775807"}, "+OK\r\n"},
		{[]string{"INCR", "big"}, "-" + errNotInt + "\r\n"},
		{[]string{"MSET", "a", "1", "b", "2"}, "+OK\r\n"},
		{[]string{"MSET", "a", "1", "b"}, "-ERR wrong number of arguments for 'mset' command\r\n"},
		{[]string{"MGET", "a", "nope", "b"}, "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n"},
		{[]string{"DEL", "a", "b", "nope"}, ":2\r\n"},
		{[]string{"EXISTS", "a"}, ":0\r\n"},
		{[]string{"SELECT", "0"}, "+OK\r\n"},
		{[]string{"SELECT", "1"}, "-ERR DB index is out of range\r\n"},
		{[]string{"CLIENT", "SETNAME", "me"}, "+OK\r\n"},
		{[]string{"CLIENT", "GETNAME"}, "$2\r\nme\r\n"},
		{[]string{"CLIENT", "SETNAME", "a b"}, "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"},
		{[]string{"CLIENT", "KILL"}, "-ERR unknown subcommand 'KILL'. Try CLIENT SETNAME, GETNAME, ID or SETINFO.\r\n"},
		{[]string{"FLUSHALL"}, "-ERR unknown command 'FLUSHALL'\r\n"},
		{[]string{"a-name-longer-than-the-lookup-buffer"}, "-ERR unknown command 'a-name-longer-than-the-lookup-bu'\r\n"},
		{[]string{"CLUSTER", "KEYSLOT", "foo"}, ":12182\r\n"},
		{[]string{"CLUSTER", "SLOTS"}, "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:" + portOf(s.Addr().String()) + "\r\n$40\r\n" + nodeName(1) + "\r\n"},
		{[]string{"CLUSTER", "SHARDS"}, "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*14\r\n" +
			"$2\r\nid\r\n$40\r\n" + nodeName(1) + "\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n" +
			"$4\r\nrole\r\n$6\r\nmaster\r\n$6\r\nhealth\r\n$6\r\nonline\r\n$4\r\nport\r\n:" + portOf(s.Addr().String()) + "\r\n" +
			"$18\r\nreplication-offset\r\n:21\r\n"},
		{[]string{"COMMAND", "COUNT"}, fmt.Sprintf(":%d\r\n", len(commands))},
		{[]string{"COMMAND", "INFO", "get", "nope"}, "*2\r\n*6\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n$-1\r\n"},
		{[]string{"HELLO", "4"}, "-NOPROTO unsupported protocol version\r\n"},
		{[]string{"GET", "nope"}, "$-1\r\n"}, // still RESP2
		{[]string{"QUIT"}, "+OK\r\n"},
	}
	for _, st := range steps {
		c.send(cmd(st.args...))
		if got := c.reply(); got != st.want {
			t.Fatalf("%q: got %q, want %q", st.args, got, st.want)
		}
	}
	if !c.closed() {
		t.Fatal("QUIT left the connection open")
	}
}

// HELLO 3 switches the connection to RESP3: its reply is a map, and null
// is "_".
func TestHello3(t *testing.T) {
	s := startServer(t, newFakeCluster(t), nil)
	c := dialRaw(t, s)
	c.send(cmd("HELLO", "3", "SETNAME", "x"))
	got := c.reply()
	if !strings.HasPrefix(got, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n") || !strings.Contains(got, "$5\r\nproto\r\n:3\r\n") {
		t.Fatalf("HELLO 3: %q", got)
	}
	c.send(cmd("GET", "nope"))
	if got := c.reply(); got != "_\r\n" {
		t.Fatalf("RESP3 null: %q", got)
	}
	c.send(cmd("CLIENT", "GETNAME"))
	if got := c.reply(); got != "$1\r\nx\r\n" {
		t.Fatalf("HELLO SETNAME: %q", got)
	}
	c.send(cmd("HELLO", "2"))
	if got := c.reply(); !strings.HasPrefix(got, "*14\r\n") {
		t.Fatalf("HELLO 2: %q", got)
	}
}

// INFO reports the node's role, leader, commit and applied slots.
func TestInfo(t *testing.T) {
	fc := newFakeCluster(t)
	s := startServer(t, fc, nil)
	c := dialRaw(t, s)
	c.send(cmd("SET", "k", "v"))
	c.reply()
	c.send(cmd("INFO"))
	got := c.reply()
	for _, want := range []string{"role:master\r\n", "mpaxos_role:leader\r\n", "mpaxos_leader:1\r\n", "mpaxos_commit:1\r\n", "mpaxos_applied:1\r\n", "cluster_enabled:1\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("INFO lacks %q:\n%s", want, got)
		}
	}
}

// A pipeline of many commands in one write is answered in order, each
// command seeing the effect of those before it.
func TestPipelineInOrder(t *testing.T) {
	s := startServer(t, newFakeCluster(t), nil)
	c := dialRaw(t, s)
	const n = 2000
	var req []byte
	for i := 0; i < n; i++ {
		req = append(req, cmd("SET", "k", fmt.Sprint(i))...)
		req = append(req, cmd("INCR", "c")...)
		req = append(req, cmd("GET", "k")...)
	}
	go c.nc.Write(req) // the replies may fill the socket buffers before the requests are all sent
	for i := 0; i < n; i++ {
		if got := c.reply(); got != "+OK\r\n" {
			t.Fatalf("SET %d: %q", i, got)
		}
		if got, want := c.reply(), fmt.Sprintf(":%d\r\n", i+1); got != want {
			t.Fatalf("INCR %d: %q, want %q", i, got, want)
		}
		v := fmt.Sprint(i)
		if got, want := c.reply(), fmt.Sprintf("$%d\r\n%s\r\n", len(v), v); got != want {
			t.Fatalf("GET %d: %q, want %q", i, got, want)
		}
	}
}

// A burst of pipelined data commands goes to the cluster as one command
// (an OpMulti), and so into one slot; a command that is not data (PING),
// or an error of the server's own, sends what came before it first, so
// replies stay in order.
func TestPipelineIsOneCommand(t *testing.T) {
	fc := newFakeCluster(t)
	s := startServer(t, fc, nil)
	c := dialRaw(t, s)
	var req []byte
	var want []string
	for i := 0; i < 16; i++ {
		req = append(req, cmd("INCR", "n")...)
		want = append(want, fmt.Sprintf(":%d\r\n", i+1))
	}
	req = append(req, cmd("MSET", "a", "1", "b", "2")...)
	req = append(req, cmd("MGET", "a", "b", "c")...)
	req = append(req, cmd("PING")...)
	req = append(req, cmd("DEL", "a", "c")...)
	req = append(req, cmd("SET", "k", "v", "EX", "1")...)
	req = append(req, cmd("EXISTS", "a", "b")...)
	req = append(req, cmd("SET", "b", "3", "NX")...)
	req = append(req, cmd("GET", "b")...)
	want = append(want, "+OK\r\n", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n", "+PONG\r\n", ":1\r\n",
		"-"+errNoTTL+"\r\n", ":1\r\n", "$-1\r\n", "$1\r\n2\r\n")
	c.send(req)
	for i, w := range want {
		if got := c.reply(); got != w {
			t.Fatalf("reply %d: %q, want %q", i, got, w)
		}
	}
	// INCRs, MSET, MGET | PING | DEL | the error | EXISTS, SET NX, GET.
	if got := fc.dos.Load(); got != 3 {
		t.Errorf("the pipeline took %d commands to the cluster, want 3", got)
	}
}

// A pipeline the cluster does not complete answers every command in it
// with the error, in order, and the connection goes on.
func TestPipelineTimeout(t *testing.T) {
	fc := newFakeCluster(t)
	s := startServer(t, fc, func(c *Config) { c.CommandTimeout = 50 * time.Millisecond })
	hold := make(chan struct{})
	fc.mu.Lock()
	fc.hold = hold
	fc.mu.Unlock()
	c := dialRaw(t, s)
	c.send(append(append(cmd("SET", "k", "v"), cmd("GET", "k")...), cmd("INCR", "n")...))
	for i := 0; i < 3; i++ {
		if got := c.reply(); !strings.HasPrefix(got, "-ERR timed out") {
			t.Fatalf("reply %d of a held pipeline: %q", i, got)
		}
	}
	fc.mu.Lock()
	fc.hold = nil
	fc.mu.Unlock()
	close(hold)
	c.send(cmd("PING"))
	if got := c.reply(); got != "+PONG\r\n" {
		t.Fatalf("after a timeout: %q", got)
	}
}

// A command the cluster cannot complete in CommandTimeout is answered with
// an error saying its outcome is unknown, and the connection goes on.
func TestCommandTimeout(t *testing.T) {
	fc := newFakeCluster(t)
	s := startServer(t, fc, func(c *Config) { c.CommandTimeout = 50 * time.Millisecond })
	hold := make(chan struct{})
	fc.mu.Lock()
	fc.hold = hold
	fc.mu.Unlock()
	c := dialRaw(t, s)
	c.send(cmd("SET", "k", "v"))
	if got := c.reply(); !strings.HasPrefix(got, "-ERR timed out") || !strings.Contains(got, "may or may not have executed") {
		t.Fatalf("held SET: %q", got)
	}
	fc.mu.Lock()
	fc.hold = nil
	fc.mu.Unlock()
	close(hold)
	c.send(cmd("PING"))
	if got := c.reply(); got != "+PONG\r\n" {
		t.Fatalf("after a timeout: %q", got)
	}
}

// One connection over MaxConns is refused with Redis's error; the others
// keep working.
func TestMaxConns(t *testing.T) {
	s := startServer(t, newFakeCluster(t), func(c *Config) { c.MaxConns = 2 })
	a, b := dialRaw(t, s), dialRaw(t, s)
	for _, c := range []*rawConn{a, b} {
		c.send(cmd("PING"))
		if got := c.reply(); got != "+PONG\r\n" {
			t.Fatalf("PING: %q", got)
		}
	}
	x := dialRaw(t, s)
	if got := x.reply(); got != "-ERR max number of clients reached\r\n" || !x.closed() {
		t.Fatalf("third connection: %q", got)
	}
	a.send(cmd("PING"))
	if got := a.reply(); got != "+PONG\r\n" {
		t.Fatalf("PING after the refusal: %q", got)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConns, cfg.MaxRequest = 0, 10
	err := cfg.Validate()
	for _, want := range []string{"Addr", "ID", "NewSession", "Status", "MaxConns 0", "MaxRequest 10"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want a problem with %s", err, want)
		}
	}
}
