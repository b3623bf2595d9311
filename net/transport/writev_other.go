//go:build !(linux || darwin || openbsd)

package transport

// inlineWrites says whether this platform has what sendInline needs: here
// Send always queues.
const inlineWrites = false

func writev(fd uintptr, iov [][]byte) (int, error) { panic("transport: writev is not available here") }
