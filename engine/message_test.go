package engine

import (
	"fmt"
	"strings"
	"testing"
)

func TestMessageTypeString(t *testing.T) {
	seen := make(map[string]MessageType)
	for typ := MsgPrepare; typ <= maxMessageType; typ++ {
		name := typ.String()
		if !strings.HasPrefix(name, "Msg") {
			t.Errorf("MessageType(%d).String() = %q: no name in messageTypeNames", uint8(typ), name)
			continue
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("MessageType(%d) and MessageType(%d) are both named %q", uint8(prev), uint8(typ), name)
		}
		seen[name] = typ
	}
	for _, tc := range []struct {
		typ  MessageType
		want string
	}{
		{MsgPrepare, "MsgPrepare"},
		{MsgAccepted, "MsgAccepted"},
		{MsgPrePromise, "MsgPrePromise"},
		{0, "MessageType(0)"},
		{maxMessageType + 1, fmt.Sprintf("MessageType(%d)", uint8(maxMessageType+1))},
		{42, "MessageType(42)"},
		{255, "MessageType(255)"},
	} {
		if got := tc.typ.String(); got != tc.want {
			t.Errorf("MessageType(%d).String() = %q, want %q", uint8(tc.typ), got, tc.want)
		}
		// %v is how logs and test failures format it.
		if got := fmt.Sprintf("%v", tc.typ); got != tc.want {
			t.Errorf("%%v of MessageType(%d) = %q, want %q", uint8(tc.typ), got, tc.want)
		}
	}
}
