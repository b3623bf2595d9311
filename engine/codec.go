package engine

// Message wire format. All integers little-endian; fixed layout, so a
// message's size is known before it is written (Size) and every length is
// checked before it is trusted (Unmarshal). To is not encoded: the
// connection the message travels on names the receiver.
//
//	header (44 bytes)
//	 0      1      2          6      8              16             24             32             40          44
//	 +------+------+----------+------+--------------+--------------+--------------+--------------+-----------+
//	 | type | flags| group u32|from  | ballot u64   | slot u64     | commit u64   | round u64    | nents u32 |
//	 | u8   | u8   |          |u16   |              |              |              |              |           |
//	 +------+------+----------+------+--------------+--------------+--------------+--------------+-----------+
//	nents times, an entry (21 bytes + data)
//	 +--------------+--------------+------+-----------+-------------------+
//	 | slot u64     | ballot u64   | type | len u32   | data (len bytes)  |
//	 +--------------+--------------+------+-----------+-------------------+
//	if flags&flagSnapshot, the snapshot (12 bytes + data)
//	 +--------------+-----------+-------------------+
//	 | slot u64     | len u32   | data (len bytes)  |
//	 +--------------+-----------+-------------------+
//	if flags&flagSnapConf, the snapshot's Membership (2 bytes + data,
//	encoded as an EntryConfChange's Data, membership.go)
//	 +-----------+-------------------+
//	 | len u16   | data (len bytes)  |
//	 +-----------+-------------------+
//	if flags&flagHandoff, the ballot handed off (8 bytes)
//	 +--------------+
//	 | handoff u64  |
//	 +--------------+
//
// flags bit 0 (flagSnapshot): a snapshot follows the entries. Bit 1
// (flagReject): Message.Reject, only on a MsgPrePromise or a
// MsgReadIndexResp. Bit 2 (flagHandoff): Message.Handoff follows, non-zero,
// only on a MsgPrepare. Bit 3 (flagLease): Message.Lease, only on a
// MsgReadIndex. Bit 4 (flagSnapConf): the snapshot's Membership follows
// it, only with flagSnapshot. Bit 5 (flagChosen): Message.Chosen, only on
// a MsgCommit. Other bits must be zero. Nothing may follow the last field.

import (
	"encoding/binary"
	"fmt"
)

const (
	msgHeaderSize   = 44
	entryHeaderSize = 21
	snapHeaderSize  = 12
	handoffSize     = 8
	flagSnapshot    = 1
	flagReject      = 2
	flagHandoff     = 4
	flagLease       = 8
	flagSnapConf    = 16
	flagChosen      = 32
	snapConfHeader  = 2
)

// Size returns the number of bytes MarshalAppend appends for m.
func (m *Message) Size() int {
	n := msgHeaderSize
	for i := range m.Entries {
		n += entryHeaderSize + len(m.Entries[i].Data)
	}
	if m.Snapshot != nil {
		n += snapHeaderSize + len(m.Snapshot.Data)
		if !m.Snapshot.Membership.IsZero() {
			n += snapConfHeader + m.Snapshot.Membership.encodedSize()
		}
	}
	if m.Handoff != 0 {
		n += handoffSize
	}
	return n
}

// MarshalAppend appends m's encoding to dst and returns the extended slice.
// It allocates only if dst lacks the capacity for m.Size() more bytes.
func (m *Message) MarshalAppend(dst []byte) []byte {
	var flags byte
	if m.Snapshot != nil {
		flags |= flagSnapshot
		if !m.Snapshot.Membership.IsZero() {
			flags |= flagSnapConf
		}
	}
	if m.Reject {
		flags |= flagReject
	}
	if m.Handoff != 0 {
		flags |= flagHandoff
	}
	if m.Lease {
		flags |= flagLease
	}
	if m.Chosen {
		flags |= flagChosen
	}
	le := binary.LittleEndian
	dst = append(dst, byte(m.Type), flags)
	dst = le.AppendUint32(dst, uint32(m.Group))
	dst = le.AppendUint16(dst, uint16(m.From))
	dst = le.AppendUint64(dst, uint64(m.Ballot))
	dst = le.AppendUint64(dst, uint64(m.Slot))
	dst = le.AppendUint64(dst, uint64(m.Commit))
	dst = le.AppendUint64(dst, m.Round)
	dst = le.AppendUint32(dst, uint32(len(m.Entries)))
	for i := range m.Entries {
		en := &m.Entries[i]
		dst = le.AppendUint64(dst, uint64(en.Slot))
		dst = le.AppendUint64(dst, uint64(en.Ballot))
		dst = append(dst, byte(en.Type))
		dst = le.AppendUint32(dst, uint32(len(en.Data)))
		dst = append(dst, en.Data...)
	}
	if m.Snapshot != nil {
		dst = le.AppendUint64(dst, uint64(m.Snapshot.Slot))
		dst = le.AppendUint32(dst, uint32(len(m.Snapshot.Data)))
		dst = append(dst, m.Snapshot.Data...)
		if mb := m.Snapshot.Membership; !mb.IsZero() {
			dst = le.AppendUint16(dst, uint16(mb.encodedSize()))
			dst = mb.appendTo(dst)
		}
	}
	if m.Handoff != 0 {
		dst = le.AppendUint64(dst, uint64(m.Handoff))
	}
	return dst
}

