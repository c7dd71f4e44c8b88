//go:build linux

package ptrace

import (
	"sync/atomic"

	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// xstateProbeSize is larger than any XSAVE area (AMX needs about 11 KiB).
const xstateProbeSize = 64 << 10

// xstateSize caches the kernel's NT_X86_XSTATE size, which is fixed at boot.
var xstateSize atomic.Int64

// FSGSBase returns the fs and gs base addresses of tid (what
// arch_prctl(ARCH_GET_FS/ARCH_GET_GS) would say).
func (t *Tracer) FSGSBase(tid int) (fs, gs uint64, err error) {
	regs, err := t.GetRegs(tid)
	return regs.Fs_base, regs.Gs_base, err
}

// GetXState reads the full XSAVE area (NT_X86_XSTATE) of tid. Its size is
// the kernel's (832 bytes with AVX, 2432 with AVX-512); it is probed on the
// first call and cached.
func (t *Tracer) GetXState(tid int) ([]byte, error) {
	var out []byte
	err := t.Do(func() error {
		var err error
		out, err = getXState(tid)
		return err
	})
	return out, err
}

// getXState reads NT_X86_XSTATE with a buffer of the cached size.
// Precondition: runs on the tracer thread.
func getXState(tid int) ([]byte, error) {
	size := xstateSize.Load()
	if size == 0 {
		buf := make([]byte, xstateProbeSize)
		n, err := linux.PtraceGetRegSet(tid, unix.NT_X86_XSTATE, buf)
		if err != nil {
			return nil, err
		}
		xstateSize.Store(int64(n))
		return buf[:n:n], nil
	}
	buf := make([]byte, size)
	n, err := linux.PtraceGetRegSet(tid, unix.NT_X86_XSTATE, buf)
	return buf[:n], err
}

// SetXState writes the XSAVE area of tid, as read by GetXState.
func (t *Tracer) SetXState(tid int, xstate []byte) error {
	return t.Do(func() error { return linux.PtraceSetRegSet(tid, unix.NT_X86_XSTATE, xstate) })
}
