package procfs

import (
	"math/bits"
	"strings"
)

// VMFlags is the set of VmFlags codes of one smaps entry. The bit order is
// this package's own; it is not the kernel's vm_flags layout.
type VMFlags uint64

// VmFlags codes, as documented in the kernel's
// Documentation/filesystems/proc.rst.
const (
	VMRead        VMFlags = 1 << iota // rd
	VMWrite                           // wr
	VMExec                            // ex
	VMShared                          // sh
	VMMayRead                         // mr
	VMMayWrite                        // mw
	VMMayExec                         // me
	VMMayShare                        // ms
	VMGrowsDown                       // gd
	VMPFNMap                          // pf
	VMDenyWrite                       // dw
	VMLocked                          // lo
	VMIO                              // io
	VMSeqRead                         // sr
	VMRandRead                        // rr
	VMDontCopy                        // dc
	VMDontExpand                      // de
	VMLockOnFault                     // lf
	VMAccount                         // ac
	VMNoReserve                       // nr
	VMHugeTLB                         // ht
	VMSync                            // sf
	VMNonLinear                       // nl
	VMArch1                           // ar
	VMWipeOnFork                      // wf
	VMDontDump                        // dd
	VMSoftDirty                       // sd
	VMMixedMap                        // mm
	VMHugePage                        // hg
	VMNoHugePage                      // nh
	VMMergeable                       // mg
	VMBTI                             // bt
	VMMTE                             // mt
	VMUffdMissing                     // um
	VMUffdWP                          // uw
	VMUffdMinor                       // ui
	VMShadowStack                     // ss
	VMSealed                          // sl
	VMDroppable                       // dp
)

// vmFlagCodes lists the codes in bit order.
var vmFlagCodes = [...]string{
	"rd", "wr", "ex", "sh", "mr", "mw", "me", "ms", "gd", "pf", "dw", "lo",
	"io", "sr", "rr", "dc", "de", "lf", "ac", "nr", "ht", "sf", "nl", "ar",
	"wf", "dd", "sd", "mm", "hg", "nh", "mg", "bt", "mt", "um", "uw", "ui",
	"ss", "sl", "dp",
}

// vmFlagByCode maps a code to its flag.
var vmFlagByCode = func() map[string]VMFlags {
	m := make(map[string]VMFlags, len(vmFlagCodes))
	for i, c := range vmFlagCodes {
		m[c] = 1 << i
	}
	return m
}()

// GrowsDown reports the gd flag (a stack that grows down).
func (f VMFlags) GrowsDown() bool { return f&VMGrowsDown != 0 }

// Shared reports whether the mapping is MAP_SHARED: sh or ms. A read-only
// shared file mapping has ms but not sh.
func (f VMFlags) Shared() bool { return f&(VMShared|VMMayShare) != 0 }

// String returns the codes of f in bit order, separated by spaces.
func (f VMFlags) String() string {
	var codes []string
	for f != 0 {
		i := bits.TrailingZeros64(uint64(f))
		f &^= 1 << i
		if i < len(vmFlagCodes) {
			codes = append(codes, vmFlagCodes[i])
		}
	}
	return strings.Join(codes, " ")
}

// SmapsEntry is one mapping of /proc/PID/smaps. Sizes are in kB, as printed.
type SmapsEntry struct {
	Mapping
	SizeKB      uint64
	RssKB       uint64
	AnonymousKB uint64
	SwapKB      uint64
	LockedKB    uint64
	THPEligible bool
	VMFlags     VMFlags
	// UnknownFlags holds VmFlags codes this package does not know, in order;
	// nil when there are none.
	UnknownFlags []string
}

// ParseSmaps parses the contents of /proc/PID/smaps. Keys it does not use
// are ignored.
func ParseSmaps(b []byte) ([]SmapsEntry, error) {
	var es []SmapsEntry
	n := 0
	for line := range strings.Lines(string(b)) {
		n++
		line = trimNL(line)
		tok, _, _ := strings.Cut(line, " ")
		if !strings.HasSuffix(tok, ":") {
			m, err := parseMapsLine(line)
			if err != nil {
				return nil, lineError(n, err)
			}
			es = append(es, SmapsEntry{Mapping: m})
			continue
		}
		if len(es) == 0 {
			return nil, lineError(n, formatError("key before first mapping"))
		}
		if err := es[len(es)-1].setKey(line); err != nil {
			return nil, lineError(n, err)
		}
	}
	return es, nil
}

// setKey applies one "Key: value" line to e.
func (e *SmapsEntry) setKey(line string) error {
	key, val, _ := strings.Cut(line, ":")
	var err error
	switch key {
	case "Size":
		e.SizeKB, err = parseKB(val)
	case "Rss":
		e.RssKB, err = parseKB(val)
	case "Anonymous":
		e.AnonymousKB, err = parseKB(val)
	case "Swap":
		e.SwapKB, err = parseKB(val)
	case "Locked":
		e.LockedKB, err = parseKB(val)
	case "THPeligible":
		e.THPEligible, err = parseBool01(strings.TrimSpace(val))
	case "VmFlags":
		e.setVMFlags(val)
	}
	return err
}

// setVMFlags parses the space-separated VmFlags codes.
func (e *SmapsEntry) setVMFlags(val string) {
	for code := range strings.FieldsSeq(val) {
		if f, ok := vmFlagByCode[code]; ok {
			e.VMFlags |= f
		} else {
			e.UnknownFlags = append(e.UnknownFlags, code)
		}
	}
}

// parseBool01 parses "0" or "1".
func parseBool01(s string) (bool, error) {
	switch s {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, formatError("bad boolean %q", clip(s))
}
