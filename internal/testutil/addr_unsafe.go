package testutil

import "unsafe"

// AddrOf is the address of b's first byte.
func AddrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
