//go:build linux

package ptrace

import (
	"errors"
	"fmt"

	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// Stop describes the ptrace-stop a tracee reported.
type Stop struct {
	// Sig is the stop signal: SIGTRAP for interrupt, exec and single-step
	// stops, the stopping signal for a group-stop, the signal about to be
	// delivered for a signal-delivery-stop.
	Sig unix.Signal
	// Event is the PTRACE_EVENT_* code, 0 for a signal-delivery-stop.
	Event int
	// Passed lists the signals Interrupt let through to the tracee while
	// waiting for its stop.
	Passed []unix.Signal
}

// GroupStop reports whether the tracee is in a group-stop (stopped by
// SIGSTOP, SIGTSTP, ...) rather than in a PTRACE_INTERRUPT stop.
func (s Stop) GroupStop() bool { return s.Event == unix.PTRACE_EVENT_STOP && s.Sig != unix.SIGTRAP }

func (s Stop) String() string {
	return fmt.Sprintf("stop sig %d (%v) event %d", int(s.Sig), s.Sig, s.Event)
}

func stopOf(ws unix.WaitStatus) Stop {
	return Stop{Sig: ws.StopSignal(), Event: int(ws) >> 16}
}

// ExitedError reports that a tracee exited or was killed while we waited
// for it to stop. It matches unix.ESRCH.
type ExitedError struct {
	Tid    int
	Status unix.WaitStatus
}

func (e *ExitedError) Error() string {
	if e.Status.Exited() {
		return fmt.Sprintf("tid %d exited with status %d", e.Tid, e.Status.ExitStatus())
	}
	return fmt.Sprintf("tid %d killed by signal %v", e.Tid, e.Status.Signal())
}

// Is makes errors.Is(err, unix.ESRCH) true.
func (e *ExitedError) Is(target error) bool { return target == unix.ESRCH }

// waitStop waits until tid reports a ptrace-stop.
// Precondition: runs on the tracer thread.
func waitStop(tid int) (Stop, error) {
	_, ws, err := linux.Wait4(tid, unix.WALL)
	if err != nil {
		return Stop{}, err
	}
	if !ws.Stopped() {
		return Stop{}, &ExitedError{Tid: tid, Status: ws}
	}
	return stopOf(ws), nil
}

// interrupt stops a seized tid, passing through any signal-delivery-stop
// that comes before the interrupt stop (see the package doc).
// Precondition: runs on the tracer thread.
func interrupt(tid int) (Stop, error) {
	s, err := unreportedStop(tid)
	if err != nil {
		return Stop{}, err
	}
	if err := linux.PtraceInterrupt(tid); err != nil {
		return Stop{}, err
	}
	var passed []unix.Signal
	for ; ; s = nil {
		if s == nil {
			next, err := waitStop(tid)
			if err != nil {
				return Stop{Passed: passed}, fmt.Errorf("interrupting: %w", err)
			}
			s = &next
		}
		s.Passed = passed
		if s.Event == unix.PTRACE_EVENT_STOP {
			return *s, nil
		}
		sig := unix.Signal(0) // other ptrace events carry no signal
		if s.Event == 0 {
			sig = s.Sig
			passed = append(passed, sig)
		}
		if err := linux.PtraceCont(tid, sig); err != nil {
			return *s, err
		}
	}
}

// unreportedStop returns nil if tid is running, and the stop it is in if
// wait4 has not reported that stop yet. A tid in a stop that was already
// reported is an error: PTRACE_INTERRUPT would not make it report another
// one, and we would wait forever. Precondition: runs on the tracer thread.
func unreportedStop(tid int) (*Stop, error) {
	// Like most requests, GETEVENTMSG fails with ESRCH unless tid is in a
	// ptrace-stop.
	if _, err := linux.PtraceGetEventMsg(tid); errors.Is(err, unix.ESRCH) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	wpid, ws, err := linux.Wait4(tid, unix.WALL|unix.WNOHANG)
	switch {
	case err != nil:
		return nil, err
	case wpid == 0:
		return nil, fmt.Errorf("tid %d is already in a ptrace-stop", tid)
	case !ws.Stopped():
		return nil, &ExitedError{Tid: tid, Status: ws}
	}
	s := stopOf(ws)
	return &s, nil
}

// Seize attaches to tid without stopping it (PTRACE_SEIZE) with PTRACE_O_*
// options. Leave out PTRACE_O_EXITKILL for a process that must survive
// when we die.
func (t *Tracer) Seize(tid int, options int) error {
	return t.Do(func() error { return linux.PtraceSeize(tid, options) })
}

// Interrupt stops a seized tid and returns the stop: normally a
// PTRACE_EVENT_STOP with SIGTRAP, or a group-stop if the thread is (or
// becomes) stopped by a stop signal. Signals whose delivery-stop arrives
// first are delivered and listed in Stop.Passed.
func (t *Tracer) Interrupt(tid int) (Stop, error) {
	var s Stop
	err := t.Do(func() error {
		var err error
		s, err = interrupt(tid)
		return err
	})
	return s, err
}

// Wait waits for the next ptrace-stop of tid, for example after Cont. An
// exit is reported as *ExitedError.
func (t *Tracer) Wait(tid int) (Stop, error) {
	var s Stop
	err := t.Do(func() error {
		var err error
		s, err = waitStop(tid)
		return err
	})
	return s, err
}

// Cont resumes a stopped tid; sig is delivered if tid is in a
// signal-delivery-stop (0: none).
func (t *Tracer) Cont(tid int, sig unix.Signal) error {
	return t.Do(func() error { return linux.PtraceCont(tid, sig) })
}

// Detach detaches from a stopped tid, which resumes; sig is delivered if tid
// is in a signal-delivery-stop (0: none).
func (t *Tracer) Detach(tid int, sig unix.Signal) error {
	return t.Do(func() error { return linux.PtraceDetach(tid, sig) })
}
