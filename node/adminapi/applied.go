package adminapi

// AppliedCommand is one executed (not deduplicated) command as GET
// /applied reports it.
type AppliedCommand struct {
	Slot   uint64 `json:"slot"`
	Client uint64 `json:"client"`
	Seq    uint64 `json:"seq"`
}

// AppliedReport is what GET /applied returns: the last commands the node
// executed (not the retries it answered from its session table), with
// their slots, for the benchmark's session check.
type AppliedReport struct {
	Node uint16 `json:"node"`
	// Group is the Paxos group reported (?group=, default 0); slots are
	// that group's.
	Group int `json:"group"`
	// Applied is the state machine's applied slot when the report was made.
	Applied uint64 `json:"applied"`
	// Total counts every command executed since the node started; Commands
	// holds the last of them (Truncated says some older ones were dropped).
	Total     uint64           `json:"total"`
	Truncated bool             `json:"truncated"`
	Commands  []AppliedCommand `json:"commands"`
	// Deduplicated counts retries answered from the session table.
	Deduplicated uint64 `json:"deduplicated"`
}

// HashReport is what GET /hash returns: the state machine's content hash
// at its applied slot, to compare replicas once the load has stopped.
type HashReport struct {
	Node uint16 `json:"node"`
	// Group is the Paxos group whose state machine is hashed (?group=,
	// default 0).
	Group   int    `json:"group"`
	Applied uint64 `json:"applied"`
	Hash    uint64 `json:"hash"`
}
