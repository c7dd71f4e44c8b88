package ptrace

import (
	"errors"
	"fmt"

	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// ErrLeftInTracee is matched by the error of TakeNewFD when the tracee's
// own descriptor could not be closed again: its descriptor table changed.
var ErrLeftInTracee = errors.New("descriptor left in the tracee")

// TakeNewFD makes a descriptor in tracee pid with an injected system call
// that returns one (nr and args: userfaultfd, for one that acts on the
// tracee's memory), takes a copy into this process (pidfd_getfd, with
// O_CLOEXEC) and closes the tracee's own with an injected close, so that
// the tracee's descriptor table is as it was. call runs one system call in
// the tracee (Remote.Syscall, or a wrapper of it); what names the call in
// errors. An error matching ErrLeftInTracee means the tracee kept its
// descriptor; after any other the tracee is as it was.
func TakeNewFD(pid int, call func(nr uintptr, args ...uint64) (uint64, error), what string, nr uintptr, args ...uint64) (int, error) {
	ret, err := call(nr, args...)
	if err != nil {
		return -1, fmt.Errorf("injected %s in pid %d: %w", what, pid, err)
	}
	remote := int(ret)
	fd, takeErr := linux.TakeFD(pid, remote)
	if ret, err := call(unix.SYS_CLOSE, uint64(remote)); err != nil || ret != 0 {
		if takeErr == nil {
			unix.Close(fd)
		}
		if err == nil {
			err = fmt.Errorf("answered %d", int64(ret))
		}
		return -1, fmt.Errorf("injected close(%d) of the %s in pid %d: %w (%w)", remote, what, pid, err, ErrLeftInTracee)
	}
	if takeErr != nil {
		return -1, fmt.Errorf("take the %s of pid %d: %w", what, pid, takeErr)
	}
	return fd, nil
}
