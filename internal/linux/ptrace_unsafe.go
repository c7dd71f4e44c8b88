//go:build linux

package linux

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Precondition for every Ptrace* function: it runs on the OS thread that
// attached to tid (see package internal/ptrace).

var ptraceNames = map[uintptr]string{
	unix.PTRACE_SEIZE:                  "SEIZE",
	unix.PTRACE_INTERRUPT:              "INTERRUPT",
	unix.PTRACE_CONT:                   "CONT",
	unix.PTRACE_SINGLESTEP:             "SINGLESTEP",
	unix.PTRACE_SYSCALL:                "SYSCALL",
	unix.PTRACE_DETACH:                 "DETACH",
	unix.PTRACE_LISTEN:                 "LISTEN",
	unix.PTRACE_GETREGS:                "GETREGS",
	unix.PTRACE_SETREGS:                "SETREGS",
	unix.PTRACE_GETREGSET:              "GETREGSET",
	unix.PTRACE_SETREGSET:              "SETREGSET",
	unix.PTRACE_GETSIGINFO:             "GETSIGINFO",
	unix.PTRACE_SETSIGINFO:             "SETSIGINFO",
	unix.PTRACE_PEEKSIGINFO:            "PEEKSIGINFO",
	unix.PTRACE_GETSIGMASK:             "GETSIGMASK",
	unix.PTRACE_SETSIGMASK:             "SETSIGMASK",
	unix.PTRACE_SETOPTIONS:             "SETOPTIONS",
	unix.PTRACE_GETEVENTMSG:            "GETEVENTMSG",
	unix.PTRACE_GET_SYSCALL_INFO:       "GET_SYSCALL_INFO",
	unix.PTRACE_GET_RSEQ_CONFIGURATION: "GET_RSEQ_CONFIGURATION",
}

// ptrace issues one request whose data argument is a pointer. The pointer
// is converted in the Syscall6 argument list, so the object stays alive and
// in place during the call.
func ptrace(req uintptr, tid int, addr uintptr, data unsafe.Pointer) (uintptr, error) {
	r, _, errno := unix.Syscall6(unix.SYS_PTRACE, req, uintptr(tid), addr, uintptr(data), 0, 0)
	return r, ptraceError(req, tid, errno)
}

// ptraceInt issues one request whose arguments are plain integers.
func ptraceInt(req uintptr, tid int, addr, data uintptr) error {
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, req, uintptr(tid), addr, data, 0, 0)
	return ptraceError(req, tid, errno)
}

// ptraceError names the request and the tid; nil for errno 0.
func ptraceError(req uintptr, tid int, errno unix.Errno) error {
	if errno == 0 {
		return nil
	}
	name, ok := ptraceNames[req]
	if !ok {
		name = fmt.Sprintf("%#x", req)
	}
	return fmt.Errorf("ptrace %s tid %d: %w", name, tid, errno)
}

// PtraceGetRegs reads the general registers of tid.
func PtraceGetRegs(tid int, regs *unix.PtraceRegs) error {
	_, err := ptrace(unix.PTRACE_GETREGS, tid, 0, unsafe.Pointer(regs))
	return err
}

// PtraceSetRegs writes the general registers of tid.
func PtraceSetRegs(tid int, regs *unix.PtraceRegs) error {
	_, err := ptrace(unix.PTRACE_SETREGS, tid, 0, unsafe.Pointer(regs))
	return err
}

// PtraceGetRegSet reads register set note (NT_PRSTATUS, NT_PRFPREG,
// NT_X86_XSTATE, ...) into buf and returns the number of bytes the kernel
// wrote. The kernel silently truncates to len(buf).
func PtraceGetRegSet(tid int, note int, buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, fmt.Errorf("ptrace GETREGSET tid %d note %#x: empty buffer: %w", tid, note, unix.EINVAL)
	}
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	if _, err := ptrace(unix.PTRACE_GETREGSET, tid, uintptr(note), unsafe.Pointer(&iov)); err != nil {
		return 0, fmt.Errorf("note %#x: %w", note, err)
	}
	return int(iov.Len), nil
}

