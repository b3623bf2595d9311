package engine

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleMessages() []Message {
	return []Message{
		{Type: MsgPrepare, Group: 7, From: 3, Ballot: MakeBallot(9, 3), Slot: 42},
		{Type: MsgPromise, From: 1, Ballot: MakeBallot(9, 3), Slot: 42, Commit: 41,
			Entries: []Entry{
				{Slot: 42, Ballot: MakeBallot(8, 2), Type: EntryBatch, Data: []byte("hello")},
				{Slot: 44, Ballot: MakeBallot(7, 1), Type: EntryNoop},
			},
			Snapshot: &Snapshot{Slot: 40, Data: []byte("state")}},
		{Type: MsgNack, From: 2, Ballot: MakeBallot(10, 1)},
		{Type: MsgAccept, Group: 1, From: 5, Ballot: MakeBallot(1, 5), Slot: 1, Commit: 99,
			Entries: []Entry{{Slot: 100, Ballot: MakeBallot(1, 5), Type: EntryBatch, Data: bytes.Repeat([]byte{0xab}, 300)}}},
		{Type: MsgAccepted, From: 4, Ballot: MakeBallot(1, 5), Slot: 100, Commit: 99},
		{Type: MsgCommit, From: 5, Ballot: MakeBallot(1, 5), Slot: 1, Commit: 100},
		{Type: MsgCatchup, From: 4, Ballot: MakeBallot(1, 5), Slot: 3},
		{Type: MsgSnapshot, From: 5, Ballot: MakeBallot(1, 5), Slot: 1, Commit: 100, Snapshot: &Snapshot{Slot: 90}},
		{Type: MsgPrePrepare, From: 3, Ballot: MakeBallot(12, 3), Slot: 101},
		{Type: MsgPrePromise, From: 1, Ballot: MakeBallot(12, 3), Slot: 101, Commit: 100},
		{Type: MsgPrePromise, From: 2, Ballot: MakeBallot(11, 5), Slot: 101, Commit: 99, Reject: true},
		{Type: MsgCommit, From: 5, Ballot: MakeBallot(1, 5), Slot: 1, Commit: 100, Round: 1<<40 + 3},
		{Type: MsgAccepted, From: 4, Ballot: MakeBallot(1, 5), Slot: 100, Commit: 99, Round: 7},
		{Type: MsgReadIndex, From: 2, Ballot: MakeBallot(1, 5), Round: 0xfedcba9876543210, Lease: true},
		{Type: MsgReadIndexResp, From: 5, Ballot: MakeBallot(1, 5), Round: 0xfedcba9876543210, Commit: 77},
		{Type: MsgReadIndexResp, From: 5, Ballot: MakeBallot(1, 5), Round: 9, Reject: true},
		{Type: MsgCommit, From: 5, Ballot: MakeBallot(1, 5), Slot: 1, Commit: 8, Round: 4, Chosen: true,
			Entries: []Entry{{Slot: 8, Ballot: MakeBallot(1, 5), Type: EntryBatch, Data: []byte("chosen")}}},
		{Type: MsgAccept, From: 1, Ballot: MakeBallot(2, 1), Slot: 5, Commit: 6,
			Entries: []Entry{{Slot: 7, Ballot: MakeBallot(2, 1), Type: EntryConfChange, Data: newMembership([]NodeID{1, 2, 3}, []NodeID{4}).marshal()}}},
		{Type: MsgSnapshot, From: 1, Ballot: MakeBallot(2, 1), Slot: 5, Commit: 9,
			Snapshot: &Snapshot{Slot: 8, Data: []byte("state"), Membership: newMembership([]NodeID{1, 2, 3, 4}, []NodeID{300})}},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b := m.MarshalAppend([]byte("prefix"))
		if got, want := len(b)-len("prefix"), m.Size(); got != want {
			t.Fatalf("%v: MarshalAppend wrote %d bytes, Size says %d", m.Type, got, want)
		}
		var got Message
		if err := got.Unmarshal(b[len("prefix"):]); err != nil {
			t.Fatalf("%v: Unmarshal: %v", m.Type, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip changed the message:\n got %+v\nwant %+v", got, m)
		}
	}
}

func TestMessageUnmarshalRejects(t *testing.T) {
	good := sampleMessages()[1]
	enc := good.MarshalAppend(nil)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", enc[:msgHeaderSize-1]},
		{"truncated entry header", enc[:msgHeaderSize+10]},
		{"truncated entry data", enc[:msgHeaderSize+entryHeaderSize+2]},
		{"truncated snapshot", enc[:len(enc)-1]},
		{"trailing byte", append(append([]byte{}, enc...), 0)},
		{"unknown type", append([]byte{0}, enc[1:]...)},
		{"type too high", append([]byte{byte(maxMessageType + 1)}, enc[1:]...)},
		{"reject flag on a promise", append([]byte{enc[0], enc[1] | flagReject}, enc[2:]...)},
		{"reject flag on a pre-prepare", func() []byte {
			m := Message{Type: MsgPrePrepare, Ballot: 1}
			b := m.MarshalAppend(nil)
			b[1] |= flagReject
			return b
		}()},
		{"unknown flag", append([]byte{enc[0], 0x80}, enc[2:]...)},
		{"lease flag on a promise", append([]byte{enc[0], enc[1] | flagLease}, enc[2:]...)},
		{"chosen flag on an accept", func() []byte {
			m := Message{Type: MsgAccept, Ballot: 1}
			b := m.MarshalAppend(nil)
			b[1] |= flagChosen
			return b
		}()},
		{"lease flag on a read index answer", func() []byte {
			m := Message{Type: MsgReadIndexResp, Ballot: 1}
			b := m.MarshalAppend(nil)
			b[1] |= flagLease
			return b
		}()},
		{"huge entry count", func() []byte {
			b := append([]byte{}, enc...)
			b[40], b[41], b[42], b[43] = 0xff, 0xff, 0xff, 0xff
			return b
		}()},
		{"bad entry type", func() []byte {
			b := append([]byte{}, enc...)
			b[msgHeaderSize+16] = 9
			return b
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			err := m.Unmarshal(tc.b)
			if !errors.Is(err, ErrCorruptMessage) {
				t.Fatalf("Unmarshal = %v, want ErrCorruptMessage", err)
			}
		})
	}
}

func FuzzUnmarshalMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(m.MarshalAppend(nil))
	}
	f.Add([]byte{})
	f.Add(make([]byte, msgHeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.Unmarshal(b); err != nil {
			return
		}
		// Whatever decodes must re-encode to the same bytes.
		if out := m.MarshalAppend(nil); !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, out)
		}
		if m.Size() != len(b) {
			t.Fatalf("Size %d, encoded %d", m.Size(), len(b))
		}
	})
}

func BenchmarkMessageMarshal(b *testing.B) {
	m := Message{Type: MsgAccept, From: 1, Ballot: MakeBallot(1, 1), Slot: 1, Commit: 10,
		Entries: []Entry{{Slot: 11, Ballot: MakeBallot(1, 1), Type: EntryBatch, Data: make([]byte, 64*32)}}}
	buf := make([]byte, 0, m.Size())
	var out Message
	b.ReportAllocs()
	for b.Loop() {
		buf = m.MarshalAppend(buf[:0])
		if err := out.Unmarshal(buf); err != nil {
			b.Fatal(err)
		}
	}
}
