package kv

import (
	"bytes"
	"errors"
	"testing"
)

func TestRequestRoundTrip(t *testing.T) {
	tests := []Request{
		{ReqID: 1, Cmd: Command{ClientID: 5, Seq: 1, Op: OpPut, Key: []byte("k"), Value: []byte("v")}},
		{ReqID: 1<<64 - 1, Read: ReadStale, Cmd: Command{ClientID: 5, Seq: 2, Op: OpGet, Key: []byte("k")}},
		{ReqID: 7, Read: ReadLog, Cmd: Command{ClientID: 5, Seq: 4, Op: OpGet, Key: []byte("k")}},
		{ReqID: 8, Read: ReadIndex, Cmd: Command{ClientID: 5, Seq: 5, Op: OpGet, Key: []byte("k")}},
		{ReqID: 9, Read: ReadLease, Cmd: Command{ClientID: 5, Seq: 6, Op: OpGet, Key: []byte("k")}},
		{ReqID: 0, Cmd: Command{ClientID: 5, Seq: 3, Op: OpCAS, Key: []byte("k"), Expect: []byte("v"), Value: []byte("w")}},
	}
	for _, r := range tests {
		b := AppendRequest(nil, &r)
		got, err := DecodeRequest(b)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if got.ReqID != r.ReqID || got.Read != r.Read || !commandsEqual(got.Cmd, r.Cmd) {
			t.Fatalf("decoded %+v, want %+v", got, r)
		}
		// The command part is exactly the batch format of the command.
		if !bytes.Equal(b[RequestHeaderSize:], AppendCommand(nil, &r.Cmd)) {
			t.Fatalf("request does not end with the encoded command")
		}
	}
}

func TestDecodeRequestMalformed(t *testing.T) {
	ok := AppendRequest(nil, &Request{ReqID: 1, Cmd: Command{ClientID: 5, Seq: 1, Op: OpGet, Key: []byte("k")}})
	tests := map[string][]byte{
		"empty":       nil,
		"header only": ok[:RequestHeaderSize],
		"bad flags":   withFlags(ok, 8),
		"high flags":  withFlags(ok, 0x80),
		"stale+lease": withFlags(ok, flagStale|byte(ReadLease)<<flagModeShift),
		"stale+log":   withFlags(ok, flagStale|byte(ReadLog)<<flagModeShift),
		"bad command": append(append([]byte(nil), ok...), 0),
	}
	for name, b := range tests {
		if _, err := DecodeRequest(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: DecodeRequest = %v, want ErrMalformed", name, err)
		}
	}
}

func withFlags(req []byte, flags byte) []byte {
	b := append([]byte(nil), req...)
	b[8] = flags
	return b
}

// TestRequestOldFlags: the flags of clients that predate read modes (0,
// and 1 for a stale get) decode to the same requests as before.
func TestRequestOldFlags(t *testing.T) {
	req := AppendRequest(nil, &Request{ReqID: 1, Cmd: Command{ClientID: 5, Seq: 1, Op: OpGet, Key: []byte("k")}})
	for flags, want := range map[byte]ReadMode{0: ReadDefault, 1: ReadStale} {
		r, err := DecodeRequest(withFlags(req, flags))
		if err != nil || r.Read != want {
			t.Errorf("flags %d: read %v, %v; want %v", flags, r.Read, err, want)
		}
	}
}

