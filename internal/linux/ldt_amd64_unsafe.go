//go:build linux && amd64

package linux

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ModifyLDTRead reads the calling process's LDT into buf as raw 8-byte
// descriptors and returns the number of bytes read (0: no LDT). Decode them
// with DecodeLDT. A buffer of LDTEntries*LDTEntrySize bytes holds any LDT.
// For another process, inject modify_ldt(0, buf, len) into it instead.
func ModifyLDTRead(buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall(unix.SYS_MODIFY_LDT, ModifyLDTFuncRead,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if errno != 0 {
		return 0, fmt.Errorf("modify_ldt read %d bytes: %w", len(buf), errno)
	}
	return int(n), nil
}

// ModifyLDTWrite installs d in the calling process's LDT (modify_ldt(0x11)).
// It exists for tests on the calling process; the restorer injects the same
// call into the restored process with the bytes of d.Append.
func ModifyLDTWrite(d *UserDesc) error {
	_, _, errno := unix.Syscall(unix.SYS_MODIFY_LDT, ModifyLDTFuncWrite,
		uintptr(unsafe.Pointer(d)), unsafe.Sizeof(*d))
	if errno != 0 {
		return fmt.Errorf("modify_ldt write entry %d: %w", d.EntryNumber, errno)
	}
	return nil
}
