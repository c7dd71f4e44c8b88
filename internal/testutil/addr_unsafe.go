package testutil

import "unsafe"

// AddrOf is the address of b's first byte: linux.SliceAddr for tests
// (testutil cannot import internal/linux, whose own tests use testutil).
func AddrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
