// Package linux is the one place where migrate issues raw Linux system calls
// and lays out kernel ABI structures. Everything above it calls the typed
// wrappers here instead of unix.Syscall.
//
// In a nutshell, it works as follows:
//
//   - Kernel structures are Go structs named after the C header struct they
//     copy (CloneArgs is struct clone_args, PrctlMMMap is struct
//     prctl_mm_map, ...). They embed structs.HostLayout, spell out their
//     padding, and a test asserts unsafe.Sizeof against the kernel size.
//     Structures that are written into another process (clone_args,
//     prctl_mm_map, user_desc) have an Append method giving their exact
//     bytes.
//   - Ioctl numbers are computed with the kernel's _IOC encoding
//     (asm-generic, as used on x86-64) and tested against known values.
//   - Wrappers retry EINTR, keep the errno wrapped (test it with errors.Is,
//     for example errors.Is(err, unix.ESRCH)) and name the pid, tid, fd or
//     address they acted on.
//   - ProcessVMReadv and ProcessVMWritev move any number of segments: they
//     split the work into calls of at most IOV_MAX iovecs and loop over
//     partial transfers until every byte moved, or fail naming the remote
//     address where the transfer stopped.
//   - Feature probes (HaveUffdWPAsync, HavePagemapScan, HaveClone3SetTID)
//     run once, cache their answer and return an error that matches
//     ErrNotSupported and says what is missing.
//
// The ptrace wrappers here are thin: they must be called from the thread
// that attached to the tracee. Package internal/ptrace owns that thread.
//
// clone3 is deliberately not callable on the calling process: the Go runtime
// is multi-threaded, so a child created by clone3 from Go would be a broken
// copy. CloneArgs only exists to be marshalled into a stopped tracee that
// then runs clone3 through an injected system call.
//
// Only linux/amd64 is supported for now; x86-specific parts (user_desc,
// modify_ldt, arch_prctl codes) live in _amd64 files.
//
// Nothing in this package logs.
package linux
