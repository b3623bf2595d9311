package transport

import (
	"net"

	"golang.org/x/sys/unix"
)

// setSockOpts applies the socket options in cfg. TCP_NODELAY needs nothing:
// Go sets it on every TCP connection, and the writer's coalescing is what
// batches small frames instead of Nagle's algorithm.
func setSockOpts(nc net.Conn, cfg ConnConfig) {
	if cfg.SocketBufferSize <= 0 {
		return
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, cfg.SocketBufferSize)
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.SocketBufferSize)
	})
}
