//go:build linux

package linux

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Precondition for every Ptrace* function: it runs on the OS thread that
// attached to tid (PtraceSeize may run anywhere; the thread that calls it
// becomes the tracer).

// PtraceSeize attaches to tid without stopping it, with PTRACE_O_* options.
// Think twice before PTRACE_O_EXITKILL on a process that must survive the
// tracer.
func PtraceSeize(tid int, options int) error {
	return ptraceInt(unix.PTRACE_SEIZE, tid, 0, uintptr(options))
}

// PtraceInterrupt asks a seized tid to enter a ptrace-stop.
func PtraceInterrupt(tid int) error {
	return ptraceInt(unix.PTRACE_INTERRUPT, tid, 0, 0)
}

// PtraceSetOptions sets the PTRACE_O_* options of tid.
func PtraceSetOptions(tid int, options int) error {
	return ptraceInt(unix.PTRACE_SETOPTIONS, tid, 0, uintptr(options))
}

// PtraceCont resumes tid, delivering sig if it is in a signal-delivery-stop
// (0 suppresses the signal).
func PtraceCont(tid int, sig unix.Signal) error {
	return ptraceInt(unix.PTRACE_CONT, tid, 0, uintptr(sig))
}

// PtraceSingleStep resumes tid for one instruction, delivering sig like
// PtraceCont.
func PtraceSingleStep(tid int, sig unix.Signal) error {
	return ptraceInt(unix.PTRACE_SINGLESTEP, tid, 0, uintptr(sig))
}

// PtraceSyscall resumes tid until the next system call entry or exit
// (a syscall-stop), delivering sig like PtraceCont.
func PtraceSyscall(tid int, sig unix.Signal) error {
	return ptraceInt(unix.PTRACE_SYSCALL, tid, 0, uintptr(sig))
}

// PtraceListen restarts a seized tid that is in group-stop without letting
// it run (it stays stopped but reports further events).
func PtraceListen(tid int) error {
	return ptraceInt(unix.PTRACE_LISTEN, tid, 0, 0)
}

// PtraceDetach detaches from a stopped tid, delivering sig if it is in a
// signal-delivery-stop.
func PtraceDetach(tid int, sig unix.Signal) error {
	return ptraceInt(unix.PTRACE_DETACH, tid, 0, uintptr(sig))
}

// Wait4 waits for pid (a tid for traced threads: use unix.WALL) and
// retries on EINTR. It returns the pid that changed state (0 with
// unix.WNOHANG when none did) and its status.
func Wait4(pid int, options int) (int, unix.WaitStatus, error) {
	var ws unix.WaitStatus
	wpid, err := retryOnEINTR2(func() (int, error) { return unix.Wait4(pid, &ws, options, nil) })
	if err != nil {
		return 0, 0, fmt.Errorf("wait4 pid %d: %w", pid, err)
	}
	return wpid, ws, nil
}
