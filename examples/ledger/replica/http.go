package replica

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/examples/ledger/api"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
)

var errBusy = errors.New("replica: too many calls in flight")

// maxBody bounds a request body, in bytes: a Request is well under it.
const maxBody = 4096

func (r *Replica) mux() *http.ServeMux {
	mux := http.NewServeMux()
	for op, path := range api.Paths {
		if op == ledger.OpBalance {
			mux.HandleFunc("GET "+path, r.handle(op))
		}
		mux.HandleFunc("POST "+path, r.handle(op))
	}
	mux.HandleFunc("GET /status", r.handleStatus)
	return mux
}

func reply(w http.ResponseWriter, code int, resp api.Response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(resp)
}

// handle serves one command. A replica that does not lead answers 307 with
// the leader's address rather than forwarding: the client learns the
// leader once and then talks to it directly, and a follower keeps no state
// for calls it does not serve.
func (r *Replica) handle(op ledger.Op) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		var q api.Request
		if req.Method == http.MethodGet {
			v := req.URL.Query()
			var e1, e2 error
			q.Client, e1 = strconv.ParseUint(v.Get("client"), 10, 64)
			q.Seq, e2 = strconv.ParseUint(v.Get("seq"), 10, 64)
			q.Account = v.Get("account")
			if err := errors.Join(e1, e2); err != nil {
				reply(w, http.StatusBadRequest, api.Response{Error: err.Error()})
				return
			}
		} else if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxBody)).Decode(&q); err != nil {
			reply(w, http.StatusBadRequest, api.Response{Error: "bad request body: " + err.Error()})
			return
		}
		cmd, err := q.Command(op)
		if err != nil {
			reply(w, http.StatusBadRequest, api.Response{Error: err.Error()})
			return
		}
		if l := r.Leader(); l != r.cfg.ID {
			r.redirect(w, req, l)
			return
		}
		res := make(chan outcome, 1)
		p := proposal{cmd: cmd.AppendEncode(nil), key: sessionKey{q.Client, q.Seq}, res: res}
		timer := time.NewTimer(r.cfg.RequestTimeout)
		defer timer.Stop()
		select {
		case r.props <- p:
		case <-timer.C:
			reply(w, http.StatusServiceUnavailable, api.Response{Error: "replica busy, retry"})
			return
		case <-r.done:
			reply(w, http.StatusServiceUnavailable, api.Response{Error: "replica stopped, retry elsewhere"})
			return
		}
		var o outcome
		select {
		case o = <-res:
		case <-timer.C:
			// It may still commit; the retry, same client and seq,
			// then gets its result without running it again.
			reply(w, http.StatusServiceUnavailable, api.Response{Error: "not committed in time, retry"})
			return
		case <-r.done:
			reply(w, http.StatusServiceUnavailable, api.Response{Error: "replica stopped, retry elsewhere"})
			return
		}
		var nl *engine.NotLeaderError
		switch {
		case o.err == nil:
			reply(w, http.StatusOK, api.FromResult(o.res))
		case errors.As(o.err, &nl):
			r.redirect(w, req, o.leader)
		default:
			reply(w, http.StatusServiceUnavailable, api.Response{Error: o.err.Error() + ", retry"})
		}
	}
}

func (r *Replica) redirect(w http.ResponseWriter, req *http.Request, leader engine.NodeID) {
	addr, ok := r.cfg.HTTP[leader]
	if leader == 0 || leader == r.cfg.ID || !ok {
		reply(w, http.StatusServiceUnavailable, api.Response{Error: "no leader known, retry"})
		return
	}
	w.Header().Set("Location", "http://"+addr+req.URL.RequestURI())
	reply(w, http.StatusTemporaryRedirect, api.Response{Error: "not the leader", Leader: uint16(leader)})
}

// statusBody is GET /status: for people and scripts, not a contract.
type statusBody struct {
	ID       engine.NodeID `json:"id"`
	Role     string        `json:"role"`
	Leader   engine.NodeID `json:"leader"`
	Commit   engine.Slot   `json:"commit"`
	Applied  engine.Slot   `json:"applied"`
	Hash     string        `json:"hash"`
	Accounts int           `json:"accounts"`
	Deposits int64         `json:"deposits"`
	Check    string        `json:"check"`
}

func (r *Replica) handleStatus(w http.ResponseWriter, _ *http.Request) {
	s, err := r.State()
	if err != nil {
		reply(w, http.StatusServiceUnavailable, api.Response{Error: err.Error()})
		return
	}
	b := statusBody{
		ID: r.cfg.ID, Role: s.Status.Role.String(), Leader: s.Status.Leader, Commit: s.Status.Commit,
		Applied: s.Applied, Hash: hex.EncodeToString(s.Hash[:]), Accounts: len(s.Balances), Deposits: s.Deposits, Check: "ok",
	}
	if s.Invariant != nil {
		b.Check = s.Invariant.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(b)
}
