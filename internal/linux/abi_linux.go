//go:build linux

package linux

import (
	"encoding/binary"
	"structs"
)

// Kernel structure sizes, checked by tests against unsafe.Sizeof.
const (
	SizeofCloneArgs               = 88  // CLONE_ARGS_SIZE_VER2
	SizeofPrctlMMMap              = 104 // sizeof(struct prctl_mm_map)
	SizeofPtraceRseqConfiguration = 24  // sizeof(struct ptrace_rseq_configuration)
	SizeofPtraceSyscallInfo       = 88  // sizeof(struct ptrace_syscall_info)
	SizeofPmScanArg               = 96  // sizeof(struct pm_scan_arg)
	SizeofPageRegion              = 24  // sizeof(struct page_region)
	SizeofUffdioAPI               = 24  // sizeof(struct uffdio_api)
	SizeofUffdioRange             = 16  // sizeof(struct uffdio_range)
	SizeofUffdioRegister          = 32  // sizeof(struct uffdio_register)
	SizeofUffdioWriteprotect      = 24  // sizeof(struct uffdio_writeprotect)
	SizeofUffdioCopy              = 40  // sizeof(struct uffdio_copy)
)

// CloneArgs is struct clone_args from <linux/sched.h>, version 2 (88 bytes,
// with cgroup). Pointer fields hold addresses in the process that runs
// clone3, which for migrate is always a tracee, never the Go process.
type CloneArgs struct {
	_          structs.HostLayout
	Flags      uint64
	Pidfd      uint64 // address of an int that receives the pidfd (CLONE_PIDFD)
	ChildTid   uint64 // address for CLONE_CHILD_SETTID/CLEARTID
	ParentTid  uint64 // address for CLONE_PARENT_SETTID
	ExitSignal uint64
	Stack      uint64 // lowest address of the child's stack
	StackSize  uint64
	TLS        uint64
	SetTid     uint64 // address of an array of pid_t, innermost namespace last
	SetTidSize uint64
	Cgroup     uint64
}

// Append appends the exact kernel bytes of a (little-endian, 88 bytes) to b,
// ready to be written into a tracee before an injected clone3.
func (a *CloneArgs) Append(b []byte) []byte { return appendLE(b, a) }

// AppendSetTid appends a set_tid array (pid_t, innermost namespace last) to b.
func AppendSetTid(b []byte, tids []int32) []byte { return appendLE(b, tids) }

// PrctlMMMap is struct prctl_mm_map from <linux/prctl.h>, the argument of
// prctl(PR_SET_MM, PR_SET_MM_MAP). Auxv is an address in the process that
// calls prctl.
type PrctlMMMap struct {
	_          structs.HostLayout
	StartCode  uint64
	EndCode    uint64
	StartData  uint64
	EndData    uint64
	StartBrk   uint64
	Brk        uint64
	StartStack uint64
	ArgStart   uint64
	ArgEnd     uint64
	EnvStart   uint64
	EnvEnd     uint64
	Auxv       uint64 // __u64 *auxv
	AuxvSize   uint32 // in bytes
	ExeFd      uint32 // ^uint32(0) keeps the current exe link
}

// Append appends the exact kernel bytes of m (104 bytes) to b.
func (m *PrctlMMMap) Append(b []byte) []byte { return appendLE(b, m) }

// PtraceRseqConfiguration is struct ptrace_rseq_configuration from
// <linux/ptrace.h>, the answer of PTRACE_GET_RSEQ_CONFIGURATION.
type PtraceRseqConfiguration struct {
	_              structs.HostLayout
	RseqAbiPointer uint64
	RseqAbiSize    uint32
	Signature      uint32
	Flags          uint32
	_              uint32
}

// PtracePeekSiginfoArgs is struct ptrace_peeksiginfo_args.
type PtracePeekSiginfoArgs struct {
	_     structs.HostLayout
	Off   uint64 // index of the first signal to read
	Flags uint32 // PTRACE_PEEKSIGINFO_SHARED for the process-wide queue
	Nr    int32  // number of siginfo_t to copy
}

// PtraceSyscallInfo is struct ptrace_syscall_info from <linux/ptrace.h>,
// the answer of PTRACE_GET_SYSCALL_INFO. The union is exposed through
// methods.
type PtraceSyscallInfo struct {
	_                  structs.HostLayout
	Op                 uint8 // PTRACE_SYSCALL_INFO_*
	_                  uint8
	Flags              uint16
	Arch               uint32
	InstructionPointer uint64
	StackPointer       uint64
	data               [8]uint64
}

// Nr is the system call number (entry and seccomp stops).
func (i *PtraceSyscallInfo) Nr() uint64 { return i.data[0] }

// Args returns the six system call arguments (entry and seccomp stops).
func (i *PtraceSyscallInfo) Args() [6]uint64 { return [6]uint64(i.data[1:7]) }

// Rval is the return value at an exit stop, and IsError says whether it is
// an error code.
func (i *PtraceSyscallInfo) Rval() (rval int64, isError bool) {
	return int64(i.data[0]), i.data[1]&0xff != 0
}

// PmScanArg is struct pm_scan_arg from <linux/fs.h>, the argument of the
// PAGEMAP_SCAN ioctl on /proc/PID/pagemap. Vec and VecLen are filled in by
// PagemapScan from the slice it is given.
type PmScanArg struct {
	_                 structs.HostLayout
	Size              uint64 // sizeof(struct pm_scan_arg); PagemapScan sets it
	Flags             uint64 // PM_SCAN_*
	Start             uint64
	End               uint64
	WalkEnd           uint64 // output: where the walk stopped
	Vec               uint64
	VecLen            uint64
	MaxPages          uint64 // 0: no limit
	CategoryInverted  uint64
	CategoryMask      uint64
	CategoryAnyofMask uint64
	ReturnMask        uint64
}

// PageRegion is struct page_region from <linux/fs.h>: [Start, End) with the
// PAGE_IS_* categories selected by the return mask.
type PageRegion struct {
	_          structs.HostLayout
	Start      uint64
	End        uint64
	Categories uint64
}

// UffdioAPI is struct uffdio_api from <linux/userfaultfd.h>.
type UffdioAPI struct {
	_        structs.HostLayout
	API      uint64 // UFFD_API
	Features uint64 // in: requested UFFD_FEATURE_*; out: enabled
	Ioctls   uint64 // out: bitmask of supported ioctl numbers
}

// UffdioRange is struct uffdio_range.
type UffdioRange struct {
	_     structs.HostLayout
	Start uint64
	Len   uint64
}

// UffdioRegister is struct uffdio_register.
type UffdioRegister struct {
	_      structs.HostLayout
	Range  UffdioRange
	Mode   uint64 // UFFDIO_REGISTER_MODE_*
	Ioctls uint64 // out
}

// UffdioWriteprotect is struct uffdio_writeprotect.
type UffdioWriteprotect struct {
	_     structs.HostLayout
	Range UffdioRange
	Mode  uint64 // UFFDIO_WRITEPROTECT_MODE_*
}

// UffdioCopy is struct uffdio_copy.
type UffdioCopy struct {
	_    structs.HostLayout
	Dst  uint64
	Src  uint64
	Len  uint64
	Mode uint64 // UFFDIO_COPY_MODE_*
	Copy int64  // out: bytes copied, or a negative errno
}

// appendLE encodes v, a fixed-size value, in little-endian byte order, which
// is the host layout on amd64.
func appendLE(b []byte, v any) []byte {
	out, err := binary.Append(b, binary.LittleEndian, v)
	if err != nil {
		panic("linux: appendLE of a non-fixed-size value: " + err.Error())
	}
	return out
}
