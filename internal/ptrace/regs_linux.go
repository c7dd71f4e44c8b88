//go:build linux

package ptrace

import (
	"fmt"

	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// fpregsSize is sizeof(struct user_i387_struct), the FXSAVE area.
const fpregsSize = 512

// GetRegs reads the general registers of a stopped tid.
func (t *Tracer) GetRegs(tid int) (unix.PtraceRegs, error) {
	var regs unix.PtraceRegs
	err := t.Do(func() error { return linux.PtraceGetRegs(tid, &regs) })
	return regs, err
}

// SetRegs writes the general registers of a stopped tid.
func (t *Tracer) SetRegs(tid int, regs *unix.PtraceRegs) error {
	r := *regs
	return t.Do(func() error { return linux.PtraceSetRegs(tid, &r) })
}

// GetFPRegs reads the legacy FXSAVE area (NT_PRFPREG, 512 bytes) of tid.
func (t *Tracer) GetFPRegs(tid int) ([]byte, error) {
	buf := make([]byte, fpregsSize)
	var n int
	err := t.Do(func() error {
		var err error
		n, err = linux.PtraceGetRegSet(tid, unix.NT_PRFPREG, buf)
		return err
	})
	return buf[:n], err
}

// GetSigmask returns the blocked-signal mask of tid (bit n-1 is signal n).
func (t *Tracer) GetSigmask(tid int) (uint64, error) {
	var mask uint64
	err := t.Do(func() error {
		var err error
		mask, err = linux.PtraceGetSigmask(tid)
		return err
	})
	return mask, err
}

// SetSigmask sets the blocked-signal mask of tid.
func (t *Tracer) SetSigmask(tid int, mask uint64) error {
	return t.Do(func() error { return linux.PtraceSetSigmask(tid, mask) })
}

// PeekSiginfo returns the pending signals of tid with their siginfo, from
// the thread's own queue, or from the process-wide queue when shared.
func (t *Tracer) PeekSiginfo(tid int, shared bool) ([]unix.Siginfo, error) {
	var out []unix.Siginfo
	err := t.Do(func() error {
		var err error
		out, err = peekSiginfo(tid, shared)
		return err
	})
	return out, err
}

// peekSiginfo reads a whole signal queue in batches.
// Precondition: runs on the tracer thread.
func peekSiginfo(tid int, shared bool) ([]unix.Siginfo, error) {
	var out []unix.Siginfo
	batch := make([]unix.Siginfo, 32)
	for {
		n, err := linux.PtracePeekSiginfo(tid, uint64(len(out)), shared, batch)
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, batch[:n]...)
	}
}

// GetRseqConfig returns the rseq registration of tid (RseqAbiPointer 0 when
// the thread has none).
func (t *Tracer) GetRseqConfig(tid int) (linux.PtraceRseqConfiguration, error) {
	var c linux.PtraceRseqConfiguration
	err := t.Do(func() error {
		var err error
		c, err = linux.PtraceGetRseqConfiguration(tid)
		return err
	})
	if err != nil {
		return c, fmt.Errorf("reading rseq configuration: %w", err)
	}
	return c, nil
}
