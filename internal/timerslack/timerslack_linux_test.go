package timerslack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary act as a process calling Set (TestMain).
const childEnv = "TIMERSLACK_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := Set(time.Millisecond); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		slacks, err := ThreadSlacks(os.Getpid())
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		_, marked := os.LookupEnv(reexecEnv)
		fmt.Printf("original=%d marked=%v threads=%s\n", original, marked, strings.Join(slacks, ","))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSet: a process calling Set re-executes once, after which every one of
// its threads has the slack, it knows the slack it had before, and its
// environment no longer carries the re-execution mark (which its children
// would otherwise inherit).
func TestSet(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mine, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if mine == int(time.Millisecond) {
		t.Skip("this test process already has a 1 ms slack")
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := fmt.Sprintf("original=%d marked=false threads=1000000\n", time.Duration(mine))
	if strings.Contains(string(out), "permission denied") {
		t.Skipf("the kernel does not let this test read thread slacks: %s", out)
	}
	if string(out) != want {
		t.Fatalf("child printed %q, want %q", out, want)
	}
}

// TestWithOriginal: a child started through WithOriginal gets the slack the
// process had before Set, not the current one, and the starting thread
// gets its slack back.
func TestWithOriginal(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	const raised, before = 2 * time.Millisecond, 70 * time.Microsecond
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(raised), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(cur), 0, 0, 0)
	original = before
	defer func() { original = 0 }()

	child := exec.Command("sleep", "30")
	if err := WithOriginal(child.Start); err != nil {
		t.Fatal(err)
	}
	defer func() {
		child.Process.Kill()
		child.Wait()
	}()
	got, err := ThreadSlacks(child.Process.Pid)
	if errors.Is(err, fs.ErrPermission) {
		t.Skipf("the kernel does not let this test read thread slacks: %v", err)
	}
	if err != nil || !slices.Equal(got, []string{strconv.Itoa(int(before))}) {
		t.Fatalf("child's slack %v (%v), want %d", got, err, before)
	}
	if now, _ := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0); now != int(raised) {
		t.Fatalf("starting thread's slack %d afterwards, want %d back", now, raised)
	}
}
