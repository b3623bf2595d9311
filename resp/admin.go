package resp

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mpaxos/mpaxos/route"
)

// The commands about the connection and the server, answered by this node
// alone without the cluster's log.

// redisVersion is the Redis version the server presents to clients
// (HELLO, INFO): clients enable features by it, and 7.0 is the protocol
// level served (RESP3, HELLO, CLUSTER SLOTS with node ids). INFO's
// mpaxos_* fields say what the server really is.
const redisVersion = "7.0.0"

func cmdHello(c *conn, args [][]byte) {
	p := c.proto
	rest := args[1:]
	if len(rest) > 0 {
		v, ok := parseInt(rest[0])
		if !ok {
			c.out = appendError(c.out, "ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 && v != 3 {
			c.out = appendError(c.out, "NOPROTO unsupported protocol version")
			return
		}
		p = proto(v)
		rest = rest[1:]
	}
	name, named := "", false
	for len(rest) > 0 {
		switch {
		case eqFold(rest[0], "setname") && len(rest) >= 2:
			name, named = string(rest[1]), true
			rest = rest[2:]
		case eqFold(rest[0], "auth") && len(rest) >= 3:
			c.out = appendError(c.out, "ERR AUTH is not supported: this server has no users")
			return
		default:
			c.out = appendError(c.out, "ERR Syntax error in HELLO option '"+printable(rest[0])+"'")
			return
		}
	}
	if named {
		if !validName(name) {
			c.out = appendError(c.out, "ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		c.name = name
	}
	c.proto = p
	st := c.s.cfg.Status()
	role := "replica"
	if st.Role == "leader" {
		role = "master"
	}
	c.out = appendMap(c.out, 7, c.proto)
	c.out = appendBulkString(c.out, "server")
	c.out = appendBulkString(c.out, "redis")
	c.out = appendBulkString(c.out, "version")
	c.out = appendBulkString(c.out, redisVersion)
	c.out = appendBulkString(c.out, "proto")
	c.out = appendInt(c.out, int64(c.proto))
	c.out = appendBulkString(c.out, "id")
	c.out = appendInt(c.out, c.id)
	c.out = appendBulkString(c.out, "mode")
	c.out = appendBulkString(c.out, "cluster")
	c.out = appendBulkString(c.out, "role")
	c.out = appendBulkString(c.out, role)
	c.out = appendBulkString(c.out, "modules")
	c.out = appendArray(c.out, 0)
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func cmdClient(c *conn, args [][]byte) {
	sub := args[1]
	switch {
	case eqFold(sub, "setname") && len(args) == 3:
		if !validName(string(args[2])) {
			c.out = appendError(c.out, "ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		c.name = string(args[2])
		c.out = appendSimple(c.out, "OK")
	case eqFold(sub, "getname") && len(args) == 2:
		if c.name == "" {
			c.out = appendNull(c.out, c.proto)
			return
		}
		c.out = appendBulkString(c.out, c.name)
	case eqFold(sub, "id") && len(args) == 2:
		c.out = appendInt(c.out, c.id)
	case eqFold(sub, "setinfo") && len(args) == 4:
		// Client libraries announce their name and version (go-redis
		// does on every connection); nothing here uses them.
		c.out = appendSimple(c.out, "OK")
	default:
		c.out = appendError(c.out, "ERR unknown subcommand '"+printable(sub)+"'. Try CLIENT SETNAME, GETNAME, ID or SETINFO.")
	}
}

func cmdInfo(c *conn, _ [][]byte) {
	st := c.s.cfg.Status()
	role := "slave"
	if st.Role == "leader" {
		role = "master"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Server\r\nredis_version:%s\r\nredis_mode:cluster\r\nmpaxos:1\r\ntcp_port:%s\r\n", redisVersion, portOf(c.s.Addr().String()))
	fmt.Fprintf(&b, "\r\n# Clients\r\nconnected_clients:%d\r\nmpaxos_read_buffer_bytes:%d\r\n", c.s.Conns(), c.s.ReadBufferBytes())
	fmt.Fprintf(&b, "\r\n# Replication\r\nrole:%s\r\n", role)
	fmt.Fprintf(&b, "mpaxos_node:%d\r\nmpaxos_role:%s\r\nmpaxos_leader:%d\r\nmpaxos_leader_addr:%s\r\nmpaxos_commit:%d\r\nmpaxos_applied:%d\r\n",
		st.ID, st.Role, st.Leader, c.s.cfg.Addrs[st.Leader], st.Commit, st.Applied)
	b.WriteString("\r\n# Cluster\r\ncluster_enabled:1\r\n")
	c.out = appendBulkString(c.out, b.String())
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}

func cmdCommand(c *conn, args [][]byte) {
	if len(args) == 1 {
		c.out = appendArray(c.out, len(c.s.list))
		for _, d := range c.s.list {
			c.appendCommandInfo(d)
		}
		return
	}
	sub := args[1]
	switch {
	case eqFold(sub, "count") && len(args) == 2:
		c.out = appendInt(c.out, int64(len(c.s.list)))
	case eqFold(sub, "info"):
		c.out = appendArray(c.out, len(args)-2)
		for _, name := range args[2:] {
			if d := c.s.cmds[strings.ToLower(string(name))]; d != nil {
				c.appendCommandInfo(d)
			} else {
				c.out = appendNull(c.out, c.proto)
			}
		}
	case eqFold(sub, "docs"):
		// redis-cli asks for the documentation to show hints; none is
		// kept here, and an empty answer is valid.
		c.out = appendMap(c.out, 0, c.proto)
	default:
		c.out = appendError(c.out, "ERR unknown subcommand '"+printable(sub)+"'. Try COMMAND COUNT, INFO or DOCS.")
	}
}

// appendCommandInfo appends d as Redis 2.8-6.x's COMMAND shows a command:
// name, arity, flags, first key, last key, step (clients accept 6, 7 or
// 10 fields).
func (c *conn) appendCommandInfo(d *command) {
	c.out = appendArray(c.out, 6)
	c.out = appendBulkString(c.out, d.name)
	c.out = appendInt(c.out, int64(d.arity))
	c.out = appendArray(c.out, len(d.flags))
	for _, f := range d.flags {
		c.out = appendSimple(c.out, f)
	}
	c.out = appendInt(c.out, int64(d.firstKey))
	c.out = appendInt(c.out, int64(d.lastKey))
	c.out = appendInt(c.out, int64(d.step))
}

// nodeName is the 40-character id Redis Cluster gives a node.
func nodeName(id uint16) string { return fmt.Sprintf("%040x", id) }

// members returns the node ids with a known RESP address, the leader
// first, then the others in order.
func (c *conn) members(leader uint16) []uint16 {
	ids := make([]uint16, 0, len(c.s.cfg.Addrs))
	for id := range c.s.cfg.Addrs {
		if id != leader {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return append([]uint16{leader}, ids...)
}

// cmdCluster answers the cluster commands that cluster clients use to
// find where a slot lives: each group (Config.Groups) holds its range of
// slots (route.SlotRange), its leader as the primary, the other nodes as
// its replicas (which answer writes and log reads with -MOVED to the
// leader). With one group, one range holds all 16384 slots.
func cmdCluster(c *conn, args [][]byte) {
	sub := args[1]
	groups := c.s.cfg.Groups
	switch {
	case eqFold(sub, "keyslot") && len(args) == 3:
		c.out = appendInt(c.out, int64(route.KeySlot(args[2])))
		return
	case eqFold(sub, "myid") && len(args) == 2:
		c.out = appendBulkString(c.out, nodeName(c.s.cfg.ID))
		return
	case eqFold(sub, "info") && len(args) == 2:
		st := c.s.cfg.Status()
		state, ok := "ok", 0
		leaders := map[uint16]bool{}
		for g := range groups {
			if _, known := c.s.cfg.Addrs[st.leaderOf(g)]; known {
				first, last := route.SlotRange(g, groups)
				ok += last - first + 1
				leaders[st.leaderOf(g)] = true
			} else {
				state = "fail"
			}
		}
		c.out = appendBulkString(c.out, fmt.Sprintf("cluster_state:%s\r\ncluster_slots_assigned:%d\r\ncluster_slots_ok:%d\r\ncluster_known_nodes:%d\r\ncluster_size:%d\r\n",
			state, route.Slots, ok, len(c.s.cfg.Addrs), len(leaders)))
		return
	case (eqFold(sub, "slots") || eqFold(sub, "nodes") || eqFold(sub, "shards")) && len(args) == 2:
	default:
		c.out = appendError(c.out, "ERR unknown subcommand '"+printable(sub)+"'. Try CLUSTER SLOTS, SHARDS, NODES, INFO, MYID or KEYSLOT.")
		return
	}
	// Only groups whose leader is known are listed (Redis leaves out the
	// slots no node serves): a client sends a key of another group to any
	// node, and retries on the -CLUSTERDOWN it gets until that group has a
	// leader. With none known there is nothing to list.
	st := c.s.cfg.Status()
	var led []int
	for g := range groups {
		if _, ok := c.s.cfg.Addrs[st.leaderOf(g)]; ok {
			led = append(led, g)
		}
	}
	if len(led) == 0 {
		c.out = appendError(c.out, "CLUSTERDOWN no leader with a known RESP address (an election may be under way)")
		return
	}
	switch {
	case eqFold(sub, "slots"):
		c.out = appendArray(c.out, len(led))
		for _, g := range led {
			ids := c.members(st.leaderOf(g))
			first, last := route.SlotRange(g, groups)
			c.out = appendArray(c.out, 2+len(ids))
			c.out = appendInt(c.out, int64(first))
			c.out = appendInt(c.out, int64(last))
			for _, id := range ids {
				host, port := splitAddr(c.s.cfg.Addrs[id])
				c.out = appendArray(c.out, 3)
				c.out = appendBulkString(c.out, host)
				c.out = appendInt(c.out, int64(port))
				c.out = appendBulkString(c.out, nodeName(id))
			}
		}
	case eqFold(sub, "shards"):
		c.out = appendArray(c.out, len(led))
		for _, g := range led {
			c.appendShard(g, c.members(st.leaderOf(g)), st)
		}
	default:
		c.appendNodes(st, st.leaderOf(led[0]))
	}
}

// appendNodes answers CLUSTER NODES: a node that leads groups is a master
// of their slot ranges; one that leads none is a replica of first, the
// leader of the first group that has one (Redis has no node that is both;
// a cluster client routes by CLUSTER SLOTS or SHARDS, which say it per
// group).
func (c *conn) appendNodes(st Status, first uint16) {
	groups := c.s.cfg.Groups
	var b strings.Builder
	for _, id := range c.members(first) {
		slots := ""
		for g := range groups {
			if st.leaderOf(g) == id && id != 0 {
				first, last := route.SlotRange(g, groups)
				slots += " " + strconv.Itoa(first) + "-" + strconv.Itoa(last)
			}
		}
		flags, master := "master", "-"
		if slots == "" {
			flags, master = "slave", nodeName(first)
		}
		if id == c.s.cfg.ID {
			flags = "myself," + flags
		}
		// The cluster bus port (after '@') does not exist here: 0.
		fmt.Fprintf(&b, "%s %s@0 %s %s 0 0 1 connected%s\n", nodeName(id), c.s.cfg.Addrs[id], flags, master, slots)
	}
	c.out = appendBulkString(c.out, b.String())
}

// appendShard appends one shard of CLUSTER SHARDS (Redis 7): group g's
// slots, its leader (ids[0]) the master. A replica's replication offset is
// its applied slot where this node knows it (its own, group 0's with
// several groups too: Status has one), else 0, and its health "online":
// the front end does not track its peers' state.
func (c *conn) appendShard(g int, ids []uint16, st Status) {
	first, last := route.SlotRange(g, c.s.cfg.Groups)
	c.out = appendMap(c.out, 2, c.proto)
	c.out = appendBulkString(c.out, "slots")
	c.out = appendArray(c.out, 2)
	c.out = appendInt(c.out, int64(first))
	c.out = appendInt(c.out, int64(last))
	c.out = appendBulkString(c.out, "nodes")
	c.out = appendArray(c.out, len(ids))
	for i, id := range ids {
		host, port := splitAddr(c.s.cfg.Addrs[id])
		role, offset := "master", int64(0)
		if i > 0 {
			role = "replica"
		}
		if id == c.s.cfg.ID {
			offset = int64(st.Applied)
		}
		c.out = appendMap(c.out, 7, c.proto)
		for _, kv := range [...][2]string{{"id", nodeName(id)}, {"ip", host}, {"endpoint", host}, {"role", role}, {"health", "online"}} {
			c.out = appendBulkString(c.out, kv[0])
			c.out = appendBulkString(c.out, kv[1])
		}
		c.out = appendBulkString(c.out, "port")
		c.out = appendInt(c.out, int64(port))
		c.out = appendBulkString(c.out, "replication-offset")
		c.out = appendInt(c.out, offset)
	}
}

func splitAddr(a string) (string, int) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		return a, 0
	}
	p, _ := strconv.Atoi(a[i+1:])
	return strings.Trim(a[:i], "[]"), p
}
