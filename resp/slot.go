package resp

// Redis Cluster's key -> hash slot map, which -MOVED replies and CLUSTER
// SLOTS speak in: CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the
// key, modulo 16384. If the key holds a '{' followed later by a '}' with
// at least one byte between them, only the bytes between the first '{'
// and the first '}' after it are hashed (a "hash tag"), so keys that share
// a tag share a slot. mpaxos runs one group today, which owns every slot;
// the slot still names the key in redirects, as cluster clients expect.

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
