// Package ptrace controls stopped processes for the dumper and the restorer:
// it attaches to threads, reads and writes their registers and signal
// state, starts stub processes stopped under ptrace, and makes a stopped
// thread run system calls on our behalf (syscall injection).
//
// In a nutshell, it works as follows:
//
//   - The kernel accepts ptrace requests for a tracee only from the thread
//     that attached to it, and Go moves goroutines between threads. A Tracer
//     therefore owns one goroutine that called runtime.LockOSThread and never
//     unlocks it; every ptrace and wait4 call for its tracees runs there.
//     Callers hand it closures with Tracer.Do, and the exported methods are
//     one Do each. Functions documented with "Precondition: runs on the
//     tracer thread" may only be called from inside such a closure.
//   - Seize attaches without stopping (PTRACE_SEIZE, never SIGSTOP, which
//     the process and its parent could see). Interrupt stops the thread with
//     PTRACE_INTERRUPT and waits for the resulting PTRACE_EVENT_STOP. If a
//     signal-delivery-stop comes first, the signal is passed through to the
//     thread (as CRIU does): the kernel delivers it exactly as it would have
//     without us, and the interrupt, still pending, stops the thread right
//     after, before any user code runs. Nothing is lost or delivered twice,
//     and Stop.Passed lists what went through.
//   - StartStub execs a binary with SysProcAttr.Ptrace from the tracer
//     thread, so the new process stops at its exec SIGTRAP before running
//     any of its own code.
//   - A Remote runs system calls inside a stopped thread: it saves the
//     registers and the signal mask once, blocks all signals (so that no
//     handler can run on top of borrowed registers; they stay queued), sets
//     rax, the argument registers and rip to a "syscall" instruction found in
//     the thread's [vdso] (or any executable mapping), sets orig_rax to -1 so
//     that a pending syscall restart is not applied to the injected call,
//     lets the thread execute that one instruction, and reads rax. By
//     default it resumes with PTRACE_SYSCALL and waits for the entry and
//     exit syscall-stops, which are not signals; single-stepping, or
//     PTRACE_CONT into a "syscall; int3" gadget page (MapGadget), need one
//     stop instead of two but raise a forced SIGTRAP, which the kernel
//     resets to SIG_DFL in a tracee that ignores or blocks it. Restore puts
//     the saved registers and mask back; the kernel then restarts the
//     interrupted system call (for example a blocked read) exactly as it
//     would have.
//   - The handoff to the tracer thread costs two wake-ups of sleeping
//     threads (tens of microseconds on a small VM), so the tracer thread
//     and Do poll briefly before they sleep. Batch work in one Do where it
//     matters: Remote.Syscall is one Do for the whole round trip.
//
// Closing a Tracer ends its thread; the kernel then detaches any tracee
// still attached, which resumes with whatever registers it has, so restore
// and detach first.
//
// Nothing in this package logs.
package ptrace
