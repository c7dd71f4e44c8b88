//go:build linux

package ptrace

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sigState returns the Sig* lines of /proc/PID/status except SigQ, which
// counts the queued signals of the whole user.
func sigState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, "SigQ") && (strings.HasPrefix(line, "Sig") || strings.HasPrefix(line, "ShdPnd")) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// TestMethodsKeepSignalState injects with every method into a Go helper
// (which handles SIGTRAP) and checks that its signal state is unchanged.
func TestMethodsKeepSignalState(t *testing.T) {
	requireRoot(t)
	h := startHelper(t, "echo")
	waitInSyscall(t, h.pid, h.pid, unix.SYS_READ)
	before := sigState(t, h.pid)
	tr := newTracer(t)
	seizeAndInterrupt(t, tr, h.pid)
	r, err := tr.NewRemote(h.pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.MapGadget(0x7e0000000000); err != nil {
		t.Fatal(err)
	}
	for _, m := range []Method{MethodSyscallStops, MethodSingleStep, MethodInt3} {
		if err := r.SetMethod(m); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if got, err := r.Syscall(unix.SYS_GETPID); err != nil || got != uint64(h.pid) {
				t.Fatalf("method %d: getpid = %d, %v", m, got, err)
			}
		}
	}
	if err := r.UnmapGadget(); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(); err != nil {
		t.Fatal(err)
	}
	if after := sigState(t, h.pid); after != before {
		t.Errorf("signal state changed:\nbefore:\n%safter:\n%s", before, after)
	}
	h.detachAndEcho(t, tr, "ping")
}

// TestInterruptPassesSignalThrough has a signal-delivery-stop arrive before
// the interrupt stop: the signal must be delivered, not lost.
func TestInterruptPassesSignalThrough(t *testing.T) {
	requireRoot(t)
	h := startHelper(t, "echo")
	waitInSyscall(t, h.pid, h.pid, unix.SYS_READ)
	tr := newTracer(t)
	if err := tr.Seize(h.pid, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Tgkill(h.pid, h.pid, unix.SIGURG); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for threadState(t, h.pid) != 't' {
		if time.Now().After(deadline) {
			t.Fatal("helper never entered its signal-delivery-stop")
		}
		time.Sleep(time.Millisecond)
	}
	s, err := tr.Interrupt(h.pid)
	if err != nil {
		t.Fatal(err)
	}
	if s.Event != unix.PTRACE_EVENT_STOP || !slices.Equal(s.Passed, []unix.Signal{unix.SIGURG}) {
		t.Fatalf("got %v passed %v, want an interrupt stop after passing SIGURG", s, s.Passed)
	}
	h.detachAndEcho(t, tr, "after signal")
}
