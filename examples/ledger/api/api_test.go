package api

import (
	"encoding/json"
	"testing"

	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
)

// TestResultRoundTrip is the contract: every code the machine can return
// survives the server's encoding and the client's decoding.
func TestResultRoundTrip(t *testing.T) {
	for c := ledger.CodeOK; c <= ledger.CodeBadCommand; c++ {
		want := ledger.Result{Code: c, Balance: int64(c) * 100}
		b, err := json.Marshal(FromResult(want))
		if err != nil {
			t.Fatal(err)
		}
		var resp Response
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatal(err)
		}
		got, err := resp.ToResult()
		if err != nil || got != want {
			t.Fatalf("code %v: got %+v, %v", c, got, err)
		}
	}
}
