package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	"github.com/mpaxos/mpaxos/sm"
)

// A snapshot is the whole machine, big-endian, accounts sorted by name so
// that equal states encode to equal bytes (the runtime's envelope, package
// sm, carries the sessions next to it):
//
//	+--------+--------------+----------+---------------------------------+--------------------------+
//	| "LDG2" | deposits i64 | n u32    | n x (len u8, name, balance i64) | crc32c u32 of all before |
//	+--------+--------------+----------+---------------------------------+--------------------------+

var snapMagic = [4]byte{'L', 'D', 'G', '2'}

// MaxSnapshotBytes bounds what Restore reads.
const MaxSnapshotBytes = 1 << 30

// ErrBadSnapshot is wrapped by every Restore error; it wraps
// sm.ErrCorruptSnapshot.
var ErrBadSnapshot = fmt.Errorf("ledger: %w", sm.ErrCorruptSnapshot)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendSnapshot appends the machine's encoding to dst.
func (m *Machine) AppendSnapshot(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, snapMagic[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.deposits))
	names := make([]string, 0, len(m.accounts))
	for a := range m.accounts {
		names = append(names, a)
	}
	slices.Sort(names)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(names)))
	for _, a := range names {
		dst = append(dst, byte(len(a)))
		dst = append(dst, a...)
		dst = binary.BigEndian.AppendUint64(dst, uint64(*m.accounts[a]))
	}
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// Snapshot writes the machine's encoding to w.
func (m *Machine) Snapshot(w io.Writer) error {
	_, err := w.Write(m.AppendSnapshot(nil))
	return err
}

// Hash is a digest of the whole state (accounts and deposits): replicas
// that applied the same slots have equal hashes. It encodes a snapshot, so
// it costs as much; the runtime calls it only when asked (GET /hash).
func (m *Machine) Hash() uint64 {
	sum := sha256.Sum256(m.AppendSnapshot(nil))
	return binary.BigEndian.Uint64(sum[:8])
}

// Restore replaces the machine's state with the snapshot read from r. On
// error the machine is unchanged.
func (m *Machine) Restore(r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, MaxSnapshotBytes+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	if len(b) > MaxSnapshotBytes {
		return fmt.Errorf("%w: larger than %d bytes", ErrBadSnapshot, MaxSnapshotBytes)
	}
	n, err := decodeSnapshot(b)
	if err != nil {
		return err
	}
	*m = *n
	return nil
}

// RestoreBytes is Restore from a byte slice.
func (m *Machine) RestoreBytes(b []byte) error { return m.Restore(bytes.NewReader(b)) }

func decodeSnapshot(b []byte) (*Machine, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
	}
	if len(b) < 4+8+4+4 {
		return nil, bad("%d bytes, too short", len(b))
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, bad("checksum mismatch")
	}
	if !bytes.Equal(body[:4], snapMagic[:]) {
		return nil, bad("magic %q, want %q", body[:4], snapMagic[:])
	}
	m := NewMachine()
	m.deposits = int64(binary.BigEndian.Uint64(body[4:]))
	p := body[12:]
	n := binary.BigEndian.Uint32(p)
	p = p[4:]
	prev := ""
	for i := uint32(0); i < n; i++ {
		// Counts are checked against the bytes left, never trusted to
		// size anything up front.
		if len(p) < 1 {
			return nil, bad("account %d of %d: truncated", i, n)
		}
		l := int(p[0])
		if l == 0 || l > MaxAccountLen || len(p) < 1+l+8 {
			return nil, bad("account %d of %d: bad name length %d or truncated", i, n, l)
		}
		name := string(p[1 : 1+l])
		if i > 0 && name <= prev {
			return nil, bad("account %q out of order after %q", name, prev)
		}
		prev = name
		bal := int64(binary.BigEndian.Uint64(p[1+l:]))
		m.accounts[name] = &bal
		p = p[1+l+8:]
	}
	if len(p) != 0 {
		return nil, bad("%d trailing bytes", len(p))
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	return m, nil
}
