//go:build linux

package linux

import "testing"

// _IOC is the kernel's macro, computed at run time for comparison.
func _IOC(dir, typ, nr, size uint) uint {
	return dir<<iocDirShift | typ<<iocTypeShift | nr<<iocNRShift | size<<iocSizeShift
}

func TestIoctlNumbers(t *testing.T) {
	const rw = iocRead | iocWrite
	for _, tc := range []struct {
		name        string
		got         uint
		computed    uint
		fromHeaders uint // value printed by a C program using the kernel headers
	}{
		{"PAGEMAP_SCAN", PAGEMAP_SCAN, _IOC(rw, 'f', 16, SizeofPmScanArg), 0xc0606610},
		{"UFFDIO_API", UFFDIO_API, _IOC(rw, 0xaa, 0x3f, SizeofUffdioAPI), 0xc018aa3f},
		{"UFFDIO_REGISTER", UFFDIO_REGISTER, _IOC(rw, 0xaa, 0x00, SizeofUffdioRegister), 0xc020aa00},
		{"UFFDIO_UNREGISTER", UFFDIO_UNREGISTER, _IOC(iocRead, 0xaa, 0x01, SizeofUffdioRange), 0x8010aa01},
		{"UFFDIO_WAKE", UFFDIO_WAKE, _IOC(iocRead, 0xaa, 0x02, SizeofUffdioRange), 0x8010aa02},
		{"UFFDIO_WRITEPROTECT", UFFDIO_WRITEPROTECT, _IOC(rw, 0xaa, 0x06, SizeofUffdioWriteprotect), 0xc018aa06},
		{"UFFDIO_COPY", UFFDIO_COPY, _IOC(rw, 0xaa, 0x03, SizeofUffdioCopy), 0xc028aa03},
	} {
		if tc.got != tc.computed || tc.got != tc.fromHeaders {
			t.Errorf("%s = %#x, _IOC gives %#x, kernel headers %#x", tc.name, tc.got, tc.computed, tc.fromHeaders)
		}
	}
}

func TestFeatureBits(t *testing.T) {
	if UFFD_FEATURE_WP_ASYNC != 0x8000 || UFFD_FEATURE_WP_UNPOPULATED != 0x2000 ||
		UFFD_FEATURE_WP_HUGETLBFS_SHMEM != 0x1000 || UFFD_FEATURE_SIGBUS != 0x80 {
		t.Error("UFFD_FEATURE_* bits differ from <linux/userfaultfd.h>")
	}
	if PAGE_IS_WRITTEN != 2 || PM_SCAN_WP_MATCHING != 1 || PM_SCAN_CHECK_WPASYNC != 2 {
		t.Error("PAGEMAP_SCAN bits differ from <linux/fs.h>")
	}
}
