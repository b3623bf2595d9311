package ledger

import (
	"fmt"
	"math"

	"github.com/mpaxos/mpaxos/engine"
)

// Code is the outcome of a command, the same on every replica.
type Code uint8

// The outcomes. Everything but CodeOK leaves the accounts unchanged.
const (
	CodeOK           Code = iota
	CodeNoAccount         // an account named does not exist
	CodeExists            // Open of an account that exists
	CodeInsufficient      // Transfer of more than the payer has
	CodeOverflow          // Deposit or Transfer would overflow a balance or the deposit total
	CodeSameAccount       // Transfer from an account to itself
	CodeStale             // a seq below the client's last one: it already moved on
	CodeBadCommand        // the entry does not decode (only a broken client or proposer sends one)
)

// codeNames is the one table of codes: String, ParseCode and the HTTP API's
// "result" field come from it.
var codeNames = [...]string{
	CodeOK:           "ok",
	CodeNoAccount:    "no_account",
	CodeExists:       "exists",
	CodeInsufficient: "insufficient_funds",
	CodeOverflow:     "overflow",
	CodeSameAccount:  "same_account",
	CodeStale:        "stale_seq",
	CodeBadCommand:   "bad_command",
}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// ParseCode is String's inverse.
func ParseCode(s string) (Code, error) {
	for i, n := range codeNames {
		if n == s {
			return Code(i), nil
		}
	}
	return 0, fmt.Errorf("ledger: unknown result %q", s)
}

// Result is what applying a command returns to its client.
type Result struct {
	Code Code
	// Balance is, after CodeOK, the account's balance after the command
	// (Transfer: the payer's).
	Balance int64
}

// Machine is the ledger's state: accounts and client sessions. It is not
// safe for concurrent use; the replica's event loop owns it.
type Machine struct {
	// accounts point at their balances, so that a command updates a
	// balance after a lookup by the entry's bytes (m[string(b)] copies
	// nothing), instead of storing a new key string.
	accounts map[string]*int64
	deposits int64 // every deposit ever made, in cents
	sessions map[uint64]session
	applied  engine.Slot
}

// NewMachine returns an empty ledger.
func NewMachine() *Machine {
	return &Machine{accounts: map[string]*int64{}, sessions: map[uint64]session{}}
}

// Applied returns the last slot applied (or restored from a snapshot).
func (m *Machine) Applied() engine.Slot { return m.applied }

// Apply runs the command in data, committed at slot, and returns its result.
// Slots must come in increasing order. A retried command (same client and
// seq as the client's last) returns the first execution's result and changes
// nothing.
func (m *Machine) Apply(slot engine.Slot, data []byte) Result {
	if slot <= m.applied {
		panic(fmt.Sprintf("ledger: apply slot %d after slot %d", slot, m.applied))
	}
	m.applied = slot
	var c view
	if err := c.decode(data); err != nil {
		return Result{Code: CodeBadCommand}
	}
	if r, done := m.sessionLookup(c.client, c.seq); done {
		return r
	}
	r := m.execute(&c)
	m.sessionRecord(c.client, c.seq, r)
	return r
}

// Skip marks slot applied without a command (a no-op entry).
func (m *Machine) Skip(slot engine.Slot) {
	if slot <= m.applied {
		panic(fmt.Sprintf("ledger: skip slot %d after slot %d", slot, m.applied))
	}
	m.applied = slot
}

func (m *Machine) execute(c *view) Result {
	from := m.accounts[string(c.from)]
	switch c.op {
	case OpOpen:
		if from != nil {
			return Result{Code: CodeExists}
		}
		m.accounts[string(c.from)] = new(int64)
		return Result{Code: CodeOK}
	case OpBalance:
		if from == nil {
			return Result{Code: CodeNoAccount}
		}
		return Result{Code: CodeOK, Balance: *from}
	case OpDeposit:
		if from == nil {
			return Result{Code: CodeNoAccount}
		}
		if *from > math.MaxInt64-c.amount || m.deposits > math.MaxInt64-c.amount {
			return Result{Code: CodeOverflow}
		}
		*from += c.amount
		m.deposits += c.amount
		return Result{Code: CodeOK, Balance: *from}
	case OpTransfer:
		to := m.accounts[string(c.to)]
		switch {
		case from == nil || to == nil:
			return Result{Code: CodeNoAccount}
		case from == to:
			return Result{Code: CodeSameAccount}
		case *from < c.amount:
			return Result{Code: CodeInsufficient}
		case *to > math.MaxInt64-c.amount:
			return Result{Code: CodeOverflow}
		}
		*from -= c.amount
		*to += c.amount
		return Result{Code: CodeOK, Balance: *from}
	}
	return Result{Code: CodeBadCommand} // decode let no other op through
}

// Balances returns a copy of every account's balance.
func (m *Machine) Balances() map[string]int64 {
	out := make(map[string]int64, len(m.accounts))
	for a, b := range m.accounts {
		out[a] = *b
	}
	return out
}

// Deposits returns the sum of every deposit ever made.
func (m *Machine) Deposits() int64 { return m.deposits }

// Check verifies the ledger's invariant: balances sum to the deposits and
// none is negative.
func (m *Machine) Check() error {
	var sum int64
	for a, b := range m.accounts {
		if *b < 0 {
			return fmt.Errorf("ledger: account %q has negative balance %d", a, *b)
		}
		sum += *b
	}
	if sum != m.deposits {
		return fmt.Errorf("ledger: balances sum to %d, deposits to %d", sum, m.deposits)
	}
	return nil
}
