//go:build linux

package linux

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// HaveUffdWPAsync reports whether userfaultfd write-protection in async mode
// (UFFD_FEATURE_WP_ASYNC, Linux 6.7+) works for this process: it creates a
// userfaultfd with UFFD_USER_MODE_ONLY and asks for WP_ASYNC and
// WP_UNPOPULATED. The answer is computed once. A nil error means supported;
// otherwise the error matches ErrNotSupported.
func HaveUffdWPAsync() error { return haveUffdWPAsync() }

// HavePagemapScan reports whether the PAGEMAP_SCAN ioctl (Linux 6.7+) works
// on /proc/self/pagemap. The answer is computed once.
func HavePagemapScan() error { return havePagemapScan() }

// HaveClone3SetTID reports whether this process may use clone3 with set_tid
// (Linux 5.5+): it needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in its
// effective set. This checks the capability in the caller's own user
// namespace, which is the one that matters when the target PID namespace
// belongs to it. The answer is computed once.
func HaveClone3SetTID() error { return haveClone3SetTID() }

var (
	haveUffdWPAsync  = sync.OnceValue(probeUffdWPAsync)
	havePagemapScan  = sync.OnceValue(probePagemapScan)
	haveClone3SetTID = sync.OnceValue(probeClone3SetTID)
)

func probeUffdWPAsync() error {
	const feature = "userfaultfd async write-protect (UFFD_FEATURE_WP_ASYNC, Linux 6.7+)"
	fd, err := Userfaultfd(unix.O_CLOEXEC | unix.O_NONBLOCK | UFFD_USER_MODE_ONLY)
	if err != nil {
		return &FeatureError{Feature: feature, Err: err}
	}
	defer unix.Close(fd)
	want := uint64(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)
	api, err := UffdAPI(fd, want)
	if err != nil {
		return &FeatureError{Feature: feature, Err: err}
	}
	if api.Features&want != want {
		return &FeatureError{Feature: feature, Err: fmt.Errorf("kernel enabled features %#x", api.Features)}
	}
	return nil
}

func probePagemapScan() error {
	const feature = "PAGEMAP_SCAN ioctl (Linux 6.7+)"
	mem, err := unix.Mmap(-1, 0, PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return &FeatureError{Feature: feature, Err: err}
	}
	defer unix.Munmap(mem)
	mem[0] = 1
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return &FeatureError{Feature: feature, Err: err}
	}
	defer f.Close()
	start := SliceAddr(mem)
	arg := PmScanArg{Start: start, End: start + PageSize, CategoryMask: PAGE_IS_PRESENT, ReturnMask: PAGE_IS_PRESENT}
	var vec [1]PageRegion
	n, err := PagemapScan(int(f.Fd()), &arg, vec[:])
	if err == nil && (n != 1 || vec[0].Start != start) {
		err = fmt.Errorf("scan of one present page returned %d regions %+v", n, vec[:n])
	}
	if err != nil {
		return &FeatureError{Feature: feature, Err: err}
	}
	return nil
}

func probeClone3SetTID() error {
	const feature = "clone3 set_tid (needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN)"
	eff, err := effectiveCaps()
	if err != nil {
		return &FeatureError{Feature: feature, Err: err}
	}
	if eff&(1<<unix.CAP_CHECKPOINT_RESTORE|1<<unix.CAP_SYS_ADMIN) == 0 {
		return &FeatureError{Feature: feature, Err: errors.New("neither capability is in the effective set")}
	}
	return nil
}

// effectiveCaps returns the effective capability set of the calling thread.
func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3 writes two of them
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return uint64(data[1].Effective)<<32 | uint64(data[0].Effective), nil
}
