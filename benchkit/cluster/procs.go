package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mpaxos/mpaxos/internal/timerslack"
)

// Proc is one started child process, in its own process group.
type Proc struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited and been reaped
	err     error         // Wait's result, valid after done
}

// StartProc starts path with args, stdout and stderr appended to logPath.
// The child gets its own process group and SIGKILL when the calling
// process dies (Linux parent-death signal).
//
// The parent-death signal fires when the OS thread that forked the child
// exits, not only the process, and Go ends every thread whose goroutine
// exits locked to it (netns.go's inNetns did, and killed whichever nodes
// had been forked from that thread). So every child is forked on one
// thread kept for that alone (spawner), which never exits while the
// process runs: no goroutine's thread can take a node with it.
func StartProc(name, path string, args []string, logPath string) (*Proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cluster: %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The child gets the timer slack bench had before raising its own
	// (cmd/bench); a node sets its own.
	if err := spawn(func() error { return timerslack.WithOriginal(cmd.Start) }); err != nil {
		logf.Close()
		return nil, fmt.Errorf("cluster: start %s: %w", name, err)
	}
	logf.Close() // the child holds its own descriptor
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// spawner forks every child (spawn) on one OS thread locked for it by a
// goroutine that never returns, so the thread outlives every child and
// their parent-death signal fires only when the process dies.
var spawner struct {
	once sync.Once
	reqs chan func()
}

// spawn runs start on the spawner's thread and returns its error.
func spawn(start func() error) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: this thread is the children's parent
			for f := range spawner.reqs {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	spawner.reqs <- func() { errc <- start() }
	return <-errc
}

// Pid returns the process id (also its process group id).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process group, waits up to grace for the
// process to exit, then SIGKILLs the group. Anything left in the group
// (a child the process spawned) is killed as well. It returns once the
// process is reaped.
func (p *Proc) Stop(grace time.Duration) {
	pg := -p.Pid()
	select {
	case <-p.done:
	default:
		_ = unix.Kill(pg, unix.SIGTERM)
		// A paused (SIGSTOPped) node would only see the SIGTERM once
		// continued.
		_ = unix.Kill(pg, unix.SIGCONT)
		t := time.NewTimer(grace)
		select {
		case <-p.done:
		case <-t.C:
			_ = unix.Kill(pg, unix.SIGKILL)
			<-p.done
		}
		t.Stop()
	}
	// Stragglers in the group (the leader exited, a grandchild did not).
	_ = unix.Kill(pg, unix.SIGKILL)
}

// Kill SIGKILLs the process group and waits for the process.
func (p *Proc) Kill() {
	_ = unix.Kill(-p.Pid(), unix.SIGKILL)
	<-p.done
}

// LogTail returns the last n lines of the process's log, for error messages.
func (p *Proc) LogTail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// ExitError describes a process that exited when it should not have.
func (p *Proc) ExitError() error {
	ok, err := p.Exited()
	if !ok {
		return nil
	}
	if err == nil {
		err = errors.New("exit status 0")
	}
	msg := fmt.Sprintf("cluster: %s exited: %v", p.Name, err)
	if tail := p.LogTail(5); tail != "" {
		msg += "; last log lines (" + p.LogPath + "):\n" + tail
	}
	return errors.New(msg)
}
