package client

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/kv"
)

// Session returns a new logical client with a random 64-bit id and a
// secret 64-bit token that makes the session its own (see doc.go). A
// Session runs one command at a time; use many Sessions for concurrency. A
// Session needs no closing: its slot goes back to the Client once it is
// garbage.
func (c *Client) Session() *Session {
	id := rand.Uint64()
	for id == 0 {
		id = rand.Uint64()
	}
	s := &Session{c: c, id: id, token: newToken(), sl: c.takeSlot(), read: c.cfg.ReadMode}
	runtime.AddCleanup(s, c.releaseSlot, s.sl)
	return s
}

// newToken draws a session token from the operating system's secure
// source: whoever can predict it can act in the session. math/rand/v2's
// generator is not meant to resist prediction.
func newToken() uint64 {
	var b [8]byte
	for {
		crand.Read(b[:]) // never fails (Go 1.24: it crashes the program instead)
		if t := binary.LittleEndian.Uint64(b[:]); t != 0 {
			return t
		}
	}
}

// Session is one logical client: an id, its token and the next sequence
// number.
type Session struct {
	c     *Client
	id    uint64
	token uint64 // never leaves the process but in this session's commands
	seq   uint64
	sl    *slot // where this session's answers arrive; the session's alone
	read  kv.ReadMode

	// Retries counts attempts beyond the first, over the session's life.
	Retries atomic.Uint64
}

// ID returns the session's client id.
func (s *Session) ID() uint64 { return s.id }

// Put sets key to value.
func (s *Session) Put(ctx context.Context, key, value []byte) error {
	r, err := s.Do(ctx, kv.Command{Op: kv.OpPut, Key: key, Value: value})
	if err != nil {
		return err
	}
	return expect(kv.OpPut, r.Status, kv.StatusOK)
}

// SetReadMode sets how this session's gets are served from now on (see
// Config.ReadMode; kv.ReadStale is not linearizable).
func (s *Session) SetReadMode(mode kv.ReadMode) { s.read = mode }

// ReadMode returns how this session's gets are served.
func (s *Session) ReadMode() kv.ReadMode { return s.read }

// Get reads key in the session's read mode (Config.ReadMode unless
// SetReadMode changed it): linearizably unless that is kv.ReadStale.
func (s *Session) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	return s.GetMode(ctx, key, s.read)
}

// GetMode reads key in read mode mode, whatever the session's: kv.ReadLog,
// kv.ReadIndex, kv.ReadLease and kv.ReadDefault (the node's choice) are
// linearizable, kv.ReadStale is not.
func (s *Session) GetMode(ctx context.Context, key []byte, mode kv.ReadMode) ([]byte, bool, error) {
	r, err := s.do(ctx, kv.Command{Op: kv.OpGet, Key: key}, mode)
	if err != nil {
		return nil, false, err
	}
	if err := expect(kv.OpGet, r.Status, kv.StatusOK, kv.StatusNotFound); err != nil {
		return nil, false, err
	}
	return r.Value, r.Status == kv.StatusOK, nil
}

// Delete removes key; deleting a missing key is not an error.
func (s *Session) Delete(ctx context.Context, key []byte) error {
	r, err := s.Do(ctx, kv.Command{Op: kv.OpDelete, Key: key})
	if err != nil {
		return err
	}
	return expect(kv.OpDelete, r.Status, kv.StatusOK, kv.StatusNotFound)
}

// CAS sets key to value if it exists and holds expect; ErrCASFailed if it
// holds another value or does not exist (nothing changed either way).
func (s *Session) CAS(ctx context.Context, key, expect, value []byte) error {
	r, err := s.Do(ctx, kv.Command{Op: kv.OpCAS, Key: key, Expect: expect, Value: value})
	if err != nil {
		return err
	}
	switch r.Status {
	case kv.StatusOK:
		return nil
	case kv.StatusCASFailed, kv.StatusNotFound:
		return ErrCASFailed
	}
	return unexpected(kv.OpCAS, r.Status)
}

// expect returns nil if st is one of the statuses op may end with, an
// ErrUnexpected error otherwise: a status the caller does not check must
// never pass for success.
func expect(op kv.Op, st kv.Status, ok ...kv.Status) error {
	for _, o := range ok {
		if st == o {
			return nil
		}
	}
	return unexpected(op, st)
}

func unexpected(op kv.Op, st kv.Status) error {
	return fmt.Errorf("%w: %v answered %v", ErrUnexpected, op, st)
}

// Result is a command's outcome.
type Result struct {
	Status kv.Status
	Value  []byte
}

