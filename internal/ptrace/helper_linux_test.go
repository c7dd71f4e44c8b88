//go:build linux

package ptrace

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/testutil"
	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a tracee program instead of
// running tests.
const helperEnv = "MIGRATE_PTRACE_TEST_HELPER"

func init() {
	if os.Getenv(helperEnv) != "" {
		// Keep the helper's main goroutine on the main thread (tid == pid),
		// so that the tests know which thread blocks in read().
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		runHelper(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(mode string) {
	switch mode {
	case "echo":
		helperEcho()
	case "uffd":
		helperUffd()
	case "sigblock":
		helperSigblock(unix.SIGUSR2)
	case "trapblock":
		helperSigblock(unix.SIGTRAP)
	default:
		fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
		os.Exit(2)
	}
}

// helperEcho copies stdin to stdout with plain read/write system calls.
func helperEcho() {
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(0, buf)
		if n <= 0 || err != nil {
			return
		}
		unix.Write(1, buf[:n])
	}
}

// helperUffd maps 64 pages, prints their address, then for every byte read
// from stdin writes to pages 3 and 17 and answers "ok".
func helperUffd() {
	m, err := unix.Mmap(-1, 0, 64*linux.PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		os.Exit(3)
	}
	for i := 0; i < len(m); i += linux.PageSize {
		m[i] = 1
	}
	fmt.Printf("%#x\n", testutil.AddrOf(m))
	buf := make([]byte, 1)
	for {
		if n, _ := unix.Read(0, buf); n <= 0 {
			return
		}
		m[3*linux.PageSize+9]++
		m[17*linux.PageSize+100]++
		unix.Write(1, []byte("ok\n"))
	}
}

// helperSigblock blocks sig on the main thread, sends it to that
// thread, then echoes like helperEcho.
func helperSigblock(sig unix.Signal) {
	var set unix.Sigset_t
	set.Val[0] = 1 << (sig - 1)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		os.Exit(4)
	}
	if err := unix.Tgkill(os.Getpid(), unix.Gettid(), sig); err != nil {
		os.Exit(5)
	}
	helperEcho()
}

// requireRoot skips tests that ptrace or need capabilities.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (ptrace of children, pidfd_getfd, /proc/PID/syscall)")
	}
}

// helperProc is a running helper with pipes to its stdin and stdout.
type helperProc struct {
	pid   int
	stdin *os.File
	out   *bufio.Reader
}

// startHelper re-execs the test binary in helper mode. Cleanup kills and
// reaps it.
func startHelper(t *testing.T, mode string) *helperProc {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		inW.Close()
		outR.Close()
	})
	return &helperProc{pid: cmd.Process.Pid, stdin: inW, out: bufio.NewReader(outR)}
}

// seizedHelper starts a helper in mode, waits until it blocks in read(),
// and seizes and interrupts it with a tracer closed at cleanup.
func seizedHelper(t *testing.T, mode string) (*helperProc, *Tracer) {
	t.Helper()
	requireRoot(t)
	h := startHelper(t, mode)
	waitInSyscall(t, h.pid, h.pid, unix.SYS_READ)
	tr := newTracer(t)
	seizeAndInterrupt(t, tr, h.pid)
	return h, tr
}

// seizedSleep is seizedHelper for "sleep 100", stopped in its nanosleep.
func seizedSleep(t *testing.T) (int, *Tracer) {
	t.Helper()
	requireRoot(t)
	pid := startSleep(t)
	waitInSyscall(t, pid, pid, unix.SYS_CLOCK_NANOSLEEP, unix.SYS_NANOSLEEP)
	tr := newTracer(t)
	seizeAndInterrupt(t, tr, pid)
	return pid, tr
}

// startSleep starts "sleep 100"; Cleanup kills and reaps it.
func startSleep(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot run sleep: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// detachAndEcho detaches from the helper and checks that it still echoes.
func (h *helperProc) detachAndEcho(t *testing.T, tr *Tracer, msg string) {
	t.Helper()
	if err := tr.Detach(h.pid, 0); err != nil {
		t.Fatal(err)
	}
	h.stdin.WriteString(msg + "\n")
	if got := h.readLine(t); got != msg {
		t.Fatalf("helper echoed %q, want %q", got, msg)
	}
}

// readLine reads one line from the helper, failing after a timeout.
func (h *helperProc) readLine(t *testing.T) string {
	t.Helper()
	return testutil.ReadLine(t, h.out, h.pid, 10*time.Second)
}

// waitInSyscall waits until thread tid of pid is blocked in system call nr
// (from /proc/PID/task/TID/syscall) and in state S.
func waitInSyscall(t *testing.T, pid, tid int, nrs ...int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/syscall", pid, tid))
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b))
		for _, nr := range nrs {
			if len(f) > 0 && f[0] == fmt.Sprint(nr) && threadState(t, pid) == 'S' {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %d never blocked in syscall %v", pid, nrs)
}

// threadState is the state letter of /proc/PID/stat.
func threadState(t *testing.T, pid int) byte {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		t.Fatalf("bad /proc/%d/stat: %q", pid, b)
	}
	return b[i+2]
}

// newTracer returns a tracer closed at cleanup, before the processes
// started earlier in the test are killed.
func newTracer(t *testing.T) *Tracer {
	tr := NewTracer()
	t.Cleanup(func() { tr.Close() })
	return tr
}
