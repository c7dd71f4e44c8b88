//go:build linux

package linux

// Ioctl number encoding from <asm-generic/ioctl.h>, which x86-64 uses.
const (
	iocNRBits   = 8
	iocTypeBits = 8
	iocSizeBits = 14

	iocNRShift   = 0
	iocTypeShift = iocNRShift + iocNRBits
	iocSizeShift = iocTypeShift + iocTypeBits
	iocDirShift  = iocSizeShift + iocSizeBits

	iocWrite = 1
	iocRead  = 2
)

// The ioctl numbers are constants so that they can be used in switch
// statements; TestIoctlNumbers recomputes them with _IOC and the struct sizes.
const (
	// PAGEMAP_SCAN is _IOWR('f', 16, struct pm_scan_arg) (Linux 6.7+).
	PAGEMAP_SCAN = (iocRead|iocWrite)<<iocDirShift | 'f'<<iocTypeShift | 16 | SizeofPmScanArg<<iocSizeShift

	// UFFDIO_API is _IOWR(0xAA, 0x3F, struct uffdio_api).
	UFFDIO_API = (iocRead|iocWrite)<<iocDirShift | UFFDIO<<iocTypeShift | 0x3f | SizeofUffdioAPI<<iocSizeShift
	// UFFDIO_REGISTER is _IOWR(0xAA, 0x00, struct uffdio_register).
	UFFDIO_REGISTER = (iocRead|iocWrite)<<iocDirShift | UFFDIO<<iocTypeShift | 0x00 | SizeofUffdioRegister<<iocSizeShift
	// UFFDIO_UNREGISTER is _IOR(0xAA, 0x01, struct uffdio_range).
	UFFDIO_UNREGISTER = iocRead<<iocDirShift | UFFDIO<<iocTypeShift | 0x01 | SizeofUffdioRange<<iocSizeShift
	// UFFDIO_WAKE is _IOR(0xAA, 0x02, struct uffdio_range).
	UFFDIO_WAKE = iocRead<<iocDirShift | UFFDIO<<iocTypeShift | 0x02 | SizeofUffdioRange<<iocSizeShift
	// UFFDIO_WRITEPROTECT is _IOWR(0xAA, 0x06, struct uffdio_writeprotect).
	UFFDIO_WRITEPROTECT = (iocRead|iocWrite)<<iocDirShift | UFFDIO<<iocTypeShift | 0x06 | SizeofUffdioWriteprotect<<iocSizeShift
	// UFFDIO_COPY is _IOWR(0xAA, 0x03, struct uffdio_copy).
	UFFDIO_COPY = (iocRead|iocWrite)<<iocDirShift | UFFDIO<<iocTypeShift | 0x03 | SizeofUffdioCopy<<iocSizeShift
)

// userfaultfd constants from <linux/userfaultfd.h>.
const (
	UFFDIO   = 0xAA // ioctl type
	UFFD_API = 0xAA

	// UFFD_USER_MODE_ONLY is a userfaultfd(2) flag: only handle faults from
	// user mode, which unprivileged callers may ask for.
	UFFD_USER_MODE_ONLY = 1

	UFFD_FEATURE_PAGEFAULT_FLAG_WP  = 1 << 0
	UFFD_FEATURE_SIGBUS             = 1 << 7 // a missing page faults at once: SIGBUS, or EFAULT in the kernel
	UFFD_FEATURE_THREAD_ID          = 1 << 8
	UFFD_FEATURE_WP_HUGETLBFS_SHMEM = 1 << 12 // Linux 6.0+
	UFFD_FEATURE_WP_UNPOPULATED     = 1 << 13 // Linux 6.4+
	UFFD_FEATURE_WP_ASYNC           = 1 << 15 // Linux 6.7+

	UFFDIO_REGISTER_MODE_MISSING = 1 << 0
	UFFDIO_REGISTER_MODE_WP      = 1 << 1
	UFFDIO_REGISTER_MODE_MINOR   = 1 << 2

	UFFDIO_WRITEPROTECT_MODE_WP       = 1 << 0
	UFFDIO_WRITEPROTECT_MODE_DONTWAKE = 1 << 1
)

// PAGEMAP_SCAN page categories and flags from <linux/fs.h>.
const (
	PAGE_IS_WPALLOWED  = 1 << 0
	PAGE_IS_WRITTEN    = 1 << 1
	PAGE_IS_FILE       = 1 << 2
	PAGE_IS_PRESENT    = 1 << 3
	PAGE_IS_SWAPPED    = 1 << 4
	PAGE_IS_PFNZERO    = 1 << 5
	PAGE_IS_HUGE       = 1 << 6
	PAGE_IS_SOFT_DIRTY = 1 << 7
	PAGE_IS_GUARD      = 1 << 8 // Linux 6.15+

	// PM_SCAN_WP_MATCHING write-protects the matching pages while scanning.
	PM_SCAN_WP_MATCHING = 1 << 0
	// PM_SCAN_CHECK_WPASYNC fails with EPERM unless the whole range is
	// registered for async write-protection.
	PM_SCAN_CHECK_WPASYNC = 1 << 1
)

// Limits.
const (
	// IOV_MAX is UIO_MAXIOV, the most iovecs one readv-like call accepts.
	IOV_MAX = 1024
	// PageSize is the base page size on x86-64.
	PageSize = 4096
)

// Kernel-internal restart codes a stopped task can show in rax after being
// interrupted inside a system call (<linux/errno.h>, never seen by programs).
const (
	ERESTARTSYS           = 512
	ERESTARTNOINTR        = 513
	ERESTARTNOHAND        = 514
	ERESTART_RESTARTBLOCK = 516
)
