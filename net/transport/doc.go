// Package transport carries frames (package frame) over TCP: between the
// nodes of a cluster (Peers) and between clients and a node (Listen, Dial).
// It gives frame type bytes no meaning beyond the handshake types it
// reserves on peer connections (FirstReservedType..0xFF, see handshake.go);
// it never imports the engine.
//
// # Connections
//
// A Conn owns two goroutines. The reader decodes frames in place from one
// read buffer and calls the Handler with a body that is valid only during the
// call. The writer sleeps until Send queues a frame, then takes every frame
// queued meanwhile and writes them with one writev (net.Buffers): the
// 5-byte headers are built side by side in one scratch array and the iovecs
// alternate header and body, so bodies are never copied or concatenated.
// With frames queueing up, as on a leader streaming Accepts, one writev
// carries hundreds of frames (up to 512, IOV_MAX/2).
//
// A caller with nothing for the writer to gather (one request in flight, a
// lone client's answer, a lightly loaded node's peer messages) can skip the
// writer's wake-up: SendInline, or Send on Peers with SetInlineWrites on,
// writes the frame on the caller's goroutine when nothing is queued and the
// writer is idle. That write never waits either: the socket takes what it
// takes at once and the writer finishes the frame, before any later one.
//
// # Buffer ownership
//
// Send(typ, body) takes ownership of body, a *bytebufferpool.ByteBuffer from
// bytebufferpool.Get, whatever it returns. The writer returns it with
// bytebufferpool.Put right after the writev that carried it; a frame dropped
// (queue full, connection closed, body too large, fault hook) is returned at
// once. The caller must not touch body after Send. Received bodies belong to
// the connection's frame.Reader and are valid until the handler returns.
//
// # Never blocking
//
// The send queue is bounded (ConnConfig.SendQueue frames). When it is full,
// Send drops the frame and returns false: Paxos tolerates lost messages and
// retransmits, while a caller blocked on a dead or slow peer would stall every
// other peer. A writev that cannot finish in WriteTimeout closes the
// connection; a frame that does not arrive in full within FrameTimeout, or no
// frame within IdleTimeout, closes it too (this ends slow-loris senders).
//
// # Peers
//
// Peers keeps one TCP connection per pair of nodes: the smaller id dials, the
// larger accepts, and the dialler redials with exponential backoff. A
// connection's writer that has written nothing for IdleTimeout/3 sends an
// empty keepalive frame (TypeKeepalive), so two nodes with nothing to say
// (two followers) keep their connection: before, they dropped and redialled
// it every IdleTimeout, logging each loss, and a follower elected leader
// could find its links down just when it needed them. Both ends
// prove their cluster id and node id in a handshake; a stranger is refused
// with a logged reason that is also sent back to it. Faults, the run-time
// fault hook, drops and delays peer frames for tests and the benchmark.
//
// # TLS
//
// With ConnConfig.TLS set, connections run over TLS 1.3 (crypto/tls only).
// Peer connections are mutual: the TLS handshake comes first, inside the
// handshake deadline and the MaxPendingHandshakes cap, each end verifies the
// other's chain, and the certificate's URI SAN mpaxos://cluster/<c>/node/<id>
// (identity.go) must name this cluster and the node the hello claims (the
// acceptor) or the node meant (the dialler). A stranger that fails TLS gets
// no reason back; one that passes TLS but claims another node gets a Refuse.
// Certs (certs.go) holds file-backed material that Reload replaces while
// connections use it: handshakes read the current certificate and CA.
//
// The writer's batch is then copied into one buffer and written with one
// tls.Conn.Write (up to 256 KiB; larger bodies go on their own), so a batch
// of small frames is one TLS record: net.Buffers.WriteTo on a tls.Conn
// would make a record, with its overhead and AEAD pass, per header and per
// body. A tls.Conn has no descriptor, so Send never writes inline there. The
// plaintext path is untouched. Closing a TLS Conn closes its TCP socket
// directly: tls.Conn.Close first writes a close-notify alert, which can
// block on a peer that stopped reading.
//
// # Hostile input
//
// Nothing a stranger sends sets aside memory it has not sent. A read buffer
// starts at frame.InitialBufferSize and grows with the bytes that arrive,
// never to the length a header claims; send queues and writev scratch
// arrays likewise grow with the frames queued. A silent connection, or one
// that sent only a header claiming a huge frame, costs a few KiB of heap
// (TestServerHeaderOnlyHeapBound, TestPeersPendingHeapBound).
//
// Every pool of connections has a limit and a reserve. Client connections
// (Server): at most MaxConnsPerIP from one address (one more is refused),
// at most MaxConns in all, and when full, a new connection closes the
// longest-idle one instead of being refused, so idle sockets cannot lock
// clients out; a connection with no frame for IdleTimeout (by default
// DefaultClientIdleTimeout) is closed. Peer connections before their
// handshake: at most MaxPendingHandshakes (one more closes the oldest),
// each for at most HandshakeTimeout, with a reader limited to the
// handshake's size.
//
// # Socket options
//
// TCP_NODELAY is Go's default and stays on: coalescing happens in the writer,
// not in Nagle's algorithm. SO_SNDBUF/SO_RCVBUF are left to the kernel's
// auto-tuning by default. ConnConfig.SocketBufferSize sets them (through
// golang.org/x/sys/unix) for experiments, but BenchmarkConnSocketBuffer
// against BenchmarkConn showed no consistent gain on loopback (256 KiB and
// 4 MiB; medians within the run-to-run noise of a shared 2-core machine, and
// 64-byte frames slower with 4 MiB), so no default sets them. Setting them
// also turns the kernel's auto-tuning off for that socket.
//
// # Syscalls
//
// ConnStats.Writes counts the writer's writev calls. Under strace, 200 000
// streamed 64-byte frames took 400 writev syscalls, the same count, so a
// writev completes in one syscall on loopback.
//
// # Goroutine owners
//
// Conn owns its reader and writer (stopped by Close or the first error). A
// Server owns its accept loop and its connections (stopped by Server.Close).
// Peers owns its accept loop, one dial loop per peer it dials, handshake
// goroutines, its connections and the fault hook's delay goroutine (all
// stopped by Peers.Close). The caller owns a Conn returned by Dial.
package transport
