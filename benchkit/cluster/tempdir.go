package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A run's temporary directory is named for the bench process that made it:
//
//	$TMPDIR/mpaxos-bench-<pid>-<kind>-<random>    kind: data or bin
//	$TMPDIR/mpaxos-bench-kept-<random>            -keep: left to the user
//
// A bench that is killed (SIGKILL, OOM, a closed terminal) cannot remove
// its directory, and a 3-node run's can hold gigabytes; the next bench
// removes every directory of the first form whose pid no longer runs
// (RemoveStale). A kept directory, the rescued results (results package)
// and anything not of this form are never touched.
const tempPrefix = "mpaxos-bench-"

// Kinds of run directory.
const (
	TempData = "data" // the nodes' data and logs (Start)
	TempBin  = "bin"  // a cmd/node built once for a sweep
)

// MkdirRun creates a run directory of kind under parent ("" is the
// system's temporary directory); with keep it is named as kept, which
// RemoveStale leaves alone.
func MkdirRun(parent, kind string, keep bool) (string, error) {
	pattern := fmt.Sprintf("%s%d-%s-", tempPrefix, os.Getpid(), kind)
	if keep {
		pattern = tempPrefix + "kept-"
	}
	dir, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	return dir, nil
}

// RemoveStale removes parent's run directories ("" is the system's
// temporary directory) whose bench process no longer runs, and returns
// the ones it removed. A pid reused by another process keeps its
// directory until that process ends: a directory is only removed when no
// process can be using it.
func RemoveStale(parent string) ([]string, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		pid, ok := runDirPid(e.Name())
		if !ok || !e.IsDir() || alive(pid) {
			continue
		}
		p := filepath.Join(parent, e.Name())
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}

// runDirPid returns the pid in a run directory's name.
func runDirPid(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, tempPrefix)
	if !ok {
		return 0, false
	}
	f := strings.SplitN(rest, "-", 3)
	if len(f) != 3 || (f[1] != TempData && f[1] != TempBin) || f[2] == "" {
		return 0, false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// alive reports whether a process with pid exists (EPERM: it does, owned
// by someone else) and is not a zombie: a bench killed -9 stays one until
// its parent reaps it, and uses nothing meanwhile.
func alive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return (err == nil || errors.Is(err, syscall.EPERM)) && !zombie(pid)
}

// zombie reports whether /proc says pid has exited and awaits its reaping
// (state Z, after the parenthesized command name in /proc/PID/stat).
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
