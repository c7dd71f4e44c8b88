// Package restorer rebuilds a process from an image: same PID, memory,
// registers, signals, credentials, mm fields, LDT and open files.
//
// In a nutshell, it works as follows. Checks come first and create nothing:
// the PID is free, every mapped or open file is the same file here, the vdso
// matches, no resource limit or capability exceeds the restorer's own. A
// stub (this program's own binary, exec'd under ptrace, stopped before any
// of its code runs) gets a scratch area and a "syscall; int3" gadget at an
// address the image does not use, and is made to clone3 a child with the
// image's PID (set_tid; CLONE_PARENT makes the child ours). From then on
// the child is driven by system calls injected through the gadget: it
// unmaps what it inherited, moves vdso and vvar to the source's addresses,
// and, with its filesystem identity switched to the image's (so that files
// are opened with the restored process's own permissions), maps every
// mapping and opens every descriptor. Pages are written with
// process_vm_writev into mappings made writable for the purpose, which then
// get their real protection (a shared file mapping is never made
// writable). Then come limits, signal handlers, timers, rseq, robust list,
// LDT, PR_SET_MM_MAP with auxv and exe link, pending signals, and last the
// credentials, read back and compared with the image. The registers are
// set so that a system call the process was in restarts as the kernel
// would have restarted it, the scratch area and gadget are unmapped, and
// the process is let go.
//
// Any failure kills the half-built process; nothing else was changed.
package restorer
