package kv

import (
	"bytes"
	"math"
	"testing"
)

// The ops the Redis front end needs round-trip in the command format.
func TestRedisOpsRoundTrip(t *testing.T) {
	for _, c := range []Command{
		{ClientID: 1, Token: 2, Seq: 3, Op: OpIncr, Key: []byte("n"), Delta: -7},
		{ClientID: 1, Seq: 4, Op: OpIncr, Key: []byte("n"), Delta: math.MinInt64},
		{ClientID: 1, Seq: 5, Op: OpPutNX, Key: []byte("k"), Value: []byte("v")},
		{ClientID: 1, Seq: 6, Op: OpPutXX, Key: []byte("k"), Value: []byte("w")},
	} {
		b := AppendCommand(nil, &c)
		if len(b) != CommandSize(&c) {
			t.Fatalf("%v: encoded %d bytes, CommandSize %d", c.Op, len(b), CommandSize(&c))
		}
		got, err := DecodeCommand(b)
		if err != nil {
			t.Fatalf("%v: %v", c.Op, err)
		}
		if !commandsEqual(got, c) || got.Delta != c.Delta {
			t.Fatalf("decoded %+v, want %+v", got, c)
		}
		if _, err := DecodeCommand(b[:len(b)-1]); err == nil {
			t.Fatalf("%v: truncated command decoded", c.Op)
		}
	}
	b := AppendCommand(nil, &Command{Op: OpPutXX, Key: []byte("k")})
	b[0] = byte(opMax + 1)
	if _, err := DecodeCommand(b); err == nil {
		t.Fatal("op past the last one decoded")
	}
}

func TestIncr(t *testing.T) {
	tests := []struct {
		name   string
		start  []byte // nil: key absent
		delta  int64
		status Status
		value  string // the Result's value
		after  string // the key's value afterwards ("" with start nil and failure: absent)
	}{
		{"absent counts as zero", nil, 1, StatusOK, "1", "1"},
		{"adds", []byte("41"), 1, StatusOK, "42", "42"},
		{"negative", []byte("5"), -10, StatusOK, "-5", "-5"},
		{"not a number", []byte("abc"), 1, StatusCASFailed, "abc", "abc"},
		{"plus sign refused", []byte("+1"), 1, StatusCASFailed, "+1", "+1"},
		{"leading zero refused", []byte("01"), 1, StatusCASFailed, "01", "01"},
		{"empty refused", []byte(""), 1, StatusCASFailed, "", ""},
		{"overflow", []byte("9223372036854775807"), 1, StatusCASFailed, "9223372036854775807", "9223372036854775807"},
		{"underflow", []byte("-9223372036854775808"), -1, StatusCASFailed, "-9223372036854775808", "-9223372036854775808"},
		{"min plus max", []byte("-9223372036854775808"), math.MaxInt64, StatusOK, "-1", "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMachine(t, DefaultSessionTTL)
			if tt.start != nil {
				m.Apply(1, Command{Op: OpPut, Key: []byte("n"), Value: tt.start})
			}
			r, _ := m.Apply(2, Command{Op: OpIncr, Key: []byte("n"), Delta: tt.delta})
			if r.Status != tt.status || string(r.Value) != tt.value {
				t.Fatalf("got %v %q, want %v %q", r.Status, r.Value, tt.status, tt.value)
			}
			v, ok := m.Get([]byte("n"))
			if ok != (tt.start != nil || tt.status == StatusOK) || string(v) != tt.after {
				t.Fatalf("key holds %q (found %v), want %q", v, ok, tt.after)
			}
		})
	}
}

// A retried increment is answered from the session, not added twice.
func TestIncrExactlyOnce(t *testing.T) {
	m := newMachine(t, DefaultSessionTTL)
	c := Command{ClientID: 9, Token: 1, Seq: 1, Op: OpIncr, Key: []byte("n"), Delta: 5}
	m.Apply(1, c)
	r, dup := m.Apply(2, c)
	if !dup || string(r.Value) != "5" {
		t.Fatalf("retry: dup %v value %q", dup, r.Value)
	}
	if v, _ := m.Get([]byte("n")); string(v) != "5" {
		t.Fatalf("key holds %q after a retried increment", v)
	}
}

func TestPutNXXX(t *testing.T) {
	m := newMachine(t, DefaultSessionTTL)
	k := []byte("k")
	step := func(slot uint64, op Op, v string, want Status, holds string) {
		t.Helper()
		r, _ := m.Apply(slot, Command{Op: op, Key: k, Value: []byte(v)})
		if r.Status != want {
			t.Fatalf("%v %q: %v, want %v", op, v, r.Status, want)
		}
		got, ok := m.Get(k)
		if holds == "" && ok || holds != "" && !bytes.Equal(got, []byte(holds)) {
			t.Fatalf("after %v %q the key holds %q (found %v), want %q", op, v, got, ok, holds)
		}
	}
	step(1, OpPutXX, "a", StatusNotFound, "")
	step(2, OpPutNX, "b", StatusOK, "b")
	step(3, OpPutNX, "c", StatusCASFailed, "b")
	step(4, OpPutXX, "d", StatusOK, "d")
}
