//go:build linux

package ptrace

import (
	"fmt"
	"os"
	"syscall"

	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// StartStub starts path with argv under ptrace and returns its pid once it
// is stopped at the exec SIGTRAP, before it ran any of its own code. attr
// may be nil; as with os.StartProcess, a nil attr.Env means our
// environment and nil attr.Files means no open files at all. attr.Sys is
// copied and gets Ptrace set.
//
// The stub is attached with PTRACE_TRACEME semantics, not PTRACE_SEIZE, so
// Interrupt does not work on it; drive it with a Remote and Cont/Wait. The
// stub is our child: after a kill or exit, Wait (or the ExitedError of a
// Remote call) reaps it.
func (t *Tracer) StartStub(path string, argv []string, attr *os.ProcAttr) (int, error) {
	var pid int
	err := t.Do(func() error {
		var err error
		pid, err = startStub(path, argv, attr)
		return err
	})
	return pid, err
}

// startStub forks and execs from the tracer thread, which thereby becomes
// the tracer. Precondition: runs on the tracer thread.
func startStub(path string, argv []string, attr *os.ProcAttr) (int, error) {
	var a os.ProcAttr
	if attr != nil {
		a = *attr
	}
	var sys syscall.SysProcAttr
	if a.Sys != nil {
		sys = *a.Sys
	}
	sys.Ptrace = true
	a.Sys = &sys
	p, err := os.StartProcess(path, argv, &a)
	if err != nil {
		return 0, fmt.Errorf("starting stub: %w", err)
	}
	pid := p.Pid
	// From here on only our wait4 reaps it; Release just drops the handle.
	if err := p.Release(); err != nil {
		return 0, fmt.Errorf("stub pid %d: %w", pid, err)
	}
	s, err := waitStop(pid)
	if err == nil && (s.Sig != unix.SIGTRAP || s.Event != 0) {
		err = fmt.Errorf("unexpected first %v", s)
	}
	if err != nil {
		killAndReap(pid)
		return 0, fmt.Errorf("stub %s pid %d: %w", path, pid, err)
	}
	return pid, nil
}

// killAndReap kills a child tracee and collects its exit status.
// Precondition: runs on the tracer thread.
func killAndReap(pid int) {
	unix.Kill(pid, unix.SIGKILL)
	for {
		_, ws, err := linux.Wait4(pid, unix.WALL)
		if err != nil || !ws.Stopped() {
			return
		}
	}
}
