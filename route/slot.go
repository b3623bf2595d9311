// Package route maps keys to hash slots and slots to Paxos groups: the one
// function the client library, the node and the RESP front end share, so
// that every one of them sends a key to the same group.
//
// A key's slot is Redis Cluster's: CRC16 (XMODEM: polynomial 0x1021,
// initial value 0) of the key, modulo 16384 (KeySlot). If the key holds a
// '{' followed later by a '}' with at least one byte between them, only the
// bytes between the first '{' and the first '}' after it are hashed (a
// "hash tag"), so keys that share a tag share a slot, and so a group. With
// G groups, group g (0-based) owns the contiguous slots
// [g*16384/G, (g+1)*16384/G) (GroupOfSlot, SlotRange), which CLUSTER SLOTS
// describes as one range per group. The test vector in slot_test.go pins
// all of it: changing any of these functions moves keys between groups of
// a running cluster, which must never happen silently.
package route

// Slots is the number of hash slots.
const Slots = 16384

var crc16tab = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for j := 0; j < 8; j++ {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c<<8 ^ crc16tab[byte(c>>8)^x]
	}
	return c
}

// KeySlot returns key's hash slot, honouring hash tags.
func KeySlot(key []byte) int {
	for i, c := range key {
		if c != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				return int(crc16(key)) % Slots
			}
		}
		break
	}
	return int(crc16(key)) % Slots
}

// MaxGroups is the most groups a cluster may run: every group owns at
// least one slot.
const MaxGroups = Slots

// GroupOfSlot returns the group (0-based) of groups that owns slot. groups
// must be 1..MaxGroups.
func GroupOfSlot(slot, groups int) int { return slot * groups / Slots }

// GroupOf returns the group (0-based) of groups that owns key's slot.
func GroupOf(key []byte, groups int) int { return GroupOfSlot(KeySlot(key), groups) }

// SlotRange returns the first and last slot group g of groups owns.
func SlotRange(g, groups int) (first, last int) {
	// The least slot s with s*groups/Slots >= g, for g and g+1.
	first = (g*Slots + groups - 1) / groups
	next := ((g+1)*Slots + groups - 1) / groups
	return first, next - 1
}
