package image

// Field numbers of every message, as listed in docs/IMAGE.md.
//
// WARNING: ONLY APPEND. Never renumber a field, never reuse the number of
// a removed one, and never change a field's wire type: decoders built
// before a change must still read new files and skip what they do not know.
// Singular fields must have numbers below maxSingular (128).

// Checkpoint.
const (
	fCkptArch    = 1 // bytes: string
	fCkptKernel  = 2 // bytes: string
	fCkptCreated = 3 // fixed64: int64 ns
	fCkptRoot    = 4 // varint: zigzag int32
	fCkptProcess = 5 // bytes: repeated Process
)

// Process.
const (
	fProcPID           = 1  // varint: zigzag int32
	fProcPPID          = 2  // varint: zigzag int32
	fProcPGID          = 3  // varint: zigzag int32
	fProcSID           = 4  // varint: zigzag int32
	fProcComm          = 5  // bytes: string
	fProcExe           = 6  // bytes: FileID
	fProcCreds         = 7  // bytes: Creds
	fProcMM            = 8  // bytes: MM
	fProcThread        = 9  // bytes: repeated Thread
	fProcSigAction     = 10 // bytes: repeated SigAction
	fProcSharedPending = 11 // bytes: repeated siginfo (128 bytes each)
	fProcRlimit        = 12 // bytes: repeated Rlimit
	fProcFD            = 13 // bytes: repeated FD
	fProcCwd           = 14 // bytes: string
	fProcRoot          = 15 // bytes: string
	fProcUmask         = 16 // varint
	fProcPersonality   = 17 // varint
	fProcITimerReal    = 18 // bytes: ITimer
	fProcITimerVirtual = 19 // bytes: ITimer
	fProcITimerProf    = 20 // bytes: ITimer
	fProcNoNewPrivs    = 21 // varint: bool
	fProcTimerSlack    = 22 // varint
	fProcSubreaper     = 23 // varint: bool
	fProcPdeathSig     = 24 // varint
	fProcDumpable      = 25 // varint
	fProcTHPDisabled   = 26 // varint: bool
	fProcLDT           = 27 // bytes
)

// Creds.
const (
	fCredUID        = 1  // varint
	fCredEUID       = 2  // varint
	fCredSUID       = 3  // varint
	fCredFSUID      = 4  // varint
	fCredGID        = 5  // varint
	fCredEGID       = 6  // varint
	fCredSGID       = 7  // varint
	fCredFSGID      = 8  // varint
	fCredGroups     = 9  // bytes: packed varints
	fCredCapInh     = 10 // varint
	fCredCapPrm     = 11 // varint
	fCredCapEff     = 12 // varint
	fCredCapBnd     = 13 // varint
	fCredCapAmb     = 14 // varint
	fCredSecurebits = 15 // varint
)

// MM. Fields 1-11 are the mm addresses in declaration order.
const (
	fMMStartCode  = 1  // varint
	fMMEndCode    = 2  // varint
	fMMStartData  = 3  // varint
	fMMEndData    = 4  // varint
	fMMStartBrk   = 5  // varint
	fMMBrk        = 6  // varint
	fMMStartStack = 7  // varint
	fMMArgStart   = 8  // varint
	fMMArgEnd     = 9  // varint
	fMMEnvStart   = 10 // varint
	fMMEnvEnd     = 11 // varint
	fMMAuxv       = 12 // bytes: packed varints
	fMMVMA        = 13 // bytes: repeated VMA
)

// VMA.
const (
	fVMAStart  = 1 // varint
	fVMAEnd    = 2 // varint
	fVMAProt   = 3 // varint
	fVMAFlags  = 4 // varint
	fVMAKind   = 5 // varint
	fVMAOffset = 6 // varint
	fVMAFile   = 7 // bytes: FileID (present iff File != nil)
	fVMAName   = 8 // bytes: string
	fVMAAdvice = 9 // varint
)

// FileID.
const (
	fFilePath    = 1 // bytes: string
	fFileSize    = 2 // varint: zigzag int64
	fFileMode    = 3 // varint
	fFileBuildID = 4 // bytes
	fFileSHA256  = 5 // bytes
	fFileDeleted = 6 // varint: bool
)

// Thread.
const (
	fThrTID           = 1  // varint: zigzag int32
	fThrComm          = 2  // bytes: string
	fThrRegs          = 3  // bytes
	fThrXState        = 4  // bytes
	fThrSigBlocked    = 5  // varint
	fThrPending       = 6  // bytes: repeated siginfo (128 bytes each)
	fThrRseq          = 7  // bytes: Rseq (present iff Rseq != nil)
	fThrRobustList    = 8  // varint
	fThrRobustListLen = 9  // varint
	fThrClearChildTID = 10 // varint
	fThrAltstack      = 11 // bytes: Altstack
	fThrNice          = 12 // varint: zigzag int32
)

// SigAction, Rlimit, ITimer, Rseq, Altstack.
const (
	fSigHandler  = 1 // varint
	fSigFlags    = 2 // varint
	fSigRestorer = 3 // varint
	fSigMask     = 4 // varint

	fRlimCur = 1 // varint
	fRlimMax = 2 // varint

	fITimerInterval = 1 // varint: zigzag int64
	fITimerValue    = 2 // varint: zigzag int64

	fRseqAddr  = 1 // varint
	fRseqLen   = 2 // varint
	fRseqSig   = 3 // varint
	fRseqFlags = 4 // varint

	fAltSP    = 1 // varint
	fAltFlags = 2 // varint
	fAltSize  = 3 // varint
)

// FD. Numbers 16 and up are reserved for kind-specific sub-messages.
const (
	fFDNum     = 1 // varint: zigzag int32
	fFDKind    = 2 // varint
	fFDPath    = 3 // bytes: string
	fFDFlags   = 4 // varint
	fFDPos     = 5 // varint: zigzag int64
	fFDCloExec = 6 // varint: bool
	fFDFile    = 7 // bytes: FileID (present iff File != nil)
	fFDDupOf   = 8 // varint: zigzag int32, earlier fd sharing the description + 1
)

// PageMap and PageRun.
const (
	fPMPID      = 1 // varint: zigzag int32
	fPMDataSize = 2 // varint
	fPMRun      = 3 // bytes: repeated PageRun

	fRunAddr   = 1 // varint
	fRunNPages = 2 // varint
	fRunKind   = 3 // varint
	fRunOffset = 4 // varint
	fRunCRC    = 5 // varint
)

// Manifest (COMPLETE) and its entries.
const (
	fManEntry = 1 // bytes: repeated manifestEntry

	fEntName = 1 // bytes: string
	fEntSize = 2 // varint
	fEntCRC  = 3 // varint
	fEntData = 4 // varint: bool
)
