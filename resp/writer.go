package resp

// Reply encoding. A connection speaks RESP2 until HELLO 3 switches it to
// RESP3; the two differ here only in null (RESP2's null bulk "$-1" against
// RESP3's "_") and in maps (RESP2 sends a map as a flat array of keys and
// values). Every function appends to a connection's output buffer, which
// the connection owns and writes out in one call per pipeline burst.

import "strconv"

type proto uint8

const (
	resp2 proto = 2
	resp3 proto = 3
)

func appendSimple(b []byte, s string) []byte {
	b = append(b, '+')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// appendError appends an error reply; msg starts with its code ("ERR ...",
// "MOVED ...") and must hold no CR or LF.
func appendError(b []byte, msg string) []byte {
	b = append(b, '-')
	b = append(b, msg...)
	return append(b, '\r', '\n')
}

func appendInt(b []byte, v int64) []byte {
	b = append(b, ':')
	b = strconv.AppendInt(b, v, 10)
	return append(b, '\r', '\n')
}

func appendBulk(b, v []byte) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

func appendBulkString(b []byte, v string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

func appendNull(b []byte, p proto) []byte {
	if p == resp3 {
		return append(b, '_', '\r', '\n')
	}
	return append(b, "$-1\r\n"...)
}

func appendArray(b []byte, n int) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// appendMap starts a map of n pairs: a RESP3 map, or in RESP2 an array of
// 2n elements.
func appendMap(b []byte, n int, p proto) []byte {
	if p == resp3 {
		b = append(b, '%')
		b = strconv.AppendInt(b, int64(n), 10)
		return append(b, '\r', '\n')
	}
	return appendArray(b, 2*n)
}
