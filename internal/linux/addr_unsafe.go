//go:build linux

package linux

import "unsafe"

// SliceAddr is the address of the first byte of b, to hand to the kernel
// (an iovec, a uffdio_copy source). Memory from mmap stays where it is;
// a slice of the Go heap does too (Go's collector does not move objects),
// as long as the caller keeps b alive until the call returns.
func SliceAddr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
