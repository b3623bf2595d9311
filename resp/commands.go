package resp

import (
	"errors"
	"strconv"
	"strings"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/route"
)

// command describes one Redis command: dispatch, the arity check and the
// COMMAND reply are all derived from this table.
type command struct {
	name string
	// arity is Redis's: n means exactly n arguments (the name included),
	// -n at least n.
	arity int
	flags []string
	// The positions of the first and last key and the step between keys
	// (0, 0, 0: no keys; a last of -1: through the end), as COMMAND
	// reports them to cluster clients, which route by the first key.
	firstKey, lastKey, step int
	run                     func(c *conn, args [][]byte)
	// pairs: the arguments after the name come in pairs (MSET).
	pairs bool
	// data: the command joins the connection's pipeline (pipeline.go);
	// any other first sends the pipeline, so replies stay in order.
	data bool
}

var commands = []*command{
	{name: "get", arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, run: cmdGet, data: true},
	{name: "set", arity: -3, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, run: cmdSet, data: true},
	{name: "del", arity: -2, flags: []string{"write"}, firstKey: 1, lastKey: -1, step: 1, run: cmdDel, data: true},
	{name: "exists", arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, run: cmdExists, data: true},
	{name: "incr", arity: 2, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, run: cmdIncr, data: true},
	{name: "incrby", arity: 3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, run: cmdIncr, data: true},
	{name: "mget", arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, run: cmdMGet, data: true},
	{name: "mset", arity: -3, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: -1, step: 2, run: cmdMSet, pairs: true, data: true},
	{name: "ping", arity: -1, flags: []string{"fast", "stale"}, run: cmdPing},
	{name: "echo", arity: 2, flags: []string{"fast", "stale"}, run: cmdEcho},
	{name: "hello", arity: -1, flags: []string{"noscript", "loading", "stale", "fast", "no_auth"}, run: cmdHello},
	{name: "client", arity: -2, flags: []string{"admin", "noscript", "loading", "stale"}, run: cmdClient},
	{name: "info", arity: -1, flags: []string{"loading", "stale"}, run: cmdInfo},
	{name: "select", arity: 2, flags: []string{"loading", "stale", "fast"}, run: cmdSelect},
	{name: "command", arity: -1, flags: []string{"loading", "stale"}, run: cmdCommand},
	{name: "cluster", arity: -2, flags: []string{"stale"}, run: cmdCluster},
	{name: "quit", arity: -1, flags: []string{"loading", "stale", "fast", "no_auth"}, run: cmdQuit},
}

func commandIndex() map[string]*command {
	m := make(map[string]*command, len(commands))
	for _, d := range commands {
		m[d.name] = d
	}
	return m
}

// exec runs one command and appends its reply.
func (c *conn) exec(args [][]byte) {
	name := args[0]
	var d *command
	if len(name) <= len(c.lower) {
		l := c.lower[:len(name)]
		for i, b := range name {
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			l[i] = b
		}
		d = c.s.cmds[string(l)] // no allocation: the compiler looks up without a string copy
	}
	if d == nil {
		c.errorReply("ERR unknown command '" + printable(name) + "'")
		return
	}
	if n := len(args); (d.arity > 0 && n != d.arity) || (d.arity < 0 && n < -d.arity) || (d.pairs && n%2 == 0) {
		c.errorReply("ERR wrong number of arguments for '" + d.name + "' command")
		return
	}
	if !d.data {
		c.sendQueued()
	}
	d.run(c, args)
}

// errorReply appends an error of this server's own, after the replies of
// the commands queued before it.
func (c *conn) errorReply(msg string) {
	c.sendQueued()
	c.out = appendError(c.out, msg)
}

// printable quotes an argument for an error message: at most 32 bytes, no
// CR or LF (which would end the error line) and nothing else unprintable.
func printable(b []byte) string {
	if len(b) > 32 {
		b = b[:32]
	}
	var sb strings.Builder
	for _, x := range b {
		if x < 0x20 || x >= 0x7f || x == '\'' {
			sb.WriteByte('?')
		} else {
			sb.WriteByte(x)
		}
	}
	return sb.String()
}

// failSlot appends the reply for a command the cluster did not complete;
// slot is its first key's, for a redirect.
func (c *conn) failSlot(err error, slot int) {
	switch {
	case errors.Is(err, client.ErrNotLeader):
		leader := client.LeaderOf(err)
		if a, ok := c.s.cfg.Addrs[leader]; ok {
			c.tmp = append(c.tmp[:0], "MOVED "...)
			c.tmp = strconv.AppendInt(c.tmp, int64(slot), 10)
			c.tmp = append(c.tmp, ' ')
			c.tmp = append(c.tmp, a...)
			c.out = append(append(append(c.out, '-'), c.tmp...), '\r', '\n')
			return
		}
		c.out = appendError(c.out, "CLUSTERDOWN node "+strconv.Itoa(int(leader))+" leads, and its RESP address is not configured here")
	case errors.Is(err, client.ErrTimeout):
		c.out = appendError(c.out, "ERR timed out waiting for the cluster; the command may or may not have executed")
	case errors.Is(err, client.ErrNoQuorum):
		c.out = appendError(c.out, "CLUSTERDOWN no quorum: no leader could commit; the command may or may not have executed")
	case errors.Is(err, client.ErrNoSpace):
		c.out = appendError(c.out, "ERR the leader is out of disk space and refuses writes; the command did not execute")
	case errors.Is(err, client.ErrClosed):
		c.out = appendError(c.out, "ERR server shutting down")
	default:
		c.out = appendError(c.out, "ERR "+oneLine(err.Error()))
	}
}