func TestParseReadMode(t *testing.T) {
	for m := ReadDefault; m <= ReadStale; m++ {
		got, err := ParseReadMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseReadMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	for _, bad := range []string{"", "Lease", "quorum"} {
		if _, err := ParseReadMode(bad); !errors.Is(err, ErrReadMode) {
			t.Errorf("ParseReadMode(%q) = %v, want ErrReadMode", bad, err)
		}
	}
	if ReadStale.Linearizable() || !ReadLease.Linearizable() || !ReadDefault.Linearizable() {
		t.Errorf("only stale reads are not linearizable")
	}
}

func TestResponseRoundTrip(t *testing.T) {
	tests := []Response{
		{ReqID: 1, Status: StatusOK, Node: 1, Leader: 1, Value: []byte("value")},
		{ReqID: 2, Status: StatusNotFound, Node: 2, Leader: 1},
		{ReqID: 3, Status: StatusNotLeader, Node: 3, Leader: 0},
		{ReqID: 4, Status: StatusCASFailed, Node: 65535, Leader: 65535, Value: []byte("cur")},
		{ReqID: 5, Status: StatusBadRequest},
	}
	for _, r := range tests {
		b := AppendResponse(nil, &r)
		if len(b) != ResponseHeaderSize+len(r.Value) {
			t.Fatalf("%+v: %d bytes", r, len(b))
		}
		got, err := DecodeResponse(b)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if got.ReqID != r.ReqID || got.Status != r.Status || got.Node != r.Node ||
			got.Leader != r.Leader || !bytes.Equal(got.Value, r.Value) {
			t.Fatalf("decoded %+v, want %+v", got, r)
		}
	}
}

func TestDecodeResponseMalformed(t *testing.T) {
	ok := AppendResponse(nil, &Response{ReqID: 1, Status: StatusOK})
	for name, b := range map[string][]byte{
		"empty":       nil,
		"short":       ok[:ResponseHeaderSize-1],
		"status zero": append(append(append([]byte(nil), ok[:8]...), 0), ok[9:]...),
		"status high": append(append(append([]byte(nil), ok[:8]...), 255), ok[9:]...),
	} {
		if _, err := DecodeResponse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: DecodeResponse = %v, want ErrMalformed", name, err)
		}
	}
}

func TestFrameTypesAvoidTransportRange(t *testing.T) {
	if FrameRequest < 16 || FrameResponse < 16 || FrameRequest == FrameResponse {
		t.Fatalf("frame types %d, %d: must be distinct and >= 16", FrameRequest, FrameResponse)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(AppendRequest(nil, &Request{ReqID: 1, Read: ReadStale, Cmd: Command{ClientID: 5, Seq: 2, Op: OpGet, Key: []byte("k")}}))
	f.Add(AppendRequest(nil, &Request{ReqID: 2, Read: ReadLease, Cmd: Command{ClientID: 5, Seq: 3, Op: OpGet, Key: []byte("k")}}))
	f.Add(AppendRequest(nil, &Request{ReqID: 3, Read: ReadIndex, Cmd: Command{ClientID: 5, Seq: 4, Op: OpGet, Key: []byte("k")}}))
	f.Add(AppendRequest(nil, &Request{ReqID: 9, Cmd: Command{ClientID: 5, Seq: 3, Op: OpCAS, Key: []byte("k"), Expect: []byte("a"), Value: []byte("b")}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if again := AppendRequest(nil, &r); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, again)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add(AppendResponse(nil, &Response{ReqID: 1, Status: StatusOK, Node: 1, Leader: 2, Value: []byte("v")}))
	f.Add(AppendResponse(nil, &Response{ReqID: 2, Status: StatusNotLeader, Node: 3}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResponse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if again := AppendResponse(nil, &r); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, again)
		}
	})
}

func TestNotLeaderInfoRoundTrip(t *testing.T) {
	for _, i := range []NotLeaderInfo{{0, 1}, {3, 8}, {63, 64}} {
		b := AppendNotLeaderInfo(nil, i)
		got, ok := DecodeNotLeaderInfo(b)
		if !ok || got != i || len(b) != NotLeaderInfoSize {
			t.Fatalf("%+v: encoded %x, decoded %+v %v", i, b, got, ok)
		}
	}
	for _, b := range [][]byte{nil, {1, 0, 1}, {8, 0, 8, 0}, {0, 0, 0, 0}} {
		if i, ok := DecodeNotLeaderInfo(b); ok {
			t.Errorf("%x decoded as %+v", b, i)
		}
	}
}

func FuzzDecodeNotLeaderInfo(f *testing.F) {
	f.Add(AppendNotLeaderInfo(nil, NotLeaderInfo{3, 8}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		i, ok := DecodeNotLeaderInfo(b)
		if !ok {
			return
		}
		if i.Group >= i.Groups {
			t.Fatalf("accepted group %d of %d", i.Group, i.Groups)
		}
		if got := AppendNotLeaderInfo(nil, i); string(got) != string(b) {
			t.Fatalf("%x decoded to %+v, which encodes as %x", b, i, got)
		}
	})
}
