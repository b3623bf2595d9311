package route

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

// The groups of a fixed set of keys at a few group counts: the routing
// test vector. A change here moves keys between the groups of running
// clusters.
func TestGroupOfVector(t *testing.T) {
	for _, tt := range []struct {
		key    string
		groups int
		want   int
	}{
		{"foo", 1, 0}, {"foo", 2, 1}, {"foo", 3, 2}, {"foo", 8, 5}, {"foo", 16384, 12182},
		{"bar", 2, 0}, {"bar", 3, 0}, {"bar", 8, 2},
		{"{user1000}.following", 8, 1}, {"{user1000}.followers", 8, 1},
		{"", 8, 0},
	} {
		if got := GroupOf([]byte(tt.key), tt.groups); got != tt.want {
			t.Errorf("GroupOf(%q, %d) = %d, want %d", tt.key, tt.groups, got, tt.want)
		}
	}
}

// SlotRange and GroupOfSlot agree: the ranges tile the slots in order, and
// every slot of a range maps to its group.
func TestSlotRangeTiles(t *testing.T) {
	for _, groups := range []int{1, 2, 3, 5, 7, 16, 100, 16383, 16384} {
		next := 0
		for g := 0; g < groups; g++ {
			first, last := SlotRange(g, groups)
			if first != next || last < first {
				t.Fatalf("groups %d: group %d owns %d..%d, want it to start at %d", groups, g, first, last, next)
			}
			for _, s := range []int{first, last} {
				if got := GroupOfSlot(s, groups); got != g {
					t.Fatalf("groups %d: slot %d in group %d's range maps to group %d", groups, s, g, got)
				}
			}
			next = last + 1
		}
		if next != Slots {
			t.Fatalf("groups %d: the ranges end at %d, not %d", groups, next, Slots)
		}
	}
}
