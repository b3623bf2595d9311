package ledger

// session is one client's exactly-once record: the last seq applied and its
// result. A client has one command outstanding at a time, so its retries
// all carry that seq, and no command of it below that seq can still come:
// one entry per client is enough.
//
// The table grows by one entry per client and is never trimmed here. The
// node runtime's kv machine expires sessions idle for a TTL measured in log
// time; a service with many short-lived clients needs the same (see the
// README, "Making it yours").
type session struct {
	seq uint64
	res Result
}

// sessionLookup reports whether (client, seq) was already applied, and its
// result if so. A seq below the last one is refused as stale: its client
// got an answer for it and moved on, so this copy is a delayed duplicate.
func (m *Machine) sessionLookup(client, seq uint64) (Result, bool) {
	s, ok := m.sessions[client]
	switch {
	case !ok || seq > s.seq:
		return Result{}, false
	case seq == s.seq:
		return s.res, true
	}
	return Result{Code: CodeStale}, true
}

func (m *Machine) sessionRecord(client, seq uint64, r Result) {
	m.sessions[client] = session{seq: seq, res: r}
}
