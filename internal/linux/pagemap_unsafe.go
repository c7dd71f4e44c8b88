//go:build linux

package linux

import (
	"fmt"
	"runtime"
	"unsafe"
)

// PagemapScan runs the PAGEMAP_SCAN ioctl on fd, an open /proc/PID/pagemap,
// with arg, writing the regions found into vec. It sets arg.Size, arg.Vec
// and arg.VecLen. It returns the number of regions written; arg.WalkEnd
// says where the walk stopped (continue from there when it is below
// arg.End).
func PagemapScan(fd int, arg *PmScanArg, vec []PageRegion) (int, error) {
	arg.Size = SizeofPmScanArg
	arg.Vec, arg.VecLen = 0, uint64(len(vec))
	// arg.Vec hides a Go pointer in an integer: pin the array so that it
	// lives on the heap, does not move and is not freed during the call.
	var pin runtime.Pinner
	defer pin.Unpin()
	if len(vec) > 0 {
		pin.Pin(&vec[0])
		arg.Vec = uint64(uintptr(unsafe.Pointer(&vec[0])))
	}
	n, err := ioctlPtr(fd, PAGEMAP_SCAN, unsafe.Pointer(arg))
	if err != nil {
		return 0, fmt.Errorf("PAGEMAP_SCAN fd %d range %#x-%#x: %w", fd, arg.Start, arg.End, err)
	}
	return n, nil
}
