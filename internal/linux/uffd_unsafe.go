//go:build linux

package linux

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctlPtr is ioctl(fd, req, arg) for a pointer argument, retried on EINTR.
// It returns the ioctl's non-negative result.
func ioctlPtr(fd int, req uint, arg unsafe.Pointer) (int, error) {
	return retryOnEINTR2(func() (int, error) {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		if errno != 0 {
			return -1, errno
		}
		return int(r), nil
	})
}

// Userfaultfd creates a userfaultfd in the calling process; flags are
// O_CLOEXEC, O_NONBLOCK and UFFD_USER_MODE_ONLY. Note that a userfaultfd
// acts on the memory of the process that created it, so to track another
// process, create it there with an injected system call and take it with
// PidfdGetfd.
func Userfaultfd(flags int) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, uintptr(flags), 0, 0)
	if errno != 0 {
		return -1, fmt.Errorf("userfaultfd flags %#x: %w", flags, errno)
	}
	return int(fd), nil
}

// UffdAPI performs the UFFDIO_API handshake on a new userfaultfd asking for
// features (UFFD_FEATURE_*). It returns the kernel's answer: the enabled
// features and the supported ioctls. Asking for a feature the kernel lacks
// fails with EINVAL.
func UffdAPI(fd int, features uint64) (UffdioAPI, error) {
	api := UffdioAPI{API: UFFD_API, Features: features}
	_, err := ioctlPtr(fd, UFFDIO_API, unsafe.Pointer(&api))
	if err != nil {
		return api, fmt.Errorf("UFFDIO_API fd %d features %#x: %w", fd, features, err)
	}
	return api, nil
}

// UffdRegisterWP registers [start, start+length) of the userfaultfd's
// process for write-protect tracking. It returns the ioctls the range
// supports.
func UffdRegisterWP(fd int, start, length uint64) (uint64, error) {
	return uffdRegister(fd, start, length, UFFDIO_REGISTER_MODE_WP, "write-protect")
}

// UffdRegisterMissing registers [start, start+length) of the
// userfaultfd's process for missing-page handling: its pages can then be
// filled with UffdCopy. It returns the ioctls the range supports.
func UffdRegisterMissing(fd int, start, length uint64) (uint64, error) {
	return uffdRegister(fd, start, length, UFFDIO_REGISTER_MODE_MISSING, "missing")
}

func uffdRegister(fd int, start, length, mode uint64, what string) (uint64, error) {
	reg := UffdioRegister{Range: UffdioRange{Start: start, Len: length}, Mode: mode}
	_, err := ioctlPtr(fd, UFFDIO_REGISTER, unsafe.Pointer(&reg))
	if err != nil {
		return 0, fmt.Errorf("UFFDIO_REGISTER %s fd %d range %#x+%#x: %w", what, fd, start, length, err)
	}
	return reg.Ioctls, nil
}

// UffdMissing returns a userfaultfd of this process in SIGBUS mode with
// [start, start+length) registered for missing pages: UffdCopy fills
// them, and anything else that touches a missing one fails at once
// (SIGBUS, or EFAULT in the kernel) instead of waiting for a handler.
// Closing it unregisters the range.
func UffdMissing(start, length uint64) (int, error) {
	fd, err := Userfaultfd(unix.O_CLOEXEC | unix.O_NONBLOCK)
	if err != nil {
		return -1, err
	}
	if _, err = UffdAPI(fd, UFFD_FEATURE_SIGBUS); err == nil {
		_, err = UffdRegisterMissing(fd, start, length)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// UffdCopy fills the missing pages at dst (a range registered with
// UffdRegisterMissing) with src, whose length is a multiple of the page
// size: the kernel allocates each page and copies into it, with no
// clearing and no fault. It returns the bytes copied; it stops at the
// first page already present with an error matching unix.EEXIST.
func UffdCopy(fd int, dst uint64, src []byte) (uint64, error) {
	var done uint64
	for done < uint64(len(src)) {
		c := UffdioCopy{Dst: dst + done, Src: SliceAddr(src[done:]), Len: uint64(len(src)) - done}
		_, err := ioctlPtr(fd, UFFDIO_COPY, unsafe.Pointer(&c))
		if c.Copy > 0 {
			done += uint64(c.Copy)
		}
		if err == nil {
			continue
		}
		if errors.Is(err, unix.EAGAIN) && c.Copy > 0 {
			continue // interrupted after some pages: go on from there
		}
		return done, fmt.Errorf("UFFDIO_COPY fd %d at %#x (%d bytes): %w", fd, dst+done, uint64(len(src))-done, err)
	}
	return done, nil
}

// UffdUnregister unregisters [start, start+length); pages keep no
// write-protection afterwards.
func UffdUnregister(fd int, start, length uint64) error {
	r := UffdioRange{Start: start, Len: length}
	_, err := ioctlPtr(fd, UFFDIO_UNREGISTER, unsafe.Pointer(&r))
	if err != nil {
		return fmt.Errorf("UFFDIO_UNREGISTER fd %d range %#x+%#x: %w", fd, start, length, err)
	}
	return nil
}

// UffdWriteProtect sets (on) or clears write-protection of a registered
// range.
func UffdWriteProtect(fd int, start, length uint64, on bool) error {
	wp := UffdioWriteprotect{Range: UffdioRange{Start: start, Len: length}}
	if on {
		wp.Mode = UFFDIO_WRITEPROTECT_MODE_WP
	}
	_, err := ioctlPtr(fd, UFFDIO_WRITEPROTECT, unsafe.Pointer(&wp))
	if err != nil {
		return fmt.Errorf("UFFDIO_WRITEPROTECT fd %d range %#x+%#x on=%t: %w", fd, start, length, on, err)
	}
	return nil
}