// Unmarshal decodes b into m, replacing all of m's fields (To becomes 0:
// the caller knows the receiver). Entries' and Snapshot's Data alias b: b
// must stay unmodified for as long as they are used, which, once the
// message is given to Engine.Step, is for good. Bytes that are not a
// well-formed message return an error wrapping ErrCorruptMessage; it never
// panics.
func (m *Message) Unmarshal(b []byte) error {
	*m = Message{}
	if len(b) < msgHeaderSize {
		return fmt.Errorf("%w: %d bytes, header needs %d", ErrCorruptMessage, len(b), msgHeaderSize)
	}
	le := binary.LittleEndian
	typ := MessageType(b[0])
	if typ < MsgPrepare || typ > maxMessageType {
		return fmt.Errorf("%w: unknown type %d", ErrCorruptMessage, b[0])
	}
	flags := b[1]
	if flags&^(flagSnapshot|flagReject|flagHandoff|flagLease|flagSnapConf|flagChosen) != 0 {
		return fmt.Errorf("%w: unknown flags %#x", ErrCorruptMessage, flags)
	}
	if flags&flagReject != 0 && typ != MsgPrePromise && typ != MsgReadIndexResp {
		return fmt.Errorf("%w: reject flag on message type %d", ErrCorruptMessage, typ)
	}
	if flags&flagHandoff != 0 && typ != MsgPrepare {
		return fmt.Errorf("%w: hand-off flag on message type %d", ErrCorruptMessage, typ)
	}
	if flags&flagSnapConf != 0 && flags&flagSnapshot == 0 {
		return fmt.Errorf("%w: snapshot membership flag without a snapshot", ErrCorruptMessage)
	}
	if flags&flagLease != 0 && typ != MsgReadIndex {
		return fmt.Errorf("%w: lease flag on message type %d", ErrCorruptMessage, typ)
	}
	if flags&flagChosen != 0 && typ != MsgCommit {
		return fmt.Errorf("%w: chosen flag on message type %d", ErrCorruptMessage, typ)
	}
	m.Type = typ
	m.Reject = flags&flagReject != 0
	m.Lease = flags&flagLease != 0
	m.Chosen = flags&flagChosen != 0
	m.Group = GroupID(le.Uint32(b[2:]))
	m.From = NodeID(le.Uint16(b[6:]))
	m.Ballot = Ballot(le.Uint64(b[8:]))
	m.Slot = Slot(le.Uint64(b[16:]))
	m.Commit = Slot(le.Uint64(b[24:]))
	m.Round = le.Uint64(b[32:])
	n := uint64(le.Uint32(b[40:]))
	rest := b[msgHeaderSize:]
	if n > uint64(len(rest))/entryHeaderSize {
		*m = Message{}
		return fmt.Errorf("%w: %d entries cannot fit in %d bytes", ErrCorruptMessage, n, len(rest))
	}
	if n > 0 {
		m.Entries = make([]Entry, n)
	}
	for i := range m.Entries {
		if len(rest) < entryHeaderSize {
			*m = Message{}
			return fmt.Errorf("%w: entry %d: truncated header", ErrCorruptMessage, i)
		}
		en := &m.Entries[i]
		en.Slot = Slot(le.Uint64(rest))
		en.Ballot = Ballot(le.Uint64(rest[8:]))
		en.Type = EntryType(rest[16])
		dlen := uint64(le.Uint32(rest[17:]))
		rest = rest[entryHeaderSize:]
		if en.Type != EntryBatch && en.Type != EntryNoop && en.Type != EntryConfChange {
			*m = Message{}
			return fmt.Errorf("%w: entry %d: unknown entry type %d", ErrCorruptMessage, i, en.Type)
		}
		if dlen > uint64(len(rest)) {
			*m = Message{}
			return fmt.Errorf("%w: entry %d: data length %d exceeds the %d bytes left", ErrCorruptMessage, i, dlen, len(rest))
		}
		if dlen > 0 {
			en.Data = rest[:dlen:dlen]
		}
		rest = rest[dlen:]
	}
	if flags&flagSnapshot != 0 {
		if len(rest) < snapHeaderSize {
			*m = Message{}
			return fmt.Errorf("%w: truncated snapshot header", ErrCorruptMessage)
		}
		snap := &Snapshot{Slot: Slot(le.Uint64(rest))}
		dlen := uint64(le.Uint32(rest[8:]))
		rest = rest[snapHeaderSize:]
		if dlen > uint64(len(rest)) {
			*m = Message{}
			return fmt.Errorf("%w: snapshot data length %d exceeds the %d bytes left", ErrCorruptMessage, dlen, len(rest))
		}
		if dlen > 0 {
			snap.Data = rest[:dlen:dlen]
		}
		rest = rest[dlen:]
		if flags&flagSnapConf != 0 {
			if len(rest) < snapConfHeader {
				*m = Message{}
				return fmt.Errorf("%w: truncated snapshot membership", ErrCorruptMessage)
			}
			clen := int(le.Uint16(rest))
			rest = rest[snapConfHeader:]
			if clen > len(rest) {
				*m = Message{}
				return fmt.Errorf("%w: snapshot membership length %d exceeds the %d bytes left", ErrCorruptMessage, clen, len(rest))
			}
			mb, err := ParseMembership(rest[:clen])
			if err != nil || mb.IsZero() {
				*m = Message{}
				return fmt.Errorf("%w: snapshot membership: %v", ErrCorruptMessage, err)
			}
			snap.Membership = mb
			rest = rest[clen:]
		}
		m.Snapshot = snap
	}
	if flags&flagHandoff != 0 {
		if len(rest) < handoffSize {
			*m = Message{}
			return fmt.Errorf("%w: truncated hand-off ballot", ErrCorruptMessage)
		}
		m.Handoff = Ballot(le.Uint64(rest))
		rest = rest[handoffSize:]
		if m.Handoff == 0 {
			*m = Message{}
			return fmt.Errorf("%w: hand-off flag with ballot 0", ErrCorruptMessage)
		}
	}
	if len(rest) != 0 {
		*m = Message{}
		return fmt.Errorf("%w: %d trailing bytes", ErrCorruptMessage, len(rest))
	}
	return nil
}
