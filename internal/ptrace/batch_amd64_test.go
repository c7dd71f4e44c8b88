//go:build linux

package ptrace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
)

// batchCalls is a batch whose answers are known: getpid, a failing
// close, the SIGTERM action into the data area and getppid.
func batchCalls(data uint64) []Call {
	return []Call{
		{Nr: unix.SYS_GETPID},
		{Nr: unix.SYS_CLOSE, Args: [6]uint64{1 << 20}},
		{Nr: unix.SYS_RT_SIGACTION, Args: [6]uint64{uint64(unix.SIGTERM), 0, data, 8}},
		{Nr: unix.SYS_GETPPID},
	}
}

// runBatch maps a batch in pid (stopped, seized by tr), runs batchCalls
// and checks the answers; it returns whether the calls went in one stop.
func runBatch(t *testing.T, tr *Tracer, pid int, forceOneByOne bool) bool {
	t.Helper()
	r, err := tr.NewRemote(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.MapBatch(linux.PageSize, 8)
	if err != nil {
		t.Fatal(err)
	}
	if forceOneByOne {
		b.code = 0
	}
	// A stale answer must not pass for the call's.
	if err := linux.WriteMem(pid, b.Data(), make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	ret, err := b.Run(batchCalls(b.Data()))
	if err != nil {
		t.Fatal(err)
	}
	if ret[0] != uint64(pid) {
		t.Errorf("getpid = %d, want %d", ret[0], pid)
	}
	if err := Errno(ret[1]); !errors.Is(err, unix.EBADF) {
		t.Errorf("close(bad fd) = %#x (%v), want EBADF", ret[1], err)
	}
	if Errno(ret[2]) != nil || Errno(ret[3]) != nil || ret[3] == 0 {
		t.Errorf("sigaction, getppid = %#x, %#x", ret[2], ret[3])
	}
	if _, err := b.Run(make([]Call, 9)); err == nil {
		t.Error("a batch of 9 calls ran in room for 8")
	}
	batched := b.code != 0
	if err := b.Unmap(); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(); err != nil {
		t.Fatal(err)
	}
	return batched
}

// TestBatch runs calls in one stop and one by one, in a process that
// ignores SIGTRAP (which the int3 that ends a batch would otherwise reset
// to SIG_DFL): answers right, signal state and mappings as before, and
// the process goes on.
func TestBatch(t *testing.T) {
	requireRoot(t)
	cmd := exec.Command("sh", "-c", "trap '' TRAP; exec sleep 100")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot run sh: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	pid := cmd.Process.Pid
	waitInSyscall(t, pid, pid, unix.SYS_CLOCK_NANOSLEEP, unix.SYS_NANOSLEEP)
	before, maps := sigState(t, pid), readMaps(t, pid)
	if ign := sigStatus(t, pid).SigIgn; ign&(1<<(unix.SIGTRAP-1)) == 0 {
		t.Fatalf("SIGTRAP not ignored in the tracee:\n%s", before)
	}
	tr := newTracer(t)
	seizeAndInterrupt(t, tr, pid)
	if !runBatch(t, tr, pid, false) {
		t.Error("the batch went one call at a time: no executable page")
	}
	runBatch(t, tr, pid, true)
	if after := sigState(t, pid); after != before {
		t.Errorf("signal state changed:\nbefore:\n%safter:\n%s", before, after)
	}
	if after := readMaps(t, pid); after != maps {
		t.Errorf("mappings changed:\nbefore:\n%safter:\n%s", maps, after)
	}
	if err := tr.Detach(pid, 0); err != nil {
		t.Fatal(err)
	}
	waitInSyscall(t, pid, pid, unix.SYS_CLOCK_NANOSLEEP, unix.SYS_NANOSLEEP, unix.SYS_RESTART_SYSCALL)
}

// TestBatchAnswers checks that answers written through pointers land
// where the calls said, in a Go helper (which handles SIGTRAP).
func TestBatchAnswers(t *testing.T) {
	h, tr := seizedHelper(t, "echo")
	r, err := tr.NewRemote(h.pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.MapBatch(linux.PageSize, 64)
	if err != nil {
		t.Fatal(err)
	}
	// Every signal's action, each into its own 32 bytes.
	var calls []Call
	for sig := 1; sig <= 64; sig++ {
		calls = append(calls, Call{Nr: unix.SYS_RT_SIGACTION, Args: [6]uint64{uint64(sig), 0, b.Data() + uint64(sig-1)*32, 8}})
	}
	ret, err := b.Run(calls)
	if err != nil {
		t.Fatal(err)
	}
	ans := make([]byte, 64*32)
	if err := linux.ReadMem(h.pid, b.Data(), ans); err != nil {
		t.Fatal(err)
	}
	caught := sigStatus(t, h.pid).SigCgt
	for sig := 1; sig <= 64; sig++ {
		handler := binary.LittleEndian.Uint64(ans[(sig-1)*32:])
		if err := Errno(ret[sig-1]); err != nil {
			t.Errorf("signal %d: %v", sig, err)
		}
		if want := caught&(1<<(sig-1)) != 0; (handler > 1) != want {
			t.Errorf("signal %d: handler %#x, caught %v in status", sig, handler, want)
		}
	}
	if caught == 0 {
		t.Error("the Go helper catches no signal")
	}
	if err := b.Unmap(); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(); err != nil {
		t.Fatal(err)
	}
	h.detachAndEcho(t, tr, "ping")
}

// sigStatus returns pid's /proc status, for its signal masks.
func sigStatus(t *testing.T, pid int) procfs.ProcStatus {
	t.Helper()
	st, err := procfs.Status(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// readMaps returns /proc/PID/maps.
func readMaps(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBatchLeavesPendingTrap runs a batch in a process with a SIGTRAP
// blocked and pending: the batch, which needs SIGTRAP unblocked, must not
// take it.
func TestBatchLeavesPendingTrap(t *testing.T) {
	requireRoot(t)
	h := startHelper(t, "trapblock")
	waitInSyscall(t, h.pid, h.pid, unix.SYS_READ)
	before := sigState(t, h.pid)
	if sigStatus(t, h.pid).SigPnd&(1<<(unix.SIGTRAP-1)) == 0 {
		t.Fatalf("no SIGTRAP pending:\n%s", before)
	}
	tr := newTracer(t)
	seizeAndInterrupt(t, tr, h.pid)
	runBatch(t, tr, h.pid, false)
	if after := sigState(t, h.pid); after != before {
		t.Errorf("signal state changed:\nbefore:\n%safter:\n%s", before, after)
	}
	h.detachAndEcho(t, tr, "ping")
}

// TestBatchAtIgnoresTrap runs a batch from a gadget page whose calls set
// SIGTRAP to SIG_IGN: the int3 that ends the batch must not undo that.
func TestBatchAtIgnoresTrap(t *testing.T) {
	pid, tr := seizedSleep(t)
	r, err := tr.NewRemote(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	const area = 0x7e0000000000
	addr, err := r.Syscall(unix.SYS_MMAP, area, linux.PageSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE, ^uint64(0), 0)
	if err != nil || addr != area {
		t.Fatalf("mmap = %#x, %v", addr, err)
	}
	if err := r.MapGadget(area + linux.PageSize); err != nil {
		t.Fatal(err)
	}
	act := make([]byte, 32)
	binary.LittleEndian.PutUint64(act, 1) // SIG_IGN
	if err := linux.WriteMem(pid, area, act); err != nil {
		t.Fatal(err)
	}
	b, err := r.BatchAt(area+64, 2)
	if err != nil {
		t.Fatal(err)
	}
	ret, err := b.Run([]Call{
		{Nr: unix.SYS_RT_SIGACTION, Args: [6]uint64{uint64(unix.SIGTRAP), area, 0, 8}},
		{Nr: unix.SYS_GETPID},
	})
	if err != nil || ret[1] != uint64(pid) || Errno(ret[0]) != nil {
		t.Fatalf("batch = %#x, %v", ret, err)
	}
	if err := r.UnmapGadget(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Syscall(unix.SYS_MUNMAP, area, linux.PageSize); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(); err != nil {
		t.Fatal(err)
	}
	if ign := sigStatus(t, pid).SigIgn; ign&(1<<(unix.SIGTRAP-1)) == 0 {
		t.Errorf("SIGTRAP not ignored after the batch set it so:\n%s", sigState(t, pid))
	}
}