func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

func cmdGet(c *conn, args [][]byte) {
	c.enqueue(queued{kind: replyGet, slot: route.KeySlot(args[1])}, kv.Command{Op: kv.OpGet, Key: args[1]})
}

// errNoTTL answers the options that give a key an expiry: mpaxos keys
// have none, and a silently ignored EX would leave a key Redis would have
// dropped.
const errNoTTL = "ERR EX, PX, EXAT, PXAT and KEEPTTL are not supported: keys in mpaxos do not expire"

func cmdSet(c *conn, args [][]byte) {
	op := kv.OpPut
	for _, o := range args[3:] {
		switch {
		case eqFold(o, "nx") && op == kv.OpPut:
			op = kv.OpPutNX
		case eqFold(o, "xx") && op == kv.OpPut:
			op = kv.OpPutXX
		case eqFold(o, "ex"), eqFold(o, "px"), eqFold(o, "exat"), eqFold(o, "pxat"), eqFold(o, "keepttl"):
			c.errorReply(errNoTTL)
			return
		case eqFold(o, "get"):
			c.errorReply("ERR SET ... GET is not supported")
			return
		default:
			c.errorReply("ERR syntax error")
			return
		}
	}
	c.enqueue(queued{kind: replySet, op: op, slot: route.KeySlot(args[1])}, kv.Command{Op: op, Key: args[1], Value: args[2]})
}

// cmdDel deletes the keys in argument order, in the connection's
// pipeline: one OpMulti with the commands around it (pipeline.go).
func cmdDel(c *conn, args [][]byte) {
	c.enqueueKeys(queued{kind: replyCount, slot: route.KeySlot(args[1])}, kv.OpDelete, args[1:])
}

func cmdExists(c *conn, args [][]byte) {
	c.enqueueKeys(queued{kind: replyCount, slot: route.KeySlot(args[1])}, kv.OpGet, args[1:])
}

const errNotInt = "ERR value is not an integer or out of range"

func cmdIncr(c *conn, args [][]byte) {
	delta := int64(1)
	if len(args) == 3 {
		d, ok := parseInt(args[2])
		if !ok {
			c.errorReply(errNotInt)
			return
		}
		delta = d
	}
	c.enqueue(queued{kind: replyIncr, slot: route.KeySlot(args[1])}, kv.Command{Op: kv.OpIncr, Key: args[1], Delta: delta})
}

func cmdMGet(c *conn, args [][]byte) {
	c.enqueueKeys(queued{kind: replyArray, slot: route.KeySlot(args[1])}, kv.OpGet, args[1:])
}

func cmdMSet(c *conn, args [][]byte) {
	c.subs = c.subs[:0]
	for i := 1; i+1 < len(args); i += 2 {
		c.subs = append(c.subs, kv.Command{Op: kv.OpPut, Key: args[i], Value: args[i+1]})
	}
	c.enqueue(queued{kind: replyOK, slot: route.KeySlot(args[1])}, c.subs...)
	clear(c.subs)
}

func cmdPing(c *conn, args [][]byte) {
	switch len(args) {
	case 1:
		c.out = appendSimple(c.out, "PONG")
	case 2:
		c.out = appendBulk(c.out, args[1])
	default:
		c.out = appendError(c.out, "ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(c *conn, args [][]byte) { c.out = appendBulk(c.out, args[1]) }

func cmdSelect(c *conn, args [][]byte) {
	if string(args[1]) != "0" {
		c.out = appendError(c.out, "ERR DB index is out of range")
		return
	}
	c.out = appendSimple(c.out, "OK")
}

func cmdQuit(c *conn, _ [][]byte) {
	c.out = appendSimple(c.out, "OK")
	c.quit = true
}

func eqFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, x := range b {
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != lower[i] {
			return false
		}
	}
	return true
}

// parseInt parses a decimal int64 as Redis does (an optional '-', digits,
// nothing else), without converting b to a string.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, x := range b {
		if x < '0' || x > '9' {
			return 0, false
		}
		u = u*10 + uint64(x-'0')
	}
	switch {
	case neg && u <= 1<<63:
		return -int64(u), true // -(1<<63) wraps to itself: MinInt64
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}
