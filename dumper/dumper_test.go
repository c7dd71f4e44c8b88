package dumper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/internal/self"
	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/migrate-dev/migrate/internal/workload"
)

func TestMain(m *testing.M) {
	if err := self.CloexecInherited(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func startSleep(t *testing.T, extra ...*os.File) *exec.Cmd {
	t.Helper()
	testutil.RequireRoot(t)
	cmd := exec.Command("sleep", "1000")
	cmd.ExtraFiles = extra
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(50 * time.Millisecond)
	return cmd
}

// fingerprint is what an aborted checkpoint must leave unchanged.
type fingerprint struct {
	maps, fds, status string
}

func take(t *testing.T, pid int) fingerprint {
	t.Helper()
	var fp fingerprint
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	fp.maps = string(b)
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range ents {
		fp.fds += e.Name() + " "
	}
	st, err := procfs.Status(pid)
	if err != nil {
		t.Fatal(err)
	}
	fp.status = fmt.Sprintf("state %c tracer %d blk %#x pnd %#x", st.State, st.TracerPid, st.SigBlk, st.SigPnd)
	return fp
}

// settled compares pid with before until they match or a second passes:
// a process just let go may still be running the system call it was
// interrupted in (state R) before it sleeps again (S).
func settled(t *testing.T, pid int, before fingerprint) string {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		d := before.diff(take(t, pid))
		if d == "" || time.Now().After(deadline) {
			return d
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (a fingerprint) diff(b fingerprint) string {
	var d []string
	if a.maps != b.maps {
		d = append(d, "maps:\n"+a.maps+"\n->\n"+b.maps)
	}
	if a.fds != b.fds {
		d = append(d, "fds "+a.fds+" -> "+b.fds)
	}
	if a.status != b.status {
		d = append(d, a.status+" -> "+b.status)
	}
	return strings.Join(d, "; ")
}

func startWorkload(t *testing.T, name string, args ...string) *workload.Proc {
	return testutil.StartWorkload(t, name, args...)
}

// TestUnsupportedFDLeavesProcess: the fds workload holds a pipe, which is
// refused; it keeps running with every descriptor, offset and flag as it
// was (it checks them itself).
func TestUnsupportedFDLeavesProcess(t *testing.T) {
	p := startWorkload(t, "fds")
	before := take(t, p.PID)
	dir := filepath.Join(t.TempDir(), "img")
	_, err := Checkpoint(context.Background(), p.PID, dir, Options{Kill: true})
	if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), ": pipe (pipe:[") {
		t.Fatalf("checkpoint with a pipe fd: %v", err)
	}
	t.Log(err)
	if d := settled(t, p.PID, before); d != "" {
		t.Errorf("process changed: %s", d)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("image directory left behind: %v", err)
	}
	if err := p.Verify(context.Background(), 10*time.Second); err != nil {
		t.Fatalf("after the refused checkpoint: %v", err)
	}
}

// TestAbortAfterInjection fails the checkpoint after the injected calls:
// the process must be exactly as before (no scratch mapping, same mask and
// memory, running, not traced) and no image left.
func TestAbortAfterInjection(t *testing.T) {
	p := startWorkload(t, "memory")
	pid := p.PID
	before := take(t, pid)
	sawScratch := false
	testHookCollected = func(p int) error {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", p))
		sawScratch = string(b) != before.maps
		return errors.New("injected failure")
	}
	defer func() { testHookCollected = nil }()
	dir := filepath.Join(t.TempDir(), "img")
	_, err := Checkpoint(context.Background(), pid, dir, Options{Kill: true})
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("got %v", err)
	}
	if sawScratch {
		t.Error("scratch mapping still present after the injected calls")
	}
	if d := settled(t, pid, before); d != "" {
		t.Errorf("process changed: %s", d)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("image directory left behind: %v", err)
	}
	// The workload checksums all its memory and compares its maps itself.
	if err := p.Verify(context.Background(), 10*time.Second); err != nil {
		t.Fatalf("after the aborted checkpoint: %v", err)
	}
}

func TestProcessDiesDuringCheckpoint(t *testing.T) {
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	testHookCollected = func(p int) error { return cmd.Process.Kill() }
	defer func() { testHookCollected = nil }()
	dir := filepath.Join(t.TempDir(), "img")
	_, err := Checkpoint(context.Background(), pid, dir, Options{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d exited during the checkpoint", pid)) {
		t.Fatalf("got %v", err)
	}
	if _, err := image.OpenDir(dir); err == nil {
		t.Error("image of a dead process looks complete")
	}
}

func TestBadPID(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tc := range []struct {
		pid  int
		want string
	}{
		{0, "not a process id"},
		{os.Getpid(), "cannot checkpoint myself"},
		{1 << 22, "no such process"},
	} {
		_, err := Checkpoint(context.Background(), tc.pid, filepath.Join(t.TempDir(), "x"), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pid %d: %v, want %q", tc.pid, err, tc.want)
		}
	}
}

// TestResumeInSyscall: a process resumed after a checkpoint (without
// --kill) goes on inside the system call it was in. python3 sleeping in
// clock_nanosleep exits on any unexpected error, which the kernel's
// internal -ERESTART_RESTARTBLOCK would be if it leaked.
func TestResumeInSyscall(t *testing.T) {
	testutil.RequireRoot(t)
	py := testutil.Python3(t)
	cmd := exec.Command(py, "-c", "import time\nwhile True: time.sleep(0.05)")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(300 * time.Millisecond)
	for i := range 3 {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(i))
		if _, err := Checkpoint(context.Background(), cmd.Process.Pid, dir, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if st, err := procfs.Status(cmd.Process.Pid); err != nil || st.State == 'Z' {
		t.Fatalf("python died after checkpoints: %v %v", st.State, err)
	}
}
