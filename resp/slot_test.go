package resp

import "testing"

// The values are Redis's own (CLUSTER KEYSLOT) and the CRC16 check value
// the Redis Cluster specification gives.
func TestKeySlot(t *testing.T) {
	if c := crc16([]byte("123456789")); c != 0x31c3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3", c)
	}
	for _, tt := range []struct {
		key  string
		slot int
	}{
		{"foo", 12182},
		{"bar", 5061},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"user1000", 3443},
		{"", 0},
	} {
		if got := KeySlot([]byte(tt.key)); got != tt.slot {
			t.Errorf("KeySlot(%q) = %d, want %d", tt.key, got, tt.slot)
		}
	}
	// The specification's examples of which bytes are hashed.
	for _, tt := range []struct{ key, hashed string }{
		{"foo{}{bar}", "foo{}{bar}"}, // an empty first tag: the whole key
		{"foo{{bar}}zap", "{bar"},    // from the first '{' to the first '}' after it
		{"foo{bar}{zap}", "bar"},
		{"{bar", "{bar"},
	} {
		if got, want := KeySlot([]byte(tt.key)), int(crc16([]byte(tt.hashed)))%Slots; got != want {
			t.Errorf("KeySlot(%q) = %d, want the slot of %q, %d", tt.key, got, tt.hashed, want)
		}
	}
}
