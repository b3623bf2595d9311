package ledger

// A command is sm's header (the runtime reads it: op, session, key) and a
// body only this package reads:
//
//	 sm header                                                       body
//	 +------+-------------+-------------+--------+-----------+------+-----------------+----------+----+
//	 |  op  | client u64  | token u64   | seq uv | len(acct) | acct | amount i64 BE   | len(to)  | to |
//	 +------+-------------+-------------+--------+-----------+------+-----------------+----------+----+
//	  (little-endian, uvarints: package sm)                            (8 bytes)        (1 byte)
//
// acct, the header's key, is the account of Open, Deposit and Balance and
// the payer of Transfer, so the runtime routes a command to the group of its
// account; to is empty except for Transfer. The length is exact: trailing
// bytes are an error, so one command has exactly one encoding. The ops start
// at kv.OpUser, so the client library (package client) sends them as they
// are: a kv.Command with this Op, Key the account and Value the body.

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/sm"
)

// Op names a command.
type Op uint8

// The commands.
const (
	OpOpen     = Op(kv.OpUser) + iota // open account From, balance 0
	OpDeposit                         // add Amount (> 0) to From
	OpTransfer                        // move Amount (> 0) from From to To
	OpBalance                         // read From's balance: read-only, so by read index or lease
)

// MaxAccountLen bounds an account name, in bytes.
const MaxAccountLen = 64

// MaxAmount bounds a deposit or transfer, in cents, so that no sum of a
// realistic number of them overflows int64 (a deposit that would is refused
// with CodeOverflow all the same).
const MaxAmount = 1 << 40

// ErrBadCommand is wrapped by every decoding and validation error.
var ErrBadCommand = errors.New("ledger: bad command")

// Command is one client command, without its session (the client library
// numbers commands; the runtime deduplicates them).
type Command struct {
	Op     Op
	Amount int64  // cents; Deposit and Transfer only
	From   string // the account (Transfer: the payer)
	To     string // Transfer's payee
}

// Validate reports why c cannot be sent, or nil.
func (c *Command) Validate() error { return check(c.Op, c.Amount, c.From, c.To) }

// KV returns c as the client library's carrier: Op, the account as Key and
// the body as Value (kv.OpUser).
func (c *Command) KV() kv.Command {
	body := binary.BigEndian.AppendUint64(make([]byte, 0, 9+len(c.To)), uint64(c.Amount))
	body = append(body, byte(len(c.To)))
	body = append(body, c.To...)
	return kv.Command{Op: kv.Op(c.Op), Key: []byte(c.From), Value: body}
}

// Encode returns c's whole encoding in session (client, token, seq): what
// the log holds. The tests use it; clients send KV through package client.
func (c *Command) Encode(client, token, seq uint64) []byte {
	k := c.KV()
	k.ClientID, k.Token, k.Seq = client, token, seq
	return kv.AppendCommand(nil, &k)
}

// check applies the rules to the fields (string or []byte names), so that
// Validate and the machine's zero-copy view agree.
func check[S string | []byte](op Op, amount int64, from, to S) error {
	var errs []error
	if op < OpOpen || op > OpBalance {
		errs = append(errs, fmt.Errorf("%w: unknown op %d", ErrBadCommand, op))
	}
	if len(from) == 0 || len(from) > MaxAccountLen {
		errs = append(errs, fmt.Errorf("%w: account %q: length must be 1..%d", ErrBadCommand, from, MaxAccountLen))
	}
	switch op {
	case OpDeposit, OpTransfer:
		if amount <= 0 || amount > MaxAmount {
			errs = append(errs, fmt.Errorf("%w: amount %d: must be 1..%d", ErrBadCommand, amount, int64(MaxAmount)))
		}
	default:
		if amount != 0 {
			errs = append(errs, fmt.Errorf("%w: amount %d on %v", ErrBadCommand, amount, op))
		}
	}
	if op == OpTransfer {
		if len(to) == 0 || len(to) > MaxAccountLen {
			errs = append(errs, fmt.Errorf("%w: account %q: length must be 1..%d", ErrBadCommand, to, MaxAccountLen))
		}
	} else if len(to) != 0 {
		errs = append(errs, fmt.Errorf("%w: payee %q on %v", ErrBadCommand, to, op))
	}
	return errors.Join(errs...)
}

// view is a decoded command whose names alias the entry's bytes: what
// Apply works on, so that applying a command copies nothing.
type view struct {
	op       Op
	amount   int64
	from, to []byte
}

func (v *view) decode(b []byte) error {
	h, body, err := sm.DecodeHeader(b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	if len(body) < 9 {
		return fmt.Errorf("%w: body of %d bytes, want at least 9", ErrBadCommand, len(body))
	}
	v.op, v.from = Op(h.Op), h.Key
	v.amount = int64(binary.BigEndian.Uint64(body))
	t := int(body[8])
	if len(body) != 9+t {
		return fmt.Errorf("%w: %d bytes after the payee's length, want %d", ErrBadCommand, len(body)-9, t)
	}
	v.to = body[9:]
	return check(v.op, v.amount, v.from, v.to)
}

// String names the op.
func (o Op) String() string {
	switch o {
	case OpOpen:
		return "open"
	case OpDeposit:
		return "deposit"
	case OpTransfer:
		return "transfer"
	case OpBalance:
		return "balance"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}
