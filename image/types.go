package image

// Checkpoint describes one process tree, frozen: everything needed to
// rebuild it except the contents of its memory, which live in a page store
// (PageMap and page data) per process. It is the payload of checkpoint.img.
type Checkpoint struct {
	Arch            string    // machine architecture of the source, "x86_64" (ArchX86_64)
	KernelRelease   string    // uname -r of the source kernel
	CreatedUnixNano int64     // when the tree was frozen, ns since the Unix epoch
	Root            int32     // PID of the tree's root; one of Processes
	Processes       []Process // the tree, parents before children
}

// Process is one process (thread group) of the tree. PIDs are numbers in
// the source PID namespace; the restorer recreates them unchanged.
type Process struct {
	PID  int32  // thread-group ID; equals Threads[0].TID
	PPID int32  // parent PID; for the root it may lie outside the tree (0: outside the PID namespace)
	PGID int32  // process group (0: its leader is outside the PID namespace)
	SID  int32  // session (0: its leader is outside the PID namespace)
	Comm string // /proc/PID/comm of the leader (at most 15 bytes in the kernel)

	Exe   FileID // identity of /proc/PID/exe
	Creds Creds  // credentials (process-wide as the C library keeps them)
	MM    MM     // address space layout: mm fields, auxv, VMAs

	Threads       []Thread    // Threads[0] is the thread-group leader
	SigActions    []SigAction // index = signal number - 1; at most 64 entries
	SharedPending []SigInfo   // process-wide pending signals, in queue order
	Rlimits       []Rlimit    // index = RLIMIT_* resource; at most 16 entries
	FDs           []FD        // open file descriptors, ascending by Num

	Cwd         string // working directory
	Root        string // root directory (chroot)
	Umask       uint32
	Personality uint32    // personality(0xffffffff)
	ITimers     [3]ITimer // ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF
	NoNewPrivs  bool      // PR_GET_NO_NEW_PRIVS

	TimerSlackNS   uint64 // PR_GET_TIMERSLACK
	ChildSubreaper bool   // PR_GET_CHILD_SUBREAPER
	PdeathSig      uint32 // PR_GET_PDEATHSIG of the leader
	Dumpable       uint32 // PR_GET_DUMPABLE (0, 1 or 2)
	THPDisabled    bool   // PR_GET_THP_DISABLE
	// LDT is the raw output of modify_ldt(0): 8-byte descriptors. x86 keeps
	// the LDT per mm, so it belongs to the process. Empty when none is set.
	LDT []byte
}

// Creds are a process's credentials.
type Creds struct {
	UID, EUID, SUID, FSUID uint32
	GID, EGID, SGID, FSGID uint32
	Groups                 []uint32 // supplementary groups
	CapInh, CapPrm, CapEff uint64   // capability sets as bit masks
	CapBnd, CapAmb         uint64   // bounding and ambient sets
	Securebits             uint32   // PR_GET_SECUREBITS
}

// MM holds the mm_struct fields that PR_SET_MM_MAP restores, the auxiliary
// vector and the memory mappings.
type MM struct {
	StartCode, EndCode uint64
	StartData, EndData uint64
	StartBrk, Brk      uint64
	StartStack         uint64
	ArgStart, ArgEnd   uint64
	EnvStart, EnvEnd   uint64
	Auxv               []uint64 // raw /proc/PID/auxv words: type, value pairs
	VMAs               []VMA    // ascending, non-overlapping
}

// VMA is one memory mapping. Its contents, if any, are in the page store.
type VMA struct {
	Start, End uint64  // [Start, End), page-aligned
	Prot       uint32  // PROT_* bits (ProtRead, ProtWrite, ProtExec)
	Flags      uint32  // mmap flags: exactly one of MapShared and MapPrivate, plus MapAnonymous, MapGrowsdown, ...
	Kind       VMAKind // what the mapping is
	Offset     uint64  // file offset in bytes (page-aligned) for file mappings
	File       *FileID // the mapped file, for VMAFile; for VMAVDSO the size and hash of the vdso; nil otherwise
	Name       string  // maps pseudo-path or name: "[heap]", "[anon:foo]", file path
	Advice     uint32  // madvise settings the mapping carries (Advise* bits)
}

// FileID identifies a file by path and content, so that the restorer can
// check it opens the same file the source had.
type FileID struct {
	Path    string // absolute path in the source mount namespace
	Size    int64  // size in bytes
	Mode    uint32 // st_mode (type and permission bits)
	BuildID []byte // ELF NT_GNU_BUILD_ID, when the file has one
	SHA256  []byte // SHA-256 of the contents, when there is no build-id (optional)
	Deleted bool   // the file was unlinked in the source
}

// Thread is one task of a process.
type Thread struct {
	TID  int32
	Comm string // /proc/PID/task/TID/comm
	// Regs is the raw struct user_regs_struct (RegsSize bytes on x86-64),
	// kept raw so that the architecture code owns the layout.
	Regs []byte
	// XState is the raw NT_X86_XSTATE regset (FPU, SSE, AVX, ...).
	XState        []byte
	SigBlocked    uint64    // blocked signal mask
	Pending       []SigInfo // thread-directed pending signals, in queue order
	Rseq          *Rseq     // registered rseq area; nil when none
	RobustList    uint64    // get_robust_list head
	RobustListLen uint64
	ClearChildTID uint64   // set_tid_address / PR_GET_TID_ADDRESS
	Altstack      Altstack // sigaltstack
	Nice          int32    // nice value, -20..19 (per thread in Linux)
}

// SigAction is a kernel struct sigaction for one signal.
type SigAction struct {
	Handler  uint64 // SIG_DFL (0), SIG_IGN (1) or the handler address
	Flags    uint64 // SA_* flags
	Restorer uint64 // sa_restorer
	Mask     uint64 // signals blocked during the handler
}

// SigInfoSize is the size of a kernel siginfo_t.
const SigInfoSize = 128

// SigInfo is a raw kernel siginfo_t as PTRACE_PEEKSIGINFO returns it.
type SigInfo struct {
	Raw [SigInfoSize]byte
}

// Rlimit is one resource limit; RLIM_INFINITY is ^uint64(0).
type Rlimit struct {
	Cur, Max uint64
}

// ITimer is an interval timer, in nanoseconds.
type ITimer struct {
	IntervalNS int64 // reload value
	ValueNS    int64 // time left until the next expiry; 0 when disarmed
}

// Rseq is a thread's restartable-sequences registration
// (PTRACE_GET_RSEQ_CONFIGURATION).
type Rseq struct {
	Addr  uint64
	Len   uint32
	Sig   uint32
	Flags uint32
}

// Altstack is a thread's alternate signal stack (stack_t).
type Altstack struct {
	SP    uint64
	Flags uint32 // SS_* flags
	Size  uint64
}

// FD is one open file descriptor.
//
// Kind-specific state (pipe ends, socket state, eventfd counters, ...) will
// be added as optional sub-messages with field numbers from 16 up, so
// that files of the first release stay readable.
type FD struct {
	Num     int32
	Kind    FDKind
	Path    string  // link target of /proc/PID/fd/NUM
	Flags   uint32  // open flags (O_ACCMODE, O_APPEND, O_NONBLOCK, ...) without O_CLOEXEC
	Pos     int64   // file offset
	CloExec bool    // FD_CLOEXEC
	File    *FileID // identity of a regular file; nil for other kinds
	// DupOf is 1 + the number of an earlier descriptor that shares this
	// one's open file description (dup, dup2, 2>&1), so that both keep one
	// offset and one set of status flags; 0 when it shares with none.
	DupOf int32
}
