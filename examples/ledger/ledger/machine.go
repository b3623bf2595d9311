package ledger

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mpaxos/mpaxos/route"
	"github.com/mpaxos/mpaxos/sm"
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
	CodeBadCommand        // the entry does not decode (only a broken client or proposer sends one)
)

// codeNames is the one table of codes: String and ParseCode come from it.
var codeNames = [...]string{
	CodeOK:           "ok",
	CodeNoAccount:    "no_account",
	CodeExists:       "exists",
	CodeInsufficient: "insufficient_funds",
	CodeOverflow:     "overflow",
	CodeSameAccount:  "same_account",
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

// Result is what applying a command returns to its client. It travels in
// sm.Result's Value (StatusOK): | code u8 | balance i64 BE |.
type Result struct {
	Code Code
	// Balance is, after CodeOK, the account's balance after the command
	// (Transfer: the payer's).
	Balance int64
}

// resultLen is the size of an encoded Result.
const resultLen = 9

func (r Result) appendTo(dst []byte) []byte {
	return binary.BigEndian.AppendUint64(append(dst, byte(r.Code)), uint64(r.Balance))
}

// DecodeResult decodes a Result from an sm.Result's Value.
func DecodeResult(v []byte) (Result, error) {
	if len(v) != resultLen || int(v[0]) >= len(codeNames) {
		return Result{}, fmt.Errorf("ledger: bad result %x", v)
	}
	return Result{Code: Code(v[0]), Balance: int64(binary.BigEndian.Uint64(v[1:]))}, nil
}

// Machine is the ledger's state: accounts and the deposit total. It is an
// sm.Machine: the node runtime applies the log to it, one Machine per group,
// and keeps the client sessions (exactly once) in front of it. It is not
// safe for concurrent use; the runtime's apply loop owns it.
type Machine struct {
	// accounts point at their balances, so that a command updates a
	// balance after a lookup by the entry's bytes (m[string(b)] copies
	// nothing), instead of storing a new key string.
	accounts map[string]*int64
	deposits int64 // every deposit ever made, in cents
}

// NewMachine returns an empty ledger.
func NewMachine() *Machine { return &Machine{accounts: map[string]*int64{}} }

// Type is the ledger's sm.Type, for node.Config.Machine.
func Type() sm.Type {
	return sm.Type{
		Name:  "ledger",
		New:   func(int) (sm.Machine, error) { return NewMachine(), nil },
		Check: Check,
	}
}

// Check is the Type's Check: the command must decode; a balance is
// read-only; a transfer between accounts of two groups is cross-group,
// which the runtime refuses (name accounts with a common {tag}, as Redis
// Cluster does, to keep them in one group: package route).
func Check(cmd []byte, groups int) (sm.Info, error) {
	h, _, err := sm.DecodeHeader(cmd)
	if err != nil {
		return sm.Info{}, err
	}
	var v view
	if err := v.decode(cmd); err != nil {
		return sm.Info{}, err
	}
	return sm.Info{
		Header:     h,
		ReadOnly:   v.op == OpBalance,
		CrossGroup: v.op == OpTransfer && groups > 1 && route.GroupOf(v.from, groups) != route.GroupOf(v.to, groups),
	}, nil
}

// Apply runs the command cmd, committed at slot (sm.Machine). The
// runtime calls it once per command of a session, retries already
// filtered out. A command that does not decode yields StatusBadRequest.
func (m *Machine) Apply(_ uint64, cmd []byte) sm.Result {
	var c view
	if err := c.decode(cmd); err != nil {
		return sm.Result{Status: sm.StatusBadRequest}
	}
	// The Value is the session's stored reply: a fresh 9 bytes.
	return sm.Result{Status: sm.StatusOK, Value: m.execute(&c).appendTo(make([]byte, 0, resultLen))}
}

// Query answers a balance from the current state (sm.Machine), for reads
// by read index or lease; the answer is appended to dst.
func (m *Machine) Query(dst, cmd []byte) sm.Result {
	var c view
	if err := c.decode(cmd); err != nil || c.op != OpBalance {
		return sm.Result{Status: sm.StatusBadRequest}
	}
	return sm.Result{Status: sm.StatusOK, Value: m.execute(&c).appendTo(dst)}
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
