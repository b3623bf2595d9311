package benchkit

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync makes f's data durable as the store's WAL does on Linux.
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
