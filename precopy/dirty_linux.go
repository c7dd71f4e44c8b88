//go:build linux

package precopy

import (
	"errors"
	"fmt"

	"github.com/migrate-dev/migrate/internal/ptrace"
	"golang.org/x/sys/unix"
)

// NewTracker returns the best Tracker the kernel offers for pid, with a
// human-readable note saying which one and why: uffd-wp (see
// NewUffdTracker, whose precondition applies: pid seized and interrupted, r
// a Remote on it; the caller restores r and detaches), else soft-dirty,
// else none. It fails only when something else than a missing feature goes
// wrong, for example when the process died.
func NewTracker(tr *ptrace.Tracer, pid int, r *ptrace.Remote) (Tracker, string, error) {
	kernel := kernelRelease()
	u, uerr := NewUffdTracker(tr, pid, r)
	if uerr == nil {
		return u, fmt.Sprintf("uffd-wp async (kernel %s)", kernel), nil
	}
	if !errors.Is(uerr, ErrNoTracking) {
		return nil, "", uerr
	}
	s, serr := NewSoftDirtyTracker(pid)
	if serr == nil {
		return s, fmt.Sprintf("soft-dirty (kernel %s; uffd WP_ASYNC: %s)", kernel, reason(uerr)), nil
	}
	if !errors.Is(serr, ErrNoTracking) {
		return nil, "", serr
	}
	note := fmt.Sprintf("no dirty tracking on kernel %s: one stop-and-copy round (uffd WP_ASYNC: %s; soft-dirty: %s)",
		kernel, reason(uerr), reason(serr))
	return NewNoneTracker(), note, nil
}

// reason returns the cause inside a noTrackingError.
func reason(err error) string {
	if e, ok := errors.AsType[*noTrackingError](err); ok {
		return e.err.Error()
	}
	return err.Error()
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}
