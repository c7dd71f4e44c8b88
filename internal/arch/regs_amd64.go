// Package arch holds what depends on the CPU architecture: the layout of
// the saved general registers and how a task stopped inside a system call
// is made to resume it.
package arch

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// RegsSize is the size of struct user_regs_struct.
const RegsSize = 27 * 8

// EncodeRegs returns the raw little-endian user_regs_struct.
func EncodeRegs(r *unix.PtraceRegs) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, r)
	return b.Bytes()
}

// DecodeRegs parses a raw user_regs_struct.
func DecodeRegs(b []byte) (unix.PtraceRegs, error) {
	var r unix.PtraceRegs
	if len(b) != RegsSize {
		return r, fmt.Errorf("registers: %d bytes, want %d", len(b), RegsSize)
	}
	_, err := binary.Decode(b, binary.LittleEndian, &r)
	return r, err
}

// Kernel-internal return values of an interrupted system call
// (include/linux/errno.h). User space never sees them.
var errEINTR = int64(unix.EINTR)

const (
	errRestartSys          = 512
	errRestartNoIntr       = 513
	errRestartNoHand       = 514
	errRestartRestartBlock = 516
)

// Restart describes how a task caught in a system call resumes.
type Restart int

const (
	NotInSyscall Restart = iota // the task was running user code
	Reissue                     // the call is made again from the start
	Interrupted                 // the call returns EINTR (its restart state is gone)
)

func (r Restart) String() string {
	return [...]string{"not in a system call", "system call restarted", "system call returns EINTR"}[r]
}

// PrepareResume edits the registers of a task that was stopped (by
// PTRACE_INTERRUPT) inside a system call, so that when it runs again, in
// this or another process, it behaves as the kernel would have made it:
// calls that restart are issued again (rip back over the 2-byte `syscall`
// instruction, rax = the call number), and calls whose restart needs
// kernel state that does not survive the move (restart_block:
// nanosleep, poll with a timeout, futex with a timeout) return -EINTR, as
// after a signal. orig_rax is set to -1 so that the kernel applies no
// restart logic of its own on top.
func PrepareResume(r *unix.PtraceRegs) Restart {
	if int64(r.Orig_rax) < 0 {
		return NotInSyscall
	}
	switch -int64(r.Rax) {
	case errRestartSys, errRestartNoIntr, errRestartNoHand:
		r.Rax = r.Orig_rax
		r.Rip -= 2
		r.Orig_rax = ^uint64(0)
		return Reissue
	case errRestartRestartBlock:
		eintr := -errEINTR
		r.Rax = uint64(eintr)
		r.Orig_rax = ^uint64(0)
		return Interrupted
	}
	// The call had completed (its result is in rax): nothing to redo.
	r.Orig_rax = ^uint64(0)
	return NotInSyscall
}

// ResumeInPlace edits the registers of a task that was stopped inside a
// system call and will resume in the same task, after other system calls
// were injected into it. The kernel applies its restart logic only on the
// way to a signal, which an injected call's stop does not take, so it is
// done here: calls that restart are issued again, and calls that restart
// through restart_block (still intact in this task) go on with
// restart_syscall, as the kernel would have done.
func ResumeInPlace(r *unix.PtraceRegs) {
	if int64(r.Orig_rax) < 0 {
		return
	}
	switch -int64(r.Rax) {
	case errRestartSys, errRestartNoIntr, errRestartNoHand:
		r.Rax = r.Orig_rax
	case errRestartRestartBlock:
		r.Rax = unix.SYS_RESTART_SYSCALL
	default:
		return
	}
	r.Rip -= 2
	r.Orig_rax = ^uint64(0)
}