// PtraceSetRegSet writes register set note of tid from buf.
func PtraceSetRegSet(tid int, note int, buf []byte) error {
	if len(buf) == 0 {
		return fmt.Errorf("ptrace SETREGSET tid %d note %#x: empty buffer: %w", tid, note, unix.EINVAL)
	}
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	if _, err := ptrace(unix.PTRACE_SETREGSET, tid, uintptr(note), unsafe.Pointer(&iov)); err != nil {
		return fmt.Errorf("note %#x: %w", note, err)
	}
	return nil
}

// PtraceGetSigmask returns the blocked-signal mask of tid (bit n-1 is
// signal n).
func PtraceGetSigmask(tid int) (uint64, error) {
	var mask uint64
	_, err := ptrace(unix.PTRACE_GETSIGMASK, tid, unsafe.Sizeof(mask), unsafe.Pointer(&mask))
	return mask, err
}

// PtraceSetSigmask sets the blocked-signal mask of tid. The kernel never
// blocks SIGKILL and SIGSTOP whatever the mask says.
func PtraceSetSigmask(tid int, mask uint64) error {
	_, err := ptrace(unix.PTRACE_SETSIGMASK, tid, unsafe.Sizeof(mask), unsafe.Pointer(&mask))
	return err
}

// PtraceGetSiginfo reads the siginfo of the signal that caused the current
// signal-delivery-stop of tid.
func PtraceGetSiginfo(tid int) (unix.Siginfo, error) {
	var si unix.Siginfo
	_, err := ptrace(unix.PTRACE_GETSIGINFO, tid, 0, unsafe.Pointer(&si))
	return si, err
}

// PtraceSetSiginfo replaces the siginfo of the signal that caused the
// current signal-delivery-stop of tid.
func PtraceSetSiginfo(tid int, si *unix.Siginfo) error {
	_, err := ptrace(unix.PTRACE_SETSIGINFO, tid, 0, unsafe.Pointer(si))
	return err
}

// PtracePeekSiginfo copies pending signals of tid, starting at index off of
// the per-thread queue, or of the process-wide queue when shared, into out.
// It returns how many it copied; 0 means the queue has no more entries.
func PtracePeekSiginfo(tid int, off uint64, shared bool, out []unix.Siginfo) (int, error) {
	if len(out) == 0 {
		return 0, nil
	}
	args := PtracePeekSiginfoArgs{Off: off, Nr: int32(min(len(out), 1<<20))}
	if shared {
		args.Flags = unix.PTRACE_PEEKSIGINFO_SHARED
	}
	n, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKSIGINFO, uintptr(tid),
		uintptr(unsafe.Pointer(&args)), uintptr(unsafe.Pointer(&out[0])), 0, 0)
	return int(n), ptraceError(unix.PTRACE_PEEKSIGINFO, tid, errno)
}

// PtraceGetRseqConfiguration reads the rseq registration of tid (Linux
// 5.13+). A thread without rseq has RseqAbiPointer 0.
func PtraceGetRseqConfiguration(tid int) (PtraceRseqConfiguration, error) {
	var c PtraceRseqConfiguration
	_, err := ptrace(unix.PTRACE_GET_RSEQ_CONFIGURATION, tid, unsafe.Sizeof(c), unsafe.Pointer(&c))
	return c, err
}

// PtraceGetSyscallInfo describes the system call tid is stopped in, if any
// (Linux 5.3+).
func PtraceGetSyscallInfo(tid int) (PtraceSyscallInfo, error) {
	var i PtraceSyscallInfo
	_, err := ptrace(unix.PTRACE_GET_SYSCALL_INFO, tid, unsafe.Sizeof(i), unsafe.Pointer(&i))
	return i, err
}

// PtraceGetEventMsg returns the message of the last ptrace event of tid.
func PtraceGetEventMsg(tid int) (uint64, error) {
	var msg uint64
	_, err := ptrace(unix.PTRACE_GETEVENTMSG, tid, 0, unsafe.Pointer(&msg))
	return msg, err
}