// Do runs one command (its ClientID, Token and Seq are filled in) until a
// server executes it or ctx ends. Every retry carries the same seq, so the
// command executes at most once however often it is sent.
//
// A nil error means the command executed (Result.Status says how it came
// out: ok, not-found, cas-failed). Answers that say it did not execute are
// errors: ErrStale, ErrNotOwner, a malformed request.
//
// Per attempt it allocates nothing and takes no lock of its own: the
// request id names the session's slot, an attempt's timeout is noticed by
// the Client's sweep instead of a timer per attempt, and ctx's end by a
// context.AfterFunc kept while the session's commands use the same ctx
// (see slot.watch). So the wait is a single channel receive.
//
// A get is served in the session's read mode (SetReadMode).
func (s *Session) Do(ctx context.Context, cmd kv.Command) (Result, error) {
	return s.do(ctx, cmd, s.read)
}

// do is Do with the read mode of a get.
func (s *Session) do(ctx context.Context, cmd kv.Command, read kv.ReadMode) (Result, error) {
	if cmd.Op != kv.OpGet {
		read = kv.ReadDefault
	}
	s.seq++
	cmd.ClientID, cmd.Token, cmd.Seq = s.id, s.token, s.seq
	c := s.c
	sl := s.sl
	ctxDone := sl.watch(ctx)
	sawServer := false
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			s.Retries.Add(1)
		}
		if err := ctx.Err(); err != nil {
			return Result{}, s.giveUp(sawServer)
		}
		lp := c.leaderOf(cmd.RouteKey())
		i := int(lp.Load())
		cn, err := c.conn(i)
		if errors.Is(err, ErrClosed) {
			return Result{}, err
		}
		if err != nil {
			lp.CompareAndSwap(int32(i), int32((i+1)%len(c.addrs)))
			if !s.pause(ctx, c.cfg.Backoff) {
				return Result{}, s.giveUp(sawServer)
			}
			continue
		}
		reqID := sl.nextReqID()
		req := kv.Request{ReqID: reqID, Read: read, Cmd: cmd}
		out := bytebufferpool.Get()
		out.B = kv.AppendRequest(out.B[:0], &req)
		sl.want.Store(reqID)
		heard := c.heard[i].Load()
		// The only request in flight on this Client has nothing to wait
		// for in the connection's queue: it is written by this goroutine,
		// without waking the connection's writer. Under load requests
		// queue, and one writev carries many.
		var sent bool
		if c.outstanding.Add(1) == 1 {
			sent = cn.SendInline(kv.FrameRequest, out)
		} else {
			sent = cn.Send(kv.FrameRequest, out)
		}
		if !sent {
			c.outstanding.Add(-1)
			sl.want.CompareAndSwap(reqID, 0)
			lp.CompareAndSwap(int32(i), int32((i+1)%len(c.addrs)))
			continue
		}
		r, ok := sl.wait(ctx, ctxDone, reqID)
		c.outstanding.Add(-1)
		if !ok {
			// If the answer's reader claimed want first, its answer
			// lands in done and a later wait drops it as stale.
			sl.want.CompareAndSwap(reqID, 0)
			if ctx.Err() == nil && c.heard[i].Load() == heard {
				c.dropSilent(i, cn)
			}
			// No answer in time: this server may be dead or cut off.
			lp.CompareAndSwap(int32(i), int32((i+1)%len(c.addrs)))
			continue
		}
		if r.err != nil {
			return Result{}, r.err
		}
		sawServer = true
		switch r.status {
		case kv.StatusNotLeader, kv.StatusRetry, kv.StatusRemoved:
			if r.status == kv.StatusNotLeader {
				lp = c.learn(r.value, lp)
			}
			if c.cfg.NoRedirect && r.status == kv.StatusNotLeader && r.leader != 0 {
				return Result{Status: r.status}, notLeaderError{leader: r.leader}
			}
			if c.cfg.NoRedirect && r.status == kv.StatusRemoved {
				return Result{Status: r.status}, fmt.Errorf("%w (%s; leader hint %d)", ErrRemoved, c.addrs[i], r.leader)
			}
			if j, ok := c.addrOf(r.leader); ok && j != i {
				lp.CompareAndSwap(int32(i), int32(j))
				continue
			}
			lp.CompareAndSwap(int32(i), int32((i+1)%len(c.addrs)))
			if !s.pause(ctx, c.cfg.Backoff) {
				return Result{}, s.giveUp(sawServer)
			}
		case kv.StatusBadRequest:
			return Result{Status: r.status}, fmt.Errorf("client: server rejected the request as malformed")
		case kv.StatusStale:
			// The session already applied a later seq, which this Session
			// never sent: the command did not execute.
			return Result{Status: r.status}, fmt.Errorf("%w: session %#x seq %d", ErrStale, s.id, cmd.Seq)
		case kv.StatusNotOwner:
			return Result{Status: r.status}, fmt.Errorf("%w: session %#x seq %d", ErrNotOwner, s.id, cmd.Seq)
		case kv.StatusNoSpace:
			return Result{Status: r.status}, ErrNoSpace
		default:
			return Result{Status: r.status, Value: r.value}, nil
		}
	}
}

func (s *Session) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Session) giveUp(sawServer bool) error {
	if sawServer {
		return ErrNoQuorum
	}
	return ErrTimeout
}
