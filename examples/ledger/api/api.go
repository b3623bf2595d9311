// Package api is the ledger's HTTP contract, the one definition that the
// replica's server and the client both use.
//
// Every call is an HTTP request whose JSON body is a Request, answered by a
// JSON Response:
//
//	POST /open      {"client":C,"seq":S,"account":"alice"}
//	POST /deposit   {"client":C,"seq":S,"account":"alice","amount":500}
//	POST /transfer  {"client":C,"seq":S,"account":"alice","to":"bob","amount":120}
//	GET  /balance?client=C&seq=S&account=alice     (or POST /balance with the JSON body)
//
// 200: the command went through the log; Response.Result says how it came
// out ("ok", "insufficient_funds", ...; see ledger.Code). 307: this replica
// is not the leader; Location is the same call at the leader, which the
// client repeats there with the same client and seq. 503: no leader known,
// or the command did not commit in time: retry, same client and seq,
// anywhere. 400: the request itself is malformed (retrying cannot help).
package api

import (
	"fmt"

	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
)

// Paths, one per command.
var Paths = map[ledger.Op]string{
	ledger.OpOpen:     "/open",
	ledger.OpDeposit:  "/deposit",
	ledger.OpTransfer: "/transfer",
	ledger.OpBalance:  "/balance",
}

// Request is the body of every call.
type Request struct {
	Client  uint64 `json:"client"`
	Seq     uint64 `json:"seq"`
	Account string `json:"account"`
	To      string `json:"to,omitempty"`
	Amount  int64  `json:"amount,omitempty"`
}

// Command turns r into the log command of op, checked.
func (r *Request) Command(op ledger.Op) (ledger.Command, error) {
	c := ledger.Command{Op: op, Client: r.Client, Seq: r.Seq, From: r.Account, To: r.To, Amount: r.Amount}
	return c, c.Validate()
}

// Response is the body of every answer.
type Response struct {
	// Result is the command's outcome (ledger.Code's String) on 200.
	Result string `json:"result,omitempty"`
	// Balance: see ledger.Result.
	Balance int64 `json:"balance"`
	// Error explains a 307, 400 or 503.
	Error string `json:"error,omitempty"`
	// Leader is the leader's node id on a 307 (0: unknown).
	Leader uint16 `json:"leader,omitempty"`
}

// FromResult is the 200 answer for r.
func FromResult(r ledger.Result) Response {
	return Response{Result: r.Code.String(), Balance: r.Balance}
}

// ToResult is FromResult's inverse.
func (r *Response) ToResult() (ledger.Result, error) {
	c, err := ledger.ParseCode(r.Result)
	if err != nil {
		return ledger.Result{}, fmt.Errorf("api: %w", err)
	}
	return ledger.Result{Code: c, Balance: r.Balance}, nil
}
