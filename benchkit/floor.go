package benchkit

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/hist"
)

// Floor is the least a synced write can take on this machine, from the
// parts no consensus protocol avoids: a client's request reaches the
// leader and its reply comes back (one loopback round trip), the leader's
// accept reaches a follower and its acknowledgement comes back (another),
// and the write is on disk (one fdatasync, the leader's and the
// followers' in parallel). Measured, not assumed: each part is timed here,
// in this process, on the same filesystem and loopback the nodes use.
type Floor struct {
	Sync hist.Percentiles `json:"fdatasync"`
	RTT  hist.Percentiles `json:"loopback_rtt"`
	// FloorNs is Sync.P50 + 2 RTT.P50.
	FloorNs int64 `json:"floor_ns"`
	// Dir is where the syncs were timed.
	Dir string `json:"dir"`
}

// floorRecord is the size of the record each timed sync makes durable:
// about one small batch.
const floorRecord = 256

// MeasureFloor times syncs fdatasyncs of a small appended record in a
// temporary file under dir ("" is the system's temporary directory, where
// bench puts the nodes' data) and rtts round trips of a 64-byte message
// over a loopback TCP connection, after a few of each to warm up.
func MeasureFloor(dir string, syncs, rtts int) (Floor, error) {
	if syncs < 1 || rtts < 1 {
		return Floor{}, errors.New("benchkit: floor: syncs and rtts must be at least 1")
	}
	f := Floor{Dir: dir}
	if f.Dir == "" {
		f.Dir = os.TempDir()
	}
	var err error
	if f.Sync, err = timeSyncs(f.Dir, syncs); err != nil {
		return Floor{}, err
	}
	if f.RTT, err = timeRTTs(rtts); err != nil {
		return Floor{}, err
	}
	f.FloorNs = f.Sync.P50 + 2*f.RTT.P50
	return f, nil
}

func timeSyncs(dir string, n int) (hist.Percentiles, error) {
	tmp, err := os.MkdirTemp(dir, "mpaxos-floor-")
	if err != nil {
		return hist.Percentiles{}, fmt.Errorf("benchkit: floor: %w", err)
	}
	defer os.RemoveAll(tmp)
	file, err := os.OpenFile(filepath.Join(tmp, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return hist.Percentiles{}, fmt.Errorf("benchkit: floor: %w", err)
	}
	defer file.Close()
	rec := make([]byte, floorRecord)
	h := hist.New()
	const warm = 5
	for i := 0; i < warm+n; i++ {
		start := time.Now()
		if _, err := file.Write(rec); err != nil {
			return hist.Percentiles{}, fmt.Errorf("benchkit: floor: write: %w", err)
		}
		if err := fdatasync(file); err != nil {
			return hist.Percentiles{}, fmt.Errorf("benchkit: floor: sync: %w", err)
		}
		if i >= warm {
			h.RecordValue(time.Since(start).Nanoseconds())
		}
	}
	return hist.Summarize(h), nil
}

func timeRTTs(n int) (hist.Percentiles, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return hist.Percentiles{}, fmt.Errorf("benchkit: floor: %w", err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo until the client closes
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		return hist.Percentiles{}, fmt.Errorf("benchkit: floor: %w", err)
	}
	defer c.Close()
	// Bounds the whole measurement: an echo that stops answering fails it.
	c.SetDeadline(time.Now().Add(time.Minute))
	msg := make([]byte, 64)
	h := hist.New()
	const warm = 50
	for i := 0; i < warm+n; i++ {
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			return hist.Percentiles{}, fmt.Errorf("benchkit: floor: loopback write: %w", err)
		}
		if _, err := io.ReadFull(c, msg); err != nil {
			return hist.Percentiles{}, fmt.Errorf("benchkit: floor: loopback read: %w", err)
		}
		if i >= warm {
			h.RecordValue(time.Since(start).Nanoseconds())
		}
	}
	return hist.Summarize(h), nil
}
