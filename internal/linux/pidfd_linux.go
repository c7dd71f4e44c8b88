//go:build linux

package linux

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// PidfdOpen returns a pidfd (O_CLOEXEC) for process pid. flags may be 0,
// unix.PIDFD_NONBLOCK or unix.PIDFD_THREAD.
func PidfdOpen(pid int, flags int) (int, error) {
	fd, err := retryOnEINTR2(func() (int, error) { return unix.PidfdOpen(pid, flags) })
	if err != nil {
		return -1, fmt.Errorf("pidfd_open pid %d: %w", pid, err)
	}
	return fd, nil
}

// PidfdGetfd duplicates file descriptor targetfd of the process behind
// pidfd into the calling process (with O_CLOEXEC). It needs
// PTRACE_MODE_ATTACH_REALCREDS over the target.
func PidfdGetfd(pidfd, targetfd int) (int, error) {
	fd, err := retryOnEINTR2(func() (int, error) { return unix.PidfdGetfd(pidfd, targetfd, 0) })
	if err != nil {
		return -1, fmt.Errorf("pidfd_getfd pidfd %d fd %d: %w", pidfd, targetfd, err)
	}
	return fd, nil
}

// TakeFD duplicates descriptor fd of process pid into the calling process
// (with O_CLOEXEC): pidfd_open, then pidfd_getfd.
func TakeFD(pid, fd int) (int, error) {
	pidfd, err := PidfdOpen(pid, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	return PidfdGetfd(pidfd, fd)
}

// PidfdSendSignal sends sig to the process behind pidfd, as kill(2) would.
func PidfdSendSignal(pidfd int, sig unix.Signal) error {
	err := retryOnEINTR(func() error { return unix.PidfdSendSignal(pidfd, sig, nil, 0) })
	if err != nil {
		return fmt.Errorf("pidfd_send_signal pidfd %d sig %d: %w", pidfd, sig, err)
	}
	return nil
}

// Tgkill sends sig to thread tid of thread group tgid.
func Tgkill(tgid, tid int, sig unix.Signal) error {
	if err := unix.Tgkill(tgid, tid, sig); err != nil {
		return fmt.Errorf("tgkill tgid %d tid %d sig %d: %w", tgid, tid, sig, err)
	}
	return nil
}

// kcmpFile is KCMP_FILE from <linux/kcmp.h>.
const kcmpFile = 0

// CompareFiles orders the open file descriptions of fd a of pid1 and fd b
// of pid2 (kcmp KCMP_FILE): 0 when they are the same, else -1 or 1, an
// order the kernel keeps consistent (it compares scrambled pointers), so
// that descriptors can be sorted to find the shared ones in O(n log n)
// calls rather than comparing every pair.
func CompareFiles(pid1, a, pid2, b int) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), kcmpFile, uintptr(a), uintptr(b), 0)
	if errno != 0 {
		return 0, fmt.Errorf("kcmp pid %d fd %d, pid %d fd %d: %w", pid1, a, pid2, b, errno)
	}
	switch r {
	case 0:
		return 0, nil
	case 1:
		return -1, nil
	case 2:
		return 1, nil
	}
	return 0, fmt.Errorf("kcmp pid %d fd %d, pid %d fd %d: %d (unordered)", pid1, a, pid2, b, r)
}

// PidfdWait waits until the process of pidfd (a child of ours) ends, and
// reaps it. ECHILD means another waiter (a tracer of ours) reaped it first.
func PidfdWait(pidfd int) error {
	_, err := retryOnEINTR2(func() (int, error) {
		return unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, -1)
	})
	if err != nil {
		return fmt.Errorf("poll pidfd %d: %w", pidfd, err)
	}
	var info unix.Siginfo
	if err := retryOnEINTR(func() error { return unix.Waitid(unix.P_PIDFD, pidfd, &info, unix.WEXITED, nil) }); err != nil {
		return fmt.Errorf("waitid pidfd %d: %w", pidfd, err)
	}
	return nil
}
