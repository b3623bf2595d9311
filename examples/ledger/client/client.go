// Package client is the ledger's Go client: typed calls over the mpaxos
// client library (package client at the module root), which numbers each
// session's commands, sends each to its group's leader, follows redirects
// and retries with the same seq, so a retried transfer runs once.
package client

import (
	"context"
	"fmt"

	mpclient "github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
	"github.com/mpaxos/mpaxos/kv"
)

// Client is a connection pool to the ledger's nodes (their client ports).
type Client struct{ c *mpclient.Client }

// Dial returns a Client for the nodes at addrs (host:port of each node's
// client port), with the library's defaults.
func Dial(addrs []string) (*Client, error) {
	c, err := mpclient.Dial(addrs, mpclient.DefaultConfig())
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// Close closes every connection.
func (c *Client) Close() error { return c.c.Close() }

// Session is one client session (a random id, commands numbered 1, 2, 3,
// ...): one call at a time.
type Session struct{ s *mpclient.Session }

// Session starts a new session.
func (c *Client) Session() *Session { return &Session{s: c.c.Session()} }

// Do runs cmd until a node executes it or ctx ends. A nil error means it
// executed, and the Result says how it came out (ok, no_account, ...).
// After an error it may or may not have executed: retrying it is safe only
// through Retry, which resends the same seq.
func (s *Session) Do(ctx context.Context, cmd ledger.Command) (ledger.Result, error) {
	if err := cmd.Validate(); err != nil {
		return ledger.Result{}, err
	}
	r, err := s.s.Do(ctx, cmd.KV())
	if err != nil {
		return ledger.Result{}, err
	}
	if r.Status != kv.StatusOK { // the ledger answers every command it runs with ok
		return ledger.Result{}, fmt.Errorf("ledger client: %v", r.Status)
	}
	return ledger.DecodeResult(r.Value)
}

// Open opens account.
func (s *Session) Open(ctx context.Context, account string) (ledger.Result, error) {
	return s.Do(ctx, ledger.Command{Op: ledger.OpOpen, From: account})
}

// Deposit adds cents to account.
func (s *Session) Deposit(ctx context.Context, account string, cents int64) (ledger.Result, error) {
	return s.Do(ctx, ledger.Command{Op: ledger.OpDeposit, From: account, Amount: cents})
}

// Transfer moves cents from one account to another.
func (s *Session) Transfer(ctx context.Context, from, to string, cents int64) (ledger.Result, error) {
	return s.Do(ctx, ledger.Command{Op: ledger.OpTransfer, From: from, To: to, Amount: cents})
}

// Balance reads account's balance: a linearizable read (read index or
// lease, as the node is configured), not a log entry.
func (s *Session) Balance(ctx context.Context, account string) (ledger.Result, error) {
	return s.Do(ctx, ledger.Command{Op: ledger.OpBalance, From: account})
}
