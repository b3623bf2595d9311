package transport

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"

	"github.com/mpaxos/mpaxos/net/frame"
)

// countingConn counts the writes to the socket under a tls.Conn: one per
// TLS record.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// tlsPair returns a TLS connection dialled over a counting socket and the
// server's end of it, handshakes done.
func tlsPair(t *testing.T) (*tls.Conn, *countingConn, *tls.Conn) {
	t.Helper()
	ca := testCA(t, "pair")
	srv := nodeCerts(t, ca, 7, 1, certOpts{})
	cli := nodeCerts(t, ca, 7, 2, certOpts{})
	ln := listenLoopback(t)
	accepted := make(chan *tls.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		tc := tls.Server(nc, srv.PeerTLS())
		if tc.Handshake() != nil {
			tc = nil
		}
		accepted <- tc
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: raw}
	tc := tls.Client(cc, cli.PeerTLS())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	st := <-accepted
	if st == nil {
		t.Fatal("server handshake failed")
	}
	t.Cleanup(func() { tc.Close(); st.Close() })
	return tc, cc, st
}

// TestTLSBatchIsOneWrite: a batch of small frames on a TLS connection is
// written with one tls.Conn.Write, so one record, where writing the
// iovecs one by one would make a record per header and per body.
func TestTLSBatchIsOneWrite(t *testing.T) {
	tc, cc, st := tlsPair(t)
	c := newConn(tc, frame.NewReader(tc, 4096, 1<<20), DefaultConnConfig(), func(*Conn, byte, []byte) {})
	const n = 100
	for i := range n {
		c.batch = append(c.batch, outFrame{typ: byte(i), body: pooled(pattern(byte(i), 60))})
	}
	before := cc.writes.Load()
	if err := c.writeBatch(); err != nil {
		t.Fatal(err)
	}
	if w := cc.writes.Load() - before; w != 1 {
		t.Fatalf("a batch of %d small frames took %d socket writes (TLS records), want 1", n, w)
	}
	rd := frame.NewReader(st, 4096, 1<<20)
	for i := range n {
		typ, body, err := rd.Next()
		if err != nil || typ != byte(i) || !bytes.Equal(body, pattern(byte(i), 60)) {
			t.Fatalf("frame %d: type %d, %d bytes, err %v", i, typ, len(body), err)
		}
	}
	// A body larger than the copy buffer is written from its own buffer,
	// and still arrives whole after the small frame before it.
	big := pattern(9, 3*maxCopiedWrite)
	c.batch = append(c.batch, outFrame{typ: 1, body: pooled([]byte("x"))}, outFrame{typ: 2, body: pooled(big)})
	wrote := make(chan error, 1)
	go func() { wrote <- c.writeBatch() }()
	if typ, body, err := rd.Next(); err != nil || typ != 1 || string(body) != "x" {
		t.Fatalf("small frame: %d %q %v", typ, body, err)
	}
	if typ, body, err := rd.Next(); err != nil || typ != 2 || !bytes.Equal(body, big) {
		t.Fatalf("big frame: %d, %d bytes, %v", typ, len(body), err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if cap(c.wbuf) > maxCopiedWrite {
		t.Fatalf("copy buffer grew to %d, above %d", cap(c.wbuf), maxCopiedWrite)
	}
}

// TestFrameDecoderBehindTLS runs the frame decoder's fuzz seeds and random
// byte streams through a TLS connection: it decodes exactly what it
// decodes from the same bytes in memory, frames and error alike, however
// TLS records split them.
func TestFrameDecoderBehindTLS(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := [][]byte{
		frame.AppendHeader(nil, 1, 0),
		append(frame.AppendHeader(nil, 2, 5), "hello"...),
		frame.AppendHeader(nil, 3, 1<<30), // above the limit
		{0xff, 0xff, 0xff},                // a truncated header
	}
	for range 40 {
		var b []byte
		for range rng.IntN(20) {
			n := rng.IntN(3000)
			b = append(frame.AppendHeader(b, byte(rng.IntN(256)), n), pattern(byte(n), n)...)
		}
		if rng.IntN(2) == 0 { // then garbage
			g := make([]byte, rng.IntN(64))
			for i := range g {
				g[i] = byte(rng.Uint32())
			}
			b = append(b, g...)
		}
		inputs = append(inputs, b)
	}
	decode := func(rd *frame.Reader) (out []string) {
		for {
			typ, body, err := rd.Next()
			if err != nil {
				switch {
				case errors.Is(err, io.EOF):
					return append(out, "eof")
				case errors.Is(err, frame.ErrFrameTooLarge):
					return append(out, "too large")
				case errors.Is(err, frame.ErrMalformed):
					return append(out, "malformed")
				}
				return append(out, "other: "+err.Error())
			}
			out = append(out, fmt.Sprintf("%d:%x", typ, body))
		}
	}
	for i, in := range inputs {
		want := decode(frame.NewReader(bytes.NewReader(in), 1024, 64<<10))
		tc, _, st := tlsPair(t)
		go func() {
			tc.Write(in)
			tc.CloseWrite()
		}()
		got := decode(frame.NewReader(st, 1024, 64<<10))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("input %d (%d bytes): behind TLS %d results, in memory %d\n got %.200q\nwant %.200q", i, len(in), len(got), len(want), got, want)
		}
	}
}
