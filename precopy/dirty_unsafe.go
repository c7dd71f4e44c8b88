//go:build linux

package precopy

import "unsafe"

// sliceStart is the address of the first byte of b, for memory that is not
// managed by the Go heap (mmap).
func sliceStart(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
