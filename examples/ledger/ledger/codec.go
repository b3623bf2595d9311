package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A command is one Paxos log entry's Data, fixed layout, big-endian:
//
//	0      1            9            17           25        26       26+f  27+f    27+f+t
//	+------+------------+------------+------------+---------+--------+-----+-------+
//	|  op  | client u64 |  seq u64   | amount i64 | len(f)  | from   | len | to    |
//	+------+------------+------------+------------+---------+--------+-----+-------+
//
// from is the account of Open, Deposit and Balance and the payer of
// Transfer; to is empty except for Transfer. The length is exact: trailing
// bytes are an error, so one command has exactly one encoding.

// Op names a command.
type Op uint8

// The commands.
const (
	OpOpen     Op = 1 // open account From, balance 0
	OpDeposit  Op = 2 // add Amount (> 0) to From
	OpTransfer Op = 3 // move Amount (> 0) from From to To
	OpBalance  Op = 4 // read From's balance, through the log
)

// MaxAccountLen bounds an account name, in bytes.
const MaxAccountLen = 64

// MaxAmount bounds a deposit or transfer, in cents, so that no sum of a
// realistic number of them overflows int64 (a deposit that would is refused
// with CodeOverflow all the same).
const MaxAmount = 1 << 40

const headerLen = 25

// ErrBadCommand is wrapped by every Decode and Validate error.
var ErrBadCommand = errors.New("ledger: bad command")

// Command is one client command.
type Command struct {
	Op     Op
	Client uint64 // the client's random id; never 0
	Seq    uint64 // the client's command number, from 1
	Amount int64  // cents; Deposit and Transfer only
	From   string // the account (Transfer: the payer)
	To     string // Transfer's payee
}

// Validate reports why c cannot be encoded, or nil.
func (c *Command) Validate() error {
	return check(c.Op, c.Client, c.Seq, c.Amount, c.From, c.To)
}

// check is Validate over the fields, so that Decode and the machine's
// zero-copy view (string or []byte names) apply the same rules.
func check[S string | []byte](op Op, client, seq uint64, amount int64, from, to S) error {
	var errs []error
	if op < OpOpen || op > OpBalance {
		errs = append(errs, fmt.Errorf("%w: unknown op %d", ErrBadCommand, op))
	}
	if client == 0 {
		errs = append(errs, fmt.Errorf("%w: client id 0", ErrBadCommand))
	}
	if seq == 0 {
		errs = append(errs, fmt.Errorf("%w: seq 0", ErrBadCommand))
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

// AppendEncode appends c's encoding to dst. c must be valid (Validate).
func (c *Command) AppendEncode(dst []byte) []byte {
	dst = append(dst, byte(c.Op))
	dst = binary.BigEndian.AppendUint64(dst, c.Client)
	dst = binary.BigEndian.AppendUint64(dst, c.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.Amount))
	dst = append(dst, byte(len(c.From)))
	dst = append(dst, c.From...)
	dst = append(dst, byte(len(c.To)))
	return append(dst, c.To...)
}

// Decode parses b into c, checking everything Validate checks. The strings
// are copies: b may be reused.
func (c *Command) Decode(b []byte) error {
	var v view
	if err := v.decode(b); err != nil {
		return err
	}
	*c = Command{Op: v.op, Client: v.client, Seq: v.seq, Amount: v.amount, From: string(v.from), To: string(v.to)}
	return nil
}

// view is a decoded command whose names alias the entry's bytes: what
// Apply works on, so that applying a command copies nothing.
type view struct {
	op          Op
	client, seq uint64
	amount      int64
	from, to    []byte
}

func (v *view) decode(b []byte) error {
	if len(b) < headerLen+2 {
		return fmt.Errorf("%w: %d bytes, want at least %d", ErrBadCommand, len(b), headerLen+2)
	}
	v.op = Op(b[0])
	v.client = binary.BigEndian.Uint64(b[1:])
	v.seq = binary.BigEndian.Uint64(b[9:])
	v.amount = int64(binary.BigEndian.Uint64(b[17:]))
	rest := b[headerLen:]
	f := int(rest[0])
	if len(rest) < 1+f+1 {
		return fmt.Errorf("%w: truncated account", ErrBadCommand)
	}
	v.from = rest[1 : 1+f]
	rest = rest[1+f:]
	t := int(rest[0])
	if len(rest) != 1+t {
		return fmt.Errorf("%w: %d bytes after the payee's length, want %d", ErrBadCommand, len(rest)-1, t)
	}
	v.to = rest[1:]
	return check(v.op, v.client, v.seq, v.amount, v.from, v.to)
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

// SessionOf returns the client and seq of an encoded command without
// decoding the rest (a replica uses it to find who waits for a result); ok
// is false when b is too short to be a command.
func SessionOf(b []byte) (client, seq uint64, ok bool) {
	if len(b) < headerLen {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(b[1:]), binary.BigEndian.Uint64(b[9:]), true
}
