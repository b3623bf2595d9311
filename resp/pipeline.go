package resp

import (
	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/route"
)

// A connection's pipeline goes to the cluster as one command per run of
// commands of one group (all of it with one group, Config.Groups): the data
// commands (GET, SET, DEL, EXISTS, INCR, INCRBY, MGET, MSET) that the
// client sent before it waits for replies are queued as the sub-commands of
// one kv.OpMulti, which the log orders as a whole and every replica
// executes in one slot, in order, exactly once. The replies are then made
// from its results, in order. Any other command, or a reply of this
// server's own (a syntax error), first sends what is queued, so replies
// keep the order of their commands.

// maxPipelineBytes is the encoded size at which a queued pipeline is sent
// without waiting for the rest of the burst: large enough to carry a deep
// pipeline in one round trip, small enough to sit in a batch with others.
const maxPipelineBytes = 64 << 10

// reply kinds: how a queued command's results become its reply.
type replyKind uint8

const (
	replyGet   replyKind = iota // bulk or null
	replySet                    // +OK, or null when NX or XX did not hold
	replyCount                  // integer: how many results were OK (DEL, EXISTS)
	replyIncr                   // integer, or the not-an-integer error
	replyArray                  // array of bulk or null (MGET)
	replyOK                     // +OK (MSET)
)

// queued is one command waiting in the pipeline.
type queued struct {
	kind replyKind
	op   kv.Op // SET's op (put, put-nx, put-xx)
	subs int   // sub-commands it took
	slot int   // its first key's hash slot, for -MOVED
}

// enqueue adds a data command's sub-commands to the pipeline, sending the
// queue first if they would not fit, or belong to another group than the
// queued ones (Config.Groups: one group's log orders only its keys). Each
// cmds[i] is one sub-command. A command whose keys belong to several groups
// is refused with -CROSSSLOT.
func (c *conn) enqueue(q queued, cmds ...kv.Command) {
	g := 0
	if groups := c.s.cfg.Groups; groups > 1 {
		g = route.GroupOfSlot(q.slot, groups)
		for i := 1; i < len(cmds); i++ {
			if route.GroupOf(cmds[i].Key, groups) != g {
				c.errorReply("CROSSSLOT Keys in request don't hash to the same slot")
				return
			}
		}
	}
	size := 0
	for i := range cmds {
		size += kv.CommandSize(&cmds[i])
	}
	if c.multi.Len() > 0 && (c.multi.Len()+len(cmds) > kv.MaxMulti || c.multi.Size()+size > maxPipelineBytes || g != c.group) {
		c.sendQueued()
	}
	c.group = g
	for i := range cmds {
		c.multi.Add(&cmds[i]) // only data ops reach here, at most MaxArgs of them
	}
	q.subs = len(cmds)
	c.queue = append(c.queue, q)
}

// enqueueKeys queues one sub-command of op per key (DEL, EXISTS, MGET).
func (c *conn) enqueueKeys(q queued, op kv.Op, keys [][]byte) {
	c.subs = c.subs[:0]
	for _, k := range keys {
		c.subs = append(c.subs, kv.Command{Op: op, Key: k})
	}
	c.enqueue(q, c.subs...)
	clear(c.subs) // drop the keys, which alias the read buffer
}

// sendQueued sends the queued pipeline and appends its replies.
func (c *conn) sendQueued() {
	if len(c.queue) == 0 {
		return
	}
	defer func() {
		c.multi.Reset()
		c.queue = c.queue[:0]
	}()
	var (
		r    client.Result
		err  error
		many bool
	)
	if one, ok := c.multi.Single(); ok {
		r, err = c.sess.Do(c.cmdCtx(), one)
	} else {
		many = true
		r, err = c.sess.Do(c.cmdCtx(), c.multi.Command())
	}
	if err != nil {
		for _, q := range c.queue {
			c.failSlot(err, q.slot)
		}
		return
	}
	res := results{single: kv.Result{Status: r.Status, Value: r.Value}, many: many}
	if many {
		if r.Status != kv.StatusOK {
			for range c.queue {
				c.out = appendError(c.out, "ERR the cluster refused the pipeline: "+r.Status.String())
			}
			return
		}
		res.rest = r.Value
	}
	for _, q := range c.queue {
		c.replyTo(q, &res)
	}
}

// results hands out a sent pipeline's results one by one: the one Result
// of a command sent alone, or those an OpMulti's Value holds.
type results struct {
	single kv.Result
	many   bool
	rest   []byte
	bad    bool // the Value did not decode: every later result is an error
}

func (r *results) next() kv.Result {
	if !r.many {
		return r.single
	}
	if r.bad || len(r.rest) == 0 {
		r.bad = true
		return kv.Result{Status: kv.StatusBadRequest}
	}
	res, rest, err := kv.NextResult(r.rest)
	if err != nil {
		r.bad = true
		return kv.Result{Status: kv.StatusBadRequest}
	}
	r.rest = rest
	return res
}

// replyTo appends q's reply, taking its results from res.
func (c *conn) replyTo(q queued, res *results) {
	switch q.kind {
	case replyGet:
		c.appendValue(res.next())
	case replySet:
		switch r := res.next(); {
		case r.Status == kv.StatusOK:
			c.out = appendSimple(c.out, "OK")
		case q.op != kv.OpPut && (r.Status == kv.StatusCASFailed || r.Status == kv.StatusNotFound):
			c.out = appendNull(c.out, c.proto) // the NX or XX condition did not hold
		default:
			c.out = appendError(c.out, "ERR unexpected status "+r.Status.String())
		}
	case replyCount:
		var n int64
		for i := 0; i < q.subs; i++ {
			if res.next().Status == kv.StatusOK {
				n++
			}
		}
		c.out = appendInt(c.out, n)
	case replyIncr:
		r := res.next()
		v, ok := parseInt(r.Value)
		if r.Status != kv.StatusOK || !ok {
			c.out = appendError(c.out, errNotInt)
			return
		}
		c.out = appendInt(c.out, v)
	case replyArray:
		c.out = appendArray(c.out, q.subs)
		for i := 0; i < q.subs; i++ {
			c.appendValue(res.next())
		}
	case replyOK:
		failed := false
		for i := 0; i < q.subs; i++ {
			failed = failed || res.next().Status != kv.StatusOK
		}
		if failed {
			c.out = appendError(c.out, "ERR the cluster did not store every key")
			return
		}
		c.out = appendSimple(c.out, "OK")
	}
}

// appendValue appends a get's result: its value, or null if not found.
func (c *conn) appendValue(r kv.Result) {
	switch r.Status {
	case kv.StatusOK:
		c.out = appendBulk(c.out, r.Value)
	case kv.StatusNotFound:
		c.out = appendNull(c.out, c.proto)
	default:
		c.out = appendError(c.out, "ERR unexpected status "+r.Status.String())
	}
}
