package benchkit

import "context"

// Target is the system under test as the load generator sees it: one per
// run, handing out any number of sessions. The lead adapts the real client
// library (client.Dial, client.Session) to it; tests use an in-process fake.
type Target interface {
	// Session returns a new logical client (its own client id and sequence
	// numbers). Sessions of one Target may share connections. The harness
	// calls it from one goroutine, before the run starts.
	Session() Session
	// Close releases the connections. Sessions are not used afterwards.
	Close() error
}

// Session is one logical client with at most one outstanding operation:
// Do is never called concurrently on one Session.
type Session interface {
	// Do executes op and returns its result. op's byte slices are owned by
	// the caller and reused for the next operation as soon as Do returns:
	// Do copies whatever it keeps. Result.Value may alias the session's
	// buffers and is valid until the next Do.
	//
	// A CAS whose expectation does not hold is not an error: it returns
	// Result{Found: true, CASFailed: true}. Errors are failures to get an
	// answer (timeout, no quorum, closed); ctx carries the per-operation
	// timeout and the run's cancellation.
	Do(ctx context.Context, op Op) (Result, error)
}

// OpKind is the kind of an operation.
type OpKind uint8

// The operations of the key-value state machine.
const (
	OpGet OpKind = iota + 1
	OpPut
	OpDelete
	OpCAS
)

// String returns the kind's lower-case name.
func (k OpKind) String() string {
	switch k {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpCAS:
		return "cas"
	}
	return "op?"
}

// Op is one key-value command.
type Op struct {
	Kind   OpKind
	Key    []byte
	Value  []byte // put, cas: the new value
	Expect []byte // cas: the value the key must hold
}

// Result is the answer to an Op.
type Result struct {
	Value     []byte // get: the value read
	Found     bool   // get: the key exists
	CASFailed bool   // cas: the key did not hold Expect; nothing changed
}
