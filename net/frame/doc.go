// Package frame reads and writes the length-prefixed frames that every mpaxos
// TCP connection carries, between peers and with clients.
//
// A frame is a 4-byte big-endian body length, one type byte and the body (the
// layout is drawn in frame.go). The type byte is opaque here: the layers above
// (the transport's handshake, the engine's messages, the client protocol) give
// it meaning. The length is checked against a configurable maximum before any
// memory is set aside for the body, so a corrupt or hostile length prefix costs
// an error ([ErrFrameTooLarge]) and a closed connection, never an allocation.
//
// [Reader] decodes frames in place from one read buffer: a body is a slice of
// that buffer, valid until the next call to [Reader.Next]. The buffer starts
// small and grows with the bytes that arrive, never to a length a header
// claims, so a connection that sends only a header claiming a huge frame
// costs [InitialBufferSize] bytes. Writing is
// left to the caller: [AppendHeader] builds the 5-byte header so that header
// and body can go out as separate slices of one writev without being copied
// together (see package transport).
package frame
