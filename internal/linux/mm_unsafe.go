//go:build linux

package linux

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PrctlMMMapSize asks the kernel for sizeof(struct prctl_mm_map)
// (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE)). It should equal SizeofPrctlMMMap;
// the restorer checks that before it builds a prctl_mm_map.
func PrctlMMMapSize() (uint32, error) {
	var size uint32
	_, _, errno := unix.Syscall6(unix.SYS_PRCTL, unix.PR_SET_MM, unix.PR_SET_MM_MAP_SIZE,
		uintptr(unsafe.Pointer(&size)), 0, 0, 0)
	if errno != 0 {
		return 0, fmt.Errorf("prctl PR_SET_MM_MAP_SIZE: %w", errno)
	}
	return size, nil
}
