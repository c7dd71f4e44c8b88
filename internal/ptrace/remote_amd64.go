//go:build linux

package ptrace

import (
	"errors"
	"fmt"

	"github.com/migrate-dev/migrate/internal/arch"
	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// Method is how a Remote makes the tracee execute an injected system call.
type Method int

const (
	// MethodSyscallStops resumes with PTRACE_SYSCALL and waits for the
	// syscall-entry and then the syscall-exit stop. These stops are not
	// signals, so the tracee's signal state is left exactly as it was. It
	// costs two stops per call. This is the default.
	MethodSyscallStops Method = iota
	// MethodSingleStep single-steps over the syscall instruction: one stop
	// per call. The trap is a forced SIGTRAP, which the kernel unblocks and,
	// if the tracee ignores SIGTRAP, resets to SIG_DFL.
	MethodSingleStep
	// MethodInt3 resumes with PTRACE_CONT into the "syscall; int3" of a
	// page mapped by MapGadget: one stop per call, with the same SIGTRAP
	// caveat as MethodSingleStep.
	MethodInt3
)

// Remote runs system calls inside one stopped thread. It is not safe for
// concurrent use. Create it with Tracer.NewRemote, call Syscall any number
// of times, then Restore before the thread is resumed or detached.
type Remote struct {
	t   *Tracer
	tid int

	insn     uint64 // address of the syscall instruction in use
	method   Method // how the tracee runs insn
	gadget   uint64 // page mapped by MapGadget, 0 if none
	fallback uint64 // insn to go back to after UnmapGadget

	saved     unix.PtraceRegs // registers when the Remote was made
	savedMask uint64          // signal mask when the Remote was made
	blocked   uint64          // mask set by blockSignals, 0 if none
}

// NewRemote prepares syscall injection into tid, which must be in a
// ptrace-stop. insn is the address of a syscall instruction in the tracee;
// 0 finds one with FindSyscallInsn.
func (t *Tracer) NewRemote(tid int, insn uint64) (*Remote, error) {
	if insn == 0 {
		var err error
		if insn, err = FindSyscallInsn(tid); err != nil {
			return nil, err
		}
	}
	r := &Remote{t: t, tid: tid, insn: insn, fallback: insn}
	err := t.Do(func() error {
		if err := linux.PtraceGetRegs(tid, &r.saved); err != nil {
			return err
		}
		var err error
		r.savedMask, err = linux.PtraceGetSigmask(tid)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("preparing syscall injection: %w", err)
	}
	return r, nil
}

// SetMethod chooses how later calls run. MethodInt3 needs a gadget page
// (MapGadget).
func (r *Remote) SetMethod(m Method) error {
	if m == MethodInt3 && r.gadget == 0 {
		return errors.New("MethodInt3 needs a gadget page: call MapGadget first")
	}
	r.method = m
	return nil
}

// Saved returns the registers the thread had when the Remote was made,
// which Restore puts back.
func (r *Remote) Saved() unix.PtraceRegs { return r.saved }

// Syscall runs system call nr with up to six arguments in the thread and
// returns its result. A result in -4095..-1 is returned as an error
// wrapping the unix.Errno. If the thread dies (exit_group, SIGKILL) the
// error is an *ExitedError.
func (r *Remote) Syscall(nr uintptr, args ...uint64) (uint64, error) {
	if len(args) > 6 {
		return 0, fmt.Errorf("injected syscall %d: %d arguments, at most 6", nr, len(args))
	}
	var ret uint64
	err := r.t.Do(func() error {
		var err error
		ret, err = r.syscall(nr, args)
		return err
	})
	if err != nil {
		return ret, fmt.Errorf("injected syscall %d in tid %d: %w", nr, r.tid, err)
	}
	return ret, nil
}

// syscall does one injected call. Precondition: runs on the tracer thread.
func (r *Remote) syscall(nr uintptr, args []uint64) (uint64, error) {
	if err := r.blockSignals(r.method != MethodSyscallStops); err != nil {
		return 0, err
	}
	var a [6]uint64
	copy(a[:], args)
	regs := r.saved
	regs.Rax, regs.Orig_rax, regs.Rip = uint64(nr), ^uint64(0), r.insn
	regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9 = a[0], a[1], a[2], a[3], a[4], a[5]
	if err := linux.PtraceSetRegs(r.tid, &regs); err != nil {
		return 0, err
	}
	wantRip, err := r.run()
	if err != nil {
		return 0, err
	}
	if err := linux.PtraceGetRegs(r.tid, &regs); err != nil {
		return 0, err
	}
	if regs.Rip != wantRip {
		return 0, fmt.Errorf("tracee stopped at rip %#x, want %#x", regs.Rip, wantRip)
	}
	return regs.Rax, Errno(regs.Rax)
}

// run lets the tracee execute the syscall instruction at r.insn and waits
// until it stops after it; it returns the rip the tracee should stop at.
// Precondition: runs on the tracer thread.
func (r *Remote) run() (uint64, error) {
	switch r.method {
	case MethodSyscallStops:
		// Entry stop, then exit stop; neither is a signal.
		for range 2 {
			if err := r.resumeAndWait(linux.PtraceSyscall); err != nil {
				return 0, err
			}
		}
		return r.insn + 2, nil
	case MethodInt3:
		return r.insn + 3, r.resumeAndWait(linux.PtraceCont)
	default:
		return r.insn + 2, r.resumeAndWait(linux.PtraceSingleStep)
	}
}

// resumeAndWait resumes the tracee with resume and waits for a SIGTRAP
// stop (a trap signal or a syscall-stop, with or without the 0x80 of
// PTRACE_O_TRACESYSGOOD). Precondition: runs on the tracer thread.
func (r *Remote) resumeAndWait(resume func(int, unix.Signal) error) error {
	if err := resume(r.tid, 0); err != nil {
		return err
	}
	s, err := waitStop(r.tid)
	if err != nil {
		return err
	}
	if s.Sig&^0x80 != unix.SIGTRAP || s.Event != 0 {
		return fmt.Errorf("unexpected %v", s)
	}
	return nil
}

// blockSignals blocks every signal in the tracee so that none is delivered
// on top of the injected registers; they stay queued until Restore. When
// the call traps with SIGTRAP (trap), SIGTRAP stays unblocked: the kernel
// would otherwise unblock it and reset its handler to SIG_DFL when forcing
// the trap. Precondition: runs on the tracer thread.
func (r *Remote) blockSignals(trap bool) error {
	mask := ^uint64(0)
	if trap {
		mask &^= 1 << (unix.SIGTRAP - 1)
	}
	if r.blocked == mask {
		return nil
	}
	if err := linux.PtraceSetSigmask(r.tid, mask); err != nil {
		return err
	}
	r.blocked = mask
	return nil
}

// Restore puts back the registers and signal mask the thread had when the
// Remote was made, with a system call it was interrupted in set to
// restart (see arch.ResumeInPlace: resuming from an injected call's stop
// would otherwise hand the kernel-internal -ERESTART* code to the program). The Remote stays usable; a later Syscall saves nothing
// new and needs another Restore.
func (r *Remote) Restore() error {
	err := r.t.Do(func() error {
		regs := r.saved
		arch.ResumeInPlace(&regs)
		if err := linux.PtraceSetRegs(r.tid, &regs); err != nil {
			return err
		}
		if err := linux.PtraceSetSigmask(r.tid, r.savedMask); err != nil {
			return err
		}
		r.blocked = 0
		return nil
	})
	if err != nil {
		return fmt.Errorf("restoring tid %d after syscall injection: %w", r.tid, err)
	}
	return nil
}

// MapGadget maps one page at addr in the tracee holding "syscall; int3",
// mapped read+exec, and makes later injected calls use its syscall
// instruction (choose MethodInt3 with SetMethod to resume with PTRACE_CONT
// into it). This is for tracees whose own mappings are about to go away,
// like a restore stub that unmaps everything it had. The page is mapped read-write
// with MAP_FIXED_NOREPLACE (EEXIST if addr is in use), filled with
// process_vm_writev, then mprotected. addr must be page-aligned.
func (r *Remote) MapGadget(addr uint64) error {
	if r.gadget != 0 {
		return fmt.Errorf("tid %d already has a gadget page at %#x", r.tid, r.gadget)
	}
	got, err := r.Syscall(unix.SYS_MMAP, addr, linux.PageSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE, ^uint64(0), 0)
	if err == nil && got != addr { // MAP_FIXED_NOREPLACE unknown: addr was a hint
		_, err = r.Syscall(unix.SYS_MUNMAP, got, linux.PageSize)
		err = errors.Join(unix.EEXIST, err)
	}
	if err != nil {
		return fmt.Errorf("mapping gadget page at %#x: %w", addr, err)
	}
	err = linux.WriteMem(r.tid, addr, gadgetCode)
	if err == nil {
		_, err = r.Syscall(unix.SYS_MPROTECT, addr, linux.PageSize, gadgetProt)
	}
	if err != nil {
		_, uerr := r.Syscall(unix.SYS_MUNMAP, addr, linux.PageSize)
		return fmt.Errorf("filling gadget page at %#x: %w", addr, errors.Join(err, uerr))
	}
	r.insn, r.gadget = addr, addr
	return nil
}

// UseGadget makes the Remote use the gadget page that MapGadget mapped
// at addr in the process the thread was forked from (a child has a copy).
func (r *Remote) UseGadget(addr uint64) {
	r.insn, r.gadget = addr, addr
}

// UnmapGadget unmaps the page of MapGadget and goes back to the syscall
// instruction the Remote had before (and from MethodInt3 to
// MethodSyscallStops). The munmap runs from the gadget page itself; the
// tracee stops at the syscall exit, before it fetches the next instruction.
func (r *Remote) UnmapGadget() error {
	if r.gadget == 0 {
		return nil
	}
	m := r.method
	if m == MethodInt3 {
		r.method = MethodSyscallStops
	}
	if _, err := r.Syscall(unix.SYS_MUNMAP, r.gadget, linux.PageSize); err != nil {
		r.method = m
		return fmt.Errorf("unmapping gadget page: %w", err)
	}
	r.insn, r.gadget = r.fallback, 0
	return nil
}
