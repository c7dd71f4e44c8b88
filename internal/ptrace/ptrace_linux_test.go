//go:build linux

package ptrace

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/internal/arch"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/testutil"
	"golang.org/x/sys/unix"
)

// seizeAndInterrupt attaches to tid and stops it.
func seizeAndInterrupt(t *testing.T, tr *Tracer, tid int) Stop {
	t.Helper()
	start := time.Now()
	if err := tr.Seize(tid, 0); err != nil {
		t.Fatal(err)
	}
	s, err := tr.Interrupt(tid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seize+interrupt of tid %d: %v, %v", tid, time.Since(start), s)
	if s.Event != unix.PTRACE_EVENT_STOP || s.GroupStop() || len(s.Passed) != 0 {
		t.Fatalf("unexpected %v passed %v", s, s.Passed)
	}
	return s
}

// isRestartCode reports whether rax holds one of the kernel's restart
// codes.
func isRestartCode(rax uint64) bool {
	switch -int64(rax) {
	case linux.ERESTARTSYS, linux.ERESTARTNOINTR, linux.ERESTARTNOHAND, linux.ERESTART_RESTARTBLOCK:
		return true
	}
	return false
}

func TestInjectIntoSleep(t *testing.T) {
	pid, tr := seizedSleep(t)

	regs, err := tr.GetRegs(pid)
	if err != nil {
		t.Fatal(err)
	}
	if !isRestartCode(regs.Rax) {
		t.Errorf("sleep stopped with rax %d orig_rax %d, want a restart code", int64(regs.Rax), regs.Orig_rax)
	}
	xs, err := tr.GetXState(pid)
	if err != nil || len(xs) <= 512 {
		t.Fatalf("GetXState: %d bytes, %v", len(xs), err)
	}
	t.Logf("XSTATE is %d bytes", len(xs))
	if err := tr.SetXState(pid, xs); err != nil {
		t.Fatal(err)
	}
	if fp, err := tr.GetFPRegs(pid); err != nil || len(fp) != 512 {
		t.Fatalf("GetFPRegs: %d bytes, %v", len(fp), err)
	}
	if rseq, err := tr.GetRseqConfig(pid); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("rseq of sleep: %+v", rseq)
	}

	r, err := tr.NewRemote(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	injectMmapRoundTrip(t, r, pid)
	if err := r.Restore(); err != nil {
		t.Fatal(err)
	}
	after, err := tr.GetRegs(pid)
	want := regs
	arch.ResumeInPlace(&want) // nanosleep goes on through restart_syscall
	if err != nil || after != want {
		t.Fatalf("registers after Restore: %+v, %v; want %+v", after, err, want)
	}
	if err := tr.Detach(pid, 0); err != nil {
		t.Fatal(err)
	}
	// The restarted nanosleep must go on sleeping.
	waitInSyscall(t, pid, pid, unix.SYS_CLOCK_NANOSLEEP, unix.SYS_NANOSLEEP, unix.SYS_RESTART_SYSCALL)
	time.Sleep(50 * time.Millisecond)
	if st := threadState(t, pid); st != 'S' {
		t.Fatalf("sleep is in state %c after detach, want S", st)
	}
}

// injectMmapRoundTrip injects getpid, mmap, munmap and checks the page with
// process_vm_writev/readv.
func injectMmapRoundTrip(t *testing.T, r *Remote, pid int) {
	t.Helper()
	got, err := r.Syscall(unix.SYS_GETPID)
	if err != nil || got != uint64(pid) {
		t.Fatalf("injected getpid = %d, %v; want %d", got, err, pid)
	}
	addr, err := r.Syscall(unix.SYS_MMAP, 0, linux.PageSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("written by the tracer")
	if err := linux.WriteMem(pid, addr+100, msg); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, len(msg))
	if err := linux.ReadMem(pid, addr+100, back); err != nil || !bytes.Equal(back, msg) {
		t.Fatalf("read back %q, %v", back, err)
	}
	if ret, err := r.Syscall(unix.SYS_MUNMAP, addr, linux.PageSize); err != nil || ret != 0 {
		t.Fatalf("injected munmap = %d, %v", ret, err)
	}
	_, err = r.Syscall(unix.SYS_CLOSE, 1<<20)
	if !errors.Is(err, unix.EBADF) || !strings.Contains(err.Error(), fmt.Sprintf("syscall %d in tid %d", unix.SYS_CLOSE, pid)) {
		t.Fatalf("injected close(bad fd) = %v, want EBADF naming syscall and tid", err)
	}
}

func TestInterruptBlockedRead(t *testing.T) {
	h, tr := seizedHelper(t, "echo")
	regs, err := tr.GetRegs(h.pid)
	if err != nil {
		t.Fatal(err)
	}
	if regs.Orig_rax != unix.SYS_READ || -int64(regs.Rax) != linux.ERESTARTSYS {
		t.Fatalf("stopped in orig_rax %d rax %d, want read and -ERESTARTSYS", regs.Orig_rax, int64(regs.Rax))
	}
	r, err := tr.NewRemote(h.pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Syscall(unix.SYS_GETPID); err != nil || got != uint64(h.pid) {
		t.Fatalf("injected getpid = %d, %v", got, err)
	}
	if err := r.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Detach(h.pid, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := h.stdin.WriteString("hello\n"); err != nil {
		t.Fatal(err)
	}
	if got := h.readLine(t); got != "hello" {
		t.Fatalf("helper echoed %q", got)
	}
}

func TestSignalState(t *testing.T) {
	h, tr := seizedHelper(t, "sigblock")
	usr2 := uint64(1) << (unix.SIGUSR2 - 1)
	mask, err := tr.GetSigmask(h.pid)
	if err != nil || mask&usr2 == 0 {
		t.Fatalf("sigmask %#x, %v; want SIGUSR2 blocked", mask, err)
	}
	private, err := tr.PeekSiginfo(h.pid, false)
	if err != nil || len(private) != 1 || private[0].Signo != int32(unix.SIGUSR2) {
		t.Fatalf("per-thread queue %+v, %v; want one SIGUSR2", private, err)
	}
	if private[0].Code != -6 { // SI_TKILL
		t.Errorf("si_code %d, want SI_TKILL", private[0].Code)
	}
	if shared, err := tr.PeekSiginfo(h.pid, true); err != nil || len(shared) != 0 {
		t.Fatalf("shared queue %+v, %v; want empty", shared, err)
	}
	// A Remote blocks every signal while it works and restores the mask.
	r, err := tr.NewRemote(h.pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Syscall(unix.SYS_GETPID); err != nil {
		t.Fatal(err)
	}
	if during, _ := tr.GetSigmask(h.pid); during|1<<(unix.SIGKILL-1)|1<<(unix.SIGSTOP-1) != ^uint64(0) {
		t.Errorf("mask during injection %#x, want all blocked", during)
	}
	if err := r.Restore(); err != nil {
		t.Fatal(err)
	}
	if after, err := tr.GetSigmask(h.pid); err != nil || after != mask {
		t.Fatalf("mask after Restore %#x, %v; want %#x", after, err, mask)
	}
	h.detachAndEcho(t, tr, "still there")
}

func TestStartStub(t *testing.T) {
	requireRoot(t)
	tr := newTracer(t)
	pid, err := tr.StartStub("/bin/true", []string{"true"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Do(func() error { killAndReap(pid); return nil }) })
	if st := threadState(t, pid); st != 't' {
		t.Fatalf("stub is in state %c, want t (tracing stop)", st)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || !strings.HasSuffix(exe, "true") {
		t.Fatalf("stub exe %q, %v", exe, err)
	}
	r, err := tr.NewRemote(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Syscall(unix.SYS_GETPID); err != nil || got != uint64(pid) {
		t.Fatalf("injected getpid = %d, %v", got, err)
	}
	_, err = r.Syscall(unix.SYS_EXIT_GROUP, 7)
	var ee *ExitedError
	if !errors.As(err, &ee) || !ee.Status.Exited() || ee.Status.ExitStatus() != 7 || !errors.Is(err, unix.ESRCH) {
		t.Fatalf("injected exit_group(7): %v", err)
	}
}

func TestMapGadget(t *testing.T) {
	requireRoot(t)
	tr := newTracer(t)
	pid, err := tr.StartStub("/bin/true", []string{"true"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Do(func() error { killAndReap(pid); return nil }) })
	r, err := tr.NewRemote(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	const addr = 0x7e0000000000
	if err := r.MapGadget(addr); err != nil {
		t.Fatal(err)
	}
	if err := r.MapGadget(addr); err == nil {
		t.Fatal("second MapGadget succeeded")
	}
	maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if !strings.Contains(string(maps), "7e0000000000-7e0000001000 r-xp") {
		t.Fatalf("gadget page not mapped r-x:\n%s", maps)
	}
	for range 3 {
		if got, err := r.Syscall(unix.SYS_GETPID); err != nil || got != uint64(pid) {
			t.Fatalf("getpid through the gadget = %d, %v", got, err)
		}
	}
	if err := r.UnmapGadget(); err != nil {
		t.Fatal(err)
	}
	maps, _ = os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if strings.Contains(string(maps), "7e0000000000-") {
		t.Fatalf("gadget page still mapped:\n%s", maps)
	}
	if got, err := r.Syscall(unix.SYS_GETPID); err != nil || got != uint64(pid) {
		t.Fatalf("getpid after UnmapGadget = %d, %v", got, err)
	}
	if err := r.Restore(); err != nil {
		t.Fatal(err)
	}
}

func TestTracerDo(t *testing.T) {
	tr := NewTracer()
	want := errors.New("boom")
	if err := tr.Do(func() error { return want }); err != want {
		t.Fatalf("Do returned %v", err)
	}
	func() {
		defer func() {
			if p := recover(); p != "panic in fn" {
				t.Fatalf("recovered %v", p)
			}
		}()
		tr.Do(func() error { panic("panic in fn") })
	}()
	tid1, tid2 := 0, 0
	tr.Do(func() error { tid1 = unix.Gettid(); return nil })
	tr.Do(func() error { tid2 = unix.Gettid(); return nil })
	if tid1 != tid2 || tid1 == 0 {
		t.Fatalf("Do ran on threads %d and %d", tid1, tid2)
	}
	tr.Close()
	tr.Close()
	if err := tr.Do(func() error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close = %v", err)
	}
}

func TestParseExecMappings(t *testing.T) {
	maps := []byte(`55d0c0a00000-55d0c0a02000 r--p 00000000 08:01 123 /usr/bin/true
55d0c0a02000-55d0c0a06000 r-xp 00002000 08:01 123 /usr/bin/true
7ffd1e5f6000-7ffd1e5f8000 r-xp 00000000 00:00 0                          [vdso]
7f0000000000-7f0000001000 r-xp 00000000 00:00 0
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
garbage line
zz-10 r-xp 0 0 0
`)
	got := parseExecMappings(maps)
	want := []execMapping{
		{0x55d0c0a02000, 0x55d0c0a06000, "/usr/bin/true"},
		{0x7ffd1e5f6000, 0x7ffd1e5f8000, "[vdso]"},
		{0x7f0000000000, 0x7f0000001000, ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestErrorsNameTheTid(t *testing.T) {
	requireRoot(t)
	tr := newTracer(t)
	// A pid that cannot exist (above pid_max's hard limit of 2^22).
	const ghost = 1 << 23
	err := tr.Seize(ghost, 0)
	if !errors.Is(err, unix.ESRCH) || !strings.Contains(err.Error(), fmt.Sprintf("tid %d", ghost)) {
		t.Fatalf("Seize(%d) = %v, want ESRCH naming the tid", ghost, err)
	}
	if _, err := tr.GetRegs(ghost); !errors.Is(err, unix.ESRCH) {
		t.Fatalf("GetRegs(%d) = %v, want ESRCH", ghost, err)
	}
}

func TestInterruptStoppedTracee(t *testing.T) {
	requireRoot(t)
	pid := startSleep(t)
	tr := newTracer(t)
	seizeAndInterrupt(t, tr, pid)
	done := make(chan error, 1)
	go func() { _, err := tr.Interrupt(pid); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "already in a ptrace-stop") {
			t.Fatalf("second Interrupt = %v, want an already-stopped error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second Interrupt hangs")
	}
	if err := tr.Detach(pid, 0); err != nil {
		t.Fatal(err)
	}
}

// SyscallInsnIn finds what FindSyscallInsn finds when given the [vdso]
// (its first choice), and nothing in a range without the instruction or
// one that cannot be read.
func TestSyscallInsnIn(t *testing.T) {
	pid := os.Getpid()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	var vdso execMapping
	for _, m := range parseExecMappings(maps) {
		if m.name == "[vdso]" {
			vdso = m
		}
	}
	if vdso.end == 0 {
		t.Skip("no [vdso] here")
	}
	want, err := FindSyscallInsn(pid)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := SyscallInsnIn(pid, vdso.start, vdso.end)
	if !ok || got != want {
		t.Fatalf("SyscallInsnIn(vdso %#x-%#x) = %#x, %v; FindSyscallInsn = %#x", vdso.start, vdso.end, got, ok, want)
	}
	zeros := make([]byte, 8192)
	at := testutil.AddrOf(zeros)
	if a, ok := SyscallInsnIn(pid, at, at+uint64(len(zeros))); ok {
		t.Errorf("found a syscall instruction at %#x in zeros", a)
	}
	if a, ok := SyscallInsnIn(pid, 0x1000, 0x3000); ok { // not mapped
		t.Errorf("found a syscall instruction at %#x in unmapped memory", a)
	}
	if _, ok := SyscallInsnIn(pid, vdso.end, vdso.start); ok {
		t.Error("an empty range holds a syscall instruction")
	}
}
