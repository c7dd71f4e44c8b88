package image

import "strconv"

// ArchX86_64 is the only architecture this build describes.
const ArchX86_64 = "x86_64"

// RegsSize is the size of struct user_regs_struct on x86-64.
const RegsSize = 216

// Linux mmap protection and flag values (x86-64), as stored in VMA.Prot
// and VMA.Flags.
const (
	ProtRead  = 0x1
	ProtWrite = 0x2
	ProtExec  = 0x4

	MapShared    = 0x01
	MapPrivate   = 0x02
	MapAnonymous = 0x20
	MapGrowsdown = 0x100
	MapLocked    = 0x2000
	MapNoreserve = 0x4000

	// knownMapFlags are the flags a VMA may carry.
	knownMapFlags = MapShared | MapPrivate | MapAnonymous | MapGrowsdown | MapNoreserve
)

// VMAKind says what a mapping is and so how the restorer recreates it.
// The values are part of the file format.
//
// WARNING: ONLY APPEND TO THIS LIST; NEVER RENUMBER.
type VMAKind uint32

const (
	VMAAnon       VMAKind = 1 // private or shared anonymous memory
	VMAFile       VMAKind = 2 // a file mapping (File is set)
	VMAHeap       VMAKind = 3 // [heap], the brk area
	VMAStack      VMAKind = 4 // [stack] of the main thread
	VMAVDSO       VMAKind = 5 // [vdso]
	VMAVVar       VMAKind = 6 // [vvar]
	VMAVVarVClock VMAKind = 7 // [vvar_vclock]
	VMAGuard      VMAKind = 8 // PROT_NONE reservation or guard gap
	VMAShmem      VMAKind = 9 // shared memory object (SysV, memfd); reserved
)

var vmaKindNames = [...]string{
	VMAAnon: "anon", VMAFile: "file", VMAHeap: "heap", VMAStack: "stack",
	VMAVDSO: "vdso", VMAVVar: "vvar", VMAVVarVClock: "vvar_vclock",
	VMAGuard: "guard", VMAShmem: "shmem",
}

// Known reports whether k is a kind this build knows.
func (k VMAKind) Known() bool {
	return int(k) < len(vmaKindNames) && vmaKindNames[k] != ""
}

// Advice bits of a VMA: the madvise settings a mapping keeps, restored
// with madvise (smaps VmFlags dc, wf, dd, hg, nh, mg, sr, rr).
const (
	AdviseDontFork   = 1 << iota // MADV_DONTFORK
	AdviseWipeOnFork             // MADV_WIPEONFORK
	AdviseDontDump               // MADV_DONTDUMP
	AdviseHugePage               // MADV_HUGEPAGE
	AdviseNoHugePage             // MADV_NOHUGEPAGE
	AdviseMergeable              // MADV_MERGEABLE
	AdviseSequential             // MADV_SEQUENTIAL
	AdviseRandom                 // MADV_RANDOM

	knownAdvice = 1<<iota - 1
)

// Same reports whether a and b are the same mapping: same place,
// protection, flags, advice, kind, file and offset, and name.
func (a VMA) Same(b VMA) bool {
	return a.Start == b.Start && a.End == b.End && a.Prot == b.Prot && a.Flags == b.Flags && a.Advice == b.Advice &&
		a.Kind == b.Kind && a.Offset == b.Offset && a.Name == b.Name && (a.File == nil) == (b.File == nil) &&
		(a.File == nil || a.File.Path == b.File.Path)
}

// CarriesPages reports whether v's contents travel as pages: not those of
// the kernel's own mappings (vdso, vvar), nor those of shared file
// mappings (the file is the truth).
func (v VMA) CarriesPages() bool {
	return !v.Kind.Special() && (v.Kind != VMAFile || v.Flags&MapShared == 0)
}

// Special reports whether k is one of the kernel's own mappings (vdso,
// vvar): they hold no pages of the process and move only as a whole.
func (k VMAKind) Special() bool {
	return k == VMAVDSO || k == VMAVVar || k == VMAVVarVClock
}

func (k VMAKind) String() string {
	if k.Known() {
		return vmaKindNames[k]
	}
	return "vma-kind-" + strconv.FormatUint(uint64(k), 10)
}

// FDKind says what an open file is. The values are part of the file format.
//
// WARNING: ONLY APPEND TO THIS LIST; NEVER RENUMBER.
type FDKind uint32

const (
	FDFile     FDKind = 1 // anything opened by path: file, directory, device, FIFO
	FDPipe     FDKind = 2
	FDSocket   FDKind = 3
	FDEventfd  FDKind = 4
	FDEpoll    FDKind = 5
	FDTimerfd  FDKind = 6
	FDSignalfd FDKind = 7
	FDMemfd    FDKind = 8
)

var fdKindNames = [...]string{
	FDFile: "file", FDPipe: "pipe", FDSocket: "socket", FDEventfd: "eventfd",
	FDEpoll: "epoll", FDTimerfd: "timerfd", FDSignalfd: "signalfd",
	FDMemfd: "memfd",
}

// Known reports whether k is a kind this build knows.
func (k FDKind) Known() bool {
	return int(k) < len(fdKindNames) && fdKindNames[k] != ""
}

func (k FDKind) String() string {
	if k.Known() {
		return fdKindNames[k]
	}
	return "fd-kind-" + strconv.FormatUint(uint64(k), 10)
}

// PageKind says whether a page run has data in the page file.
// The values are part of the file format.
type PageKind uint32

const (
	PageData PageKind = 1 // NPages pages stored at Offset in the page data file
	PageZero PageKind = 2 // NPages pages of zeros, nothing stored
)

func (k PageKind) String() string {
	switch k {
	case PageData:
		return "data"
	case PageZero:
		return "zero"
	}
	return "page-kind-" + strconv.FormatUint(uint64(k), 10)
}

// RecordKind says what the payload of a record is.
//
// WARNING: ONLY APPEND TO THIS LIST; NEVER RENUMBER.
type RecordKind uint32

const (
	RecordCheckpoint RecordKind = 1 // a Checkpoint (checkpoint.img)
	RecordPageMap    RecordKind = 2 // a PageMap (pagemap-PID.img)
	RecordManifest   RecordKind = 3 // the COMPLETE marker's file list
)

func (k RecordKind) String() string {
	switch k {
	case RecordCheckpoint:
		return "checkpoint"
	case RecordPageMap:
		return "pagemap"
	case RecordManifest:
		return "manifest"
	}
	return "record-kind-" + strconv.FormatUint(uint64(k), 10)
}
