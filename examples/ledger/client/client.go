// Package client is the ledger's Go client: it numbers its commands, finds
// the leader from redirects, and retries a command (same client id and
// seq) until some replica answers it, which the ledger's session table
// turns into exactly-once execution.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/mpaxos/mpaxos/examples/ledger/api"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
)

// ErrRejected is returned for a call a replica refused as malformed (400):
// retrying it cannot help.
var ErrRejected = errors.New("client: request rejected")

// Client is one ledger session. It has one call outstanding at a time and
// is not safe for concurrent use: run one Client per goroutine.
type Client struct {
	id     uint64
	seq    uint64
	addrs  []string // every replica's host:port
	next   int      // the replica to try after a failure
	leader string   // where the last redirect or answer came from
	hc     *http.Client
	last   struct {
		op  ledger.Op
		req api.Request
	}
	// Attempts counts the HTTP requests made, retries and redirects
	// included.
	Attempts int
}

// New returns a client of the replicas at addrs (host:port of their client
// APIs) with a random id.
func New(addrs []string) *Client {
	c := &Client{
		id:    rand.Uint64() | 1, // never 0
		addrs: append([]string(nil), addrs...),
		next:  rand.IntN(len(addrs)),
		hc: &http.Client{
			Timeout: 5 * time.Second,
			// Redirects are followed here, so the client learns the leader.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	return c
}

// ID returns the client's session id.
func (c *Client) ID() uint64 { return c.id }

// Open opens account.
func (c *Client) Open(ctx context.Context, account string) (ledger.Result, error) {
	return c.do(ctx, ledger.OpOpen, api.Request{Account: account})
}

// Deposit adds amount cents to account.
func (c *Client) Deposit(ctx context.Context, account string, amount int64) (ledger.Result, error) {
	return c.do(ctx, ledger.OpDeposit, api.Request{Account: account, Amount: amount})
}

// Transfer moves amount cents from one account to another.
func (c *Client) Transfer(ctx context.Context, from, to string, amount int64) (ledger.Result, error) {
	return c.do(ctx, ledger.OpTransfer, api.Request{Account: from, To: to, Amount: amount})
}

// Balance reads account's balance through the log.
func (c *Client) Balance(ctx context.Context, account string) (ledger.Result, error) {
	return c.do(ctx, ledger.OpBalance, api.Request{Account: account})
}

// Resend sends the last command again, same seq, starting at replica
// addrs[at], as a client does whose answer was lost: the answer must be the
// first one's, and the command must not run twice.
func (c *Client) Resend(ctx context.Context, at int) (ledger.Result, error) {
	if c.seq == 0 {
		return ledger.Result{}, errors.New("client: nothing sent yet")
	}
	c.leader, c.next = "", at%len(c.addrs)
	return c.send(ctx, c.last.op, c.last.req)
}

func (c *Client) do(ctx context.Context, op ledger.Op, req api.Request) (ledger.Result, error) {
	c.seq++
	req.Client, req.Seq = c.id, c.seq
	c.last.op, c.last.req = op, req
	return c.send(ctx, op, req)
}

// send tries until a replica answers 200 or 400, or ctx ends.
func (c *Client) send(ctx context.Context, op ledger.Op, req api.Request) (ledger.Result, error) {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return ledger.Result{}, fmt.Errorf("client: %v seq %d not answered: %w", op, req.Seq, err)
		}
		addr := c.leader
		if addr == "" {
			addr = c.addrs[c.next]
		}
		status, resp, loc, err := c.post(ctx, addr, op, req)
		switch {
		case err != nil || status == http.StatusServiceUnavailable:
			// Down, no leader yet, or not committed in time: try the next
			// replica after a pause.
			c.leader, c.next = "", (c.next+1)%len(c.addrs)
			pause(ctx, attempt)
		case status == http.StatusTemporaryRedirect && loc != "":
			c.leader = loc
		case status == http.StatusOK:
			c.leader = addr
			return resp.ToResult()
		case status == http.StatusBadRequest:
			return ledger.Result{}, fmt.Errorf("%w: %s", ErrRejected, resp.Error)
		default:
			c.leader, c.next = "", (c.next+1)%len(c.addrs)
			pause(ctx, attempt)
		}
	}
}

func pause(ctx context.Context, attempt int) {
	d := time.Duration(min(attempt+1, 10)) * 20 * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (c *Client) post(ctx context.Context, addr string, op ledger.Op, req api.Request) (int, api.Response, string, error) {
	c.Attempts++
	var resp api.Response
	var hr *http.Request
	var err error
	if op == ledger.OpBalance {
		q := url.Values{"client": {strconv.FormatUint(req.Client, 10)}, "seq": {strconv.FormatUint(req.Seq, 10)}, "account": {req.Account}}
		hr, err = http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+api.Paths[op]+"?"+q.Encode(), nil)
	} else {
		body, _ := json.Marshal(req)
		hr, err = http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+api.Paths[op], bytes.NewReader(body))
	}
	if err != nil {
		return 0, resp, "", err
	}
	r, err := c.hc.Do(hr)
	if err != nil {
		return 0, resp, "", err
	}
	defer r.Body.Close()
	if err := json.NewDecoder(r.Body).Decode(&resp); err != nil {
		return r.StatusCode, resp, "", fmt.Errorf("client: answer of %s: %w", addr, err)
	}
	var loc string
	if u, err := url.Parse(r.Header.Get("Location")); err == nil {
		loc = u.Host
	}
	return r.StatusCode, resp, loc, nil
}
