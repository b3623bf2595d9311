package naive

import (
	"fmt"
	"strings"
)

// Protocol names the replication protocol a node runs: Multi-Paxos (the
// engine package) or one of this package's naive schemes.
type Protocol uint8

// The protocols. The zero value is Paxos.
const (
	// Paxos is Multi-Paxos, package engine: not a scheme of this package.
	Paxos Protocol = iota
	// Unsync: every node executes what its clients send it, in arrival
	// order, and tells no one; the client sends each write to every node.
	Unsync
	// PrimaryBackup: the primary executes, replies, then forwards to the
	// backups; a failure detector promotes a backup when the primary is
	// silent for a timeout.
	PrimaryBackup
	// PrimaryBackupAck: the primary replies only after every backup it
	// believes alive acknowledged; the same failure detector, no quorum.
	PrimaryBackupAck
	// MultiLeader: every node accepts writes, executes them and forwards
	// them; each node executes in arrival order.
	MultiLeader
)

// protocolInfo describes one protocol: its flag name and a sentence for
// reports. Parsing, String, Names and Describe all read this table.
type protocolInfo struct {
	p     Protocol
	name  string
	about string
}

var protocols = []protocolInfo{
	{Unsync, "unsync", "every node executes the writes its clients send it, in arrival order, with no coordination; the client sends each write to every node, its home node first, and takes the home node's answer."},
	{PrimaryBackup, "primary-backup", "one primary executes a write, replies, then forwards it to the backups; a failure detector (heartbeats, an election timeout of silence, no quorum) makes the lowest live backup primary when the primary goes quiet."},
	{PrimaryBackupAck, "primary-backup-ack", "as primary-backup, but the primary replies only after every backup it believes alive acknowledged the write; the same failure detector also drops a silent backup from those it waits for."},
	{MultiLeader, "multi-leader", "every node accepts writes, executes them at once and forwards them to the others, who execute them in the order they arrive."},
	{Paxos, "paxos", "Multi-Paxos: one leader per ballot, ballots owned per node, majority quorums for promises and accepts."},
}

func (p Protocol) info() (protocolInfo, bool) {
	for _, d := range protocols {
		if d.p == p {
			return d, true
		}
	}
	return protocolInfo{}, false
}

func (p Protocol) String() string {
	if d, ok := p.info(); ok {
		return d.name
	}
	return fmt.Sprintf("protocol(%d)", uint8(p))
}

// About is one sentence on what the protocol does, for reports.
func (p Protocol) About() string {
	d, _ := p.info()
	return d.about
}

// Naive reports whether p is one of this package's schemes (not Paxos).
func (p Protocol) Naive() bool {
	_, ok := p.info()
	return ok && p != Paxos
}

// Names lists every protocol's flag name, naive schemes first.
func Names() []string {
	out := make([]string, len(protocols))
	for i, d := range protocols {
		out[i] = d.name
	}
	return out
}

// All lists every protocol, in the order of Names.
func All() []Protocol {
	out := make([]Protocol, len(protocols))
	for i, d := range protocols {
		out[i] = d.p
	}
	return out
}

// ParseProtocol reads a protocol's flag name.
func ParseProtocol(s string) (Protocol, error) {
	for _, d := range protocols {
		if d.name == s {
			return d.p, nil
		}
	}
	return 0, fmt.Errorf("naive: unknown protocol %q (protocols: %s)", s, strings.Join(Names(), ", "))
}

// Set implements flag.Value.
func (p *Protocol) Set(s string) error {
	v, err := ParseProtocol(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// MarshalText writes the flag name (JSON results, configs).
func (p Protocol) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads the flag name.
func (p *Protocol) UnmarshalText(b []byte) error { return p.Set(string(b)) }
