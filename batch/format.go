package batch

// Batch format. One batch is one []byte, built in place by the Batcher:
//
//	 0       1                5                9             9+C          end
//	 +-------+----------------+----------------+-------------+------------+
//	 |  ver  |   count N      |  cmd bytes C   |  commands   |   index    |
//	 |  u8   |   uint32 LE    |   uint32 LE    |  C bytes    | N uvarints |
//	 +-------+----------------+----------------+-------------+------------+
//	 \________ header (HeaderSize = 9) _______/
//
//	 commands:  cmd_0 | cmd_1 | ... | cmd_N-1      back to back, no framing
//	 index:     len(cmd_0) | len(cmd_1) | ... | len(cmd_N-1)   (uvarint each)
//
// ver is FormatVersion (1). N >= 1: a batch is never empty. The index follows
// the commands because the Batcher copies each command into place as it
// arrives and only knows every length when it seals the batch; the fixed-size
// header is reserved up front and filled in then. The index costs one byte
// per command below 128 bytes and two below 16 KiB.
//
// A valid batch satisfies, exactly: len(batch) == 9 + C + len(index), the
// index holds exactly N uvarints, and their sum is C. Anything else is
// ErrMalformed.

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderSize is the fixed size of a batch header.
const HeaderSize = 9

// FormatVersion is the first byte of every batch this package builds.
const FormatVersion = 1

// ErrMalformed reports a batch whose header or index is inconsistent.
var ErrMalformed = errors.New("batch: malformed batch")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// putHeader fills the header reserved at the start of b.
func putHeader(b []byte, n, cmdBytes int) {
	b[0] = FormatVersion
	binary.LittleEndian.PutUint32(b[1:5], uint32(n))
	binary.LittleEndian.PutUint32(b[5:9], uint32(cmdBytes))
}

// uvarintLen is the encoded size of binary.AppendUvarint(nil, v).
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Iter walks the commands of a batch that Decode validated.
type Iter struct {
	cmds  []byte // the command area not yet returned
	index []byte // the index entries not yet read
	left  int    // commands not yet returned
}

// Decode validates batch's header and whole index and returns an iterator
// over its commands. It never panics; any inconsistency is ErrMalformed.
// The commands the iterator returns alias batch.
func Decode(batch []byte) (Iter, error) {
	if len(batch) < HeaderSize {
		return Iter{}, malformed("%d bytes, shorter than the %d-byte header", len(batch), HeaderSize)
	}
	if batch[0] != FormatVersion {
		return Iter{}, malformed("version %d, want %d", batch[0], FormatVersion)
	}
	n := uint64(binary.LittleEndian.Uint32(batch[1:5]))
	c := uint64(binary.LittleEndian.Uint32(batch[5:9]))
	rest := uint64(len(batch) - HeaderSize)
	if n == 0 {
		return Iter{}, malformed("zero commands")
	}
	if c > rest {
		return Iter{}, malformed("command area of %d bytes, only %d follow the header", c, rest)
	}
	index := batch[HeaderSize+c:]
	// Every index entry takes at least one byte: this bounds the loop below
	// by the input's size, whatever N claims.
	if n > uint64(len(index)) {
		return Iter{}, malformed("%d commands but a %d-byte index", n, len(index))
	}
	var sum uint64
	off := 0
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(index[off:])
		if k <= 0 || k != uvarintLen(l) {
			// Overlong encodings are refused too, so a batch has exactly
			// one encoding (fuzzing checks decode-encode round trips).
			return Iter{}, malformed("index entry %d: bad uvarint", i)
		}
		off += k
		if l > c-sum {
			return Iter{}, malformed("index entry %d: length %d overruns the %d-byte command area", i, l, c)
		}
		sum += l
	}
	if off != len(index) {
		return Iter{}, malformed("%d trailing bytes after the index", len(index)-off)
	}
	if sum != c {
		return Iter{}, malformed("lengths sum to %d, command area is %d bytes", sum, c)
	}
	return Iter{cmds: batch[HeaderSize : HeaderSize+c], index: index, left: int(n)}, nil
}

// Len returns how many commands the iterator has not yet returned.
func (it *Iter) Len() int { return it.left }

// Next returns the next command, or ok false after the last one. The command
// aliases the batch; its capacity is clipped to its length, so appending to
// it cannot overwrite the next command.
func (it *Iter) Next() (cmd []byte, ok bool) {
	if it.left == 0 {
		return nil, false
	}
	// Decode checked every entry, so neither can fail here.
	l, k := binary.Uvarint(it.index)
	it.index = it.index[k:]
	it.left--
	cmd = it.cmds[:l:l]
	it.cmds = it.cmds[l:]
	return cmd, true
}

// ForEach validates batch and then calls fn with each command in order,
// stopping at the first error fn returns and returning it. If the batch is
// malformed, fn is not called at all and the error wraps ErrMalformed.
// cmd aliases batch.
func ForEach(batch []byte, fn func(cmd []byte) error) error {
	it, err := Decode(batch)
	if err != nil {
		return err
	}
	for cmd, ok := it.Next(); ok; cmd, ok = it.Next() {
		if err := fn(cmd); err != nil {
			return err
		}
	}
	return nil
}

// Count returns the number of commands in batch after validating it.
func Count(batch []byte) (int, error) {
	it, err := Decode(batch)
	if err != nil {
		return 0, err
	}
	return it.Len(), nil
}
