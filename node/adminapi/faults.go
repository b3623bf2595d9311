package adminapi

// FaultSpec is the body of POST /faults: the transport fault hook's
// settings, replacing the previous ones. An empty spec heals everything.
// The node decodes it with unknown fields disallowed and rejects, all
// problems at once, a spec naming a node that is not a member or the node
// itself, a delay or jitter outside [0, faults.MaxDelay], and a drop rate
// outside [0, 1].
type FaultSpec struct {
	// Isolate drops all traffic to and from these peers.
	Isolate []uint16 `json:"isolate,omitempty"`
	// DropTo drops the node's outgoing traffic to these peers only (a
	// one-way partition).
	DropTo []uint16 `json:"drop_to,omitempty"`
	// DropFrom drops incoming traffic from these peers only.
	DropFrom []uint16 `json:"drop_from,omitempty"`
	// Delay and Jitter delay every outgoing frame (Go duration strings,
	// each at most faults.MaxDelay; "" or "0s" is none).
	Delay  string `json:"delay,omitempty"`
	Jitter string `json:"jitter,omitempty"`
	// DropRate drops this fraction (0..1) of outgoing frames.
	DropRate float64 `json:"drop_rate,omitempty"`
}
