package sm

// Group snapshot format: the session table next to the machine's own
// snapshot, with one checksum over both.
//
//	 0        4     5                13
//	 +--------+-----+----------------+--------------+--------------------+------------------+---------------+
//	 | "MPSM" | ver | applied u64 LE | nSessions uv | nSessions sessions | machine snapshot | crc32c u32 LE |
//	 +--------+-----+----------------+--------------+--------------------+------------------+---------------+
//
//	 session: | ClientID u64 LE | Token u64 LE | Seq uv | Last uv | status u8 | len(Value) uv | Value |
//
// ver is envelopeVersion (1); applied is the last slot the session table
// applied (it decides when the table sweeps, so a restored table must
// continue from it). Sessions are in strictly increasing ClientID
// order, so equal tables give identical bytes. The machine's snapshot is
// whatever its Snapshot (or Capture) wrote, up to the checksum; the
// CRC-32C (Castagnoli) covers every byte before it. Bytes that do not start
// with the magic are a snapshot from before this envelope, handed to the
// machine's LegacySnapshot if it has one.

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

const (
	envelopeMagic   = "MPSM"
	envelopeVersion = 1
	envelopeHeader  = 4 + 1 + 8
	// sessionMin is the fewest bytes a session takes: ids, one-byte
	// uvarints, status, empty value.
	sessionMin = 8 + 8 + 1 + 1 + 1 + 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Capture captures the group's state (sessions and machine) on the apply
// goroutine and returns the function that encodes it as a snapshot, which
// may run on another goroutine while Apply goes on. A machine without
// Capturer is encoded here, at once; the function then only adds the
// sessions.
func (a *Applier) Capture() func() ([]byte, error) {
	states, applied := a.s.states(), a.s.applied
	var w io.WriterTo
	var err error
	if c, ok := a.m.(Capturer); ok {
		w = c.Capture()
	} else {
		var buf bytes.Buffer
		err = a.m.Snapshot(&buf)
		w = &buf
	}
	return func() ([]byte, error) {
		if err != nil {
			return nil, err
		}
		return encode(states, applied, w)
	}
}

// Snapshot returns the group's snapshot now (Capture, encoded at once).
func (a *Applier) Snapshot() ([]byte, error) { return a.Capture()() }

func encode(states []SessionState, applied uint64, machine io.WriterTo) ([]byte, error) {
	slices.SortFunc(states, func(a, b SessionState) int { return cmp.Compare(a.ClientID, b.ClientID) })
	size := envelopeHeader + binary.MaxVarintLen64 + 4
	for i := range states {
		size += sessionMin + 3*binary.MaxVarintLen64 + len(states[i].Result.Value)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	b := buf.AvailableBuffer()
	b = append(b, envelopeMagic...)
	b = append(b, envelopeVersion)
	b = binary.LittleEndian.AppendUint64(b, applied)
	b = binary.AppendUvarint(b, uint64(len(states)))
	for i := range states {
		s := &states[i]
		b = binary.LittleEndian.AppendUint64(b, s.ClientID)
		b = binary.LittleEndian.AppendUint64(b, s.Token)
		b = binary.AppendUvarint(b, s.Seq)
		b = binary.AppendUvarint(b, s.Last)
		b = append(b, byte(s.Result.Status))
		b = binary.AppendUvarint(b, uint64(len(s.Result.Value)))
		b = append(b, s.Result.Value...)
	}
	buf.Write(b)
	if _, err := machine.WriteTo(buf); err != nil {
		return nil, fmt.Errorf("sm: snapshot of the machine: %w", err)
	}
	out := buf.Bytes()
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli)), nil
}

// Restore replaces the group's state with the snapshot data: the
// sessions, and the machine's part through Machine.Restore. On error,
// wrapping ErrCorruptSnapshot when the bytes cannot be trusted, sessions
// and machine are unchanged (the machine's Restore promises as much for its
// part).
func (a *Applier) Restore(data []byte) error {
	if !bytes.HasPrefix(data, []byte(envelopeMagic)) {
		return a.restoreLegacy(data)
	}
	states, applied, machine, err := decode(data)
	if err != nil {
		return err
	}
	if err := validate(states, applied); err != nil {
		return err
	}
	if err := a.m.Restore(bytes.NewReader(machine)); err != nil {
		return fmt.Errorf("sm: restoring the machine: %w", err)
	}
	a.s.replace(states, applied)
	return nil
}

func (a *Applier) restoreLegacy(data []byte) error {
	l, ok := a.m.(LegacySnapshot)
	if !ok {
		return fmt.Errorf("%w: no envelope magic, and the machine reads no older format", ErrCorruptSnapshot)
	}
	// The machine checks the sessions as its format has them; it is
	// restored only if they pass.
	states, applied, ok, err := l.RestoreLegacy(data)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: neither an envelope nor the machine's older format", ErrCorruptSnapshot)
	}
	a.s.replace(states, applied)
	return nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptSnapshot}, args...)...)
}

// decode checks an envelope and returns its sessions and the machine's
// part (aliasing data).
func decode(data []byte) (states []SessionState, applied uint64, machine []byte, err error) {
	if len(data) < envelopeHeader+1+4 {
		return nil, 0, nil, corrupt("%d bytes, too short", len(data))
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, 0, nil, corrupt("checksum %#08x, want %#08x", got, sum)
	}
	if v := body[len(envelopeMagic)]; v != envelopeVersion {
		return nil, 0, nil, corrupt("version %d, want %d", v, envelopeVersion)
	}
	applied = binary.LittleEndian.Uint64(body[5:])
	b := body[envelopeHeader:]
	uv := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 || k != uvarintLen(v) {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	n, ok := uv()
	if !ok || n > uint64(len(b))/sessionMin {
		return nil, 0, nil, corrupt("session count")
	}
	states = make([]SessionState, n)
	for i := range states {
		s := &states[i]
		if len(b) < 16 {
			return nil, 0, nil, corrupt("session %d: truncated", i)
		}
		s.ClientID = binary.LittleEndian.Uint64(b)
		s.Token = binary.LittleEndian.Uint64(b[8:])
		b = b[16:]
		var ok1, ok2 bool
		s.Seq, ok1 = uv()
		s.Last, ok2 = uv()
		if !ok1 || !ok2 || len(b) < 1 {
			return nil, 0, nil, corrupt("session %d: truncated", i)
		}
		s.Result.Status = Status(b[0])
		b = b[1:]
		l, ok := uv()
		if !ok || l > uint64(len(b)) {
			return nil, 0, nil, corrupt("session %d: value", i)
		}
		if l > 0 {
			s.Result.Value = bytes.Clone(b[:l])
		}
		b = b[l:]
	}
	return states, applied, b, nil
}
