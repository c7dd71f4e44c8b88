// Package dumper freezes a running process and reads its complete state
// into an image: memory layout and contents, registers, signals,
// credentials, mm fields, open files and the rest.
//
// In a nutshell, it works as follows. Checks that need no freeze come
// first (one thread, no children, no seccomp filter), so that most refusals
// leave the process untouched. The process is then seized with ptrace and
// interrupted (never SIGSTOP, which the process and its parent could see).
// /proc gives the mappings, credentials, limits and file descriptors;
// ptrace gives registers, FPU/AVX state, the signal mask, pending signals
// and the rseq registration; the rest (sigactions, sigaltstack, robust
// list, clear_child_tid, itimers, LDT, umask, securebits and a few prctl
// values) only the process can read, so those system calls are injected
// into it, answering into a scratch mapping that is removed again. Pages are
// read with process_vm_readv (or /proc/PID/mem for mappings the process
// cannot read itself) straight into a buffer and written to a PageSink,
// zero pages as counts only. A sink that lends its buffers (PageLender: a
// live migration's page stream) gets the pages read straight into them,
// one process_vm_readv per buffer, so that the read is the only copy of a
// page on the source.
//
// Whatever fails, the process is left as it was: scratch unmapped,
// registers and signal mask restored, detached. With Kill it is killed
// only once the image is complete and synced.
package dumper
