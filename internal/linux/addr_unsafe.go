//go:build linux

package linux

import "unsafe"

// sliceAddr is the address of the first byte of b, for memory that is not
// managed by the Go heap (mmap).
func SliceAddr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
