//go:build linux || darwin || openbsd

package transport

import "golang.org/x/sys/unix"

// inlineWrites says whether this platform has what sendInline needs.
const inlineWrites = true

func writev(fd uintptr, iov [][]byte) (int, error) { return unix.Writev(int(fd), iov) }
