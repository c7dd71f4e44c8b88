package procfs

import (
	"encoding/binary"
)

// Auxiliary vector types (AT_* in <linux/auxvec.h>) that the dumper uses.
const (
	AtNull        = 0  // AT_NULL, end of vector
	AtPhdr        = 3  // AT_PHDR
	AtPagesz      = 6  // AT_PAGESZ
	AtBase        = 7  // AT_BASE
	AtEntry       = 9  // AT_ENTRY
	AtHwcap       = 16 // AT_HWCAP
	AtRandom      = 25 // AT_RANDOM
	AtHwcap2      = 26 // AT_HWCAP2
	AtExecfn      = 31 // AT_EXECFN
	AtSysinfoEhdr = 33 // AT_SYSINFO_EHDR, the vDSO
	AtMinsigstksz = 51 // AT_MINSIGSTKSZ
)

// auxvEntrySize is the size of one 64-bit (a_type, a_val) pair.
const auxvEntrySize = 16

// AuxvEntry is one (a_type, a_val) pair of the auxiliary vector.
type AuxvEntry struct {
	Type, Value uint64
}

// ParseAuxv parses the contents of /proc/PID/auxv: little-endian 64-bit
// pairs ending with AT_NULL. The result does not include AT_NULL; bytes after
// it are ignored. Empty input (a kernel thread) gives an empty vector.
func ParseAuxv(b []byte) ([]AuxvEntry, error) {
	if len(b)%auxvEntrySize != 0 {
		return nil, formatError("auxv length %d is not a multiple of %d", len(b), auxvEntrySize)
	}
	if len(b) == 0 {
		return nil, nil
	}
	var es []AuxvEntry
	for off := 0; off < len(b); off += auxvEntrySize {
		e := AuxvEntry{
			Type:  binary.LittleEndian.Uint64(b[off:]),
			Value: binary.LittleEndian.Uint64(b[off+8:]),
		}
		if e.Type == AtNull {
			return es, nil
		}
		es = append(es, e)
	}
	return nil, formatError("auxv has no AT_NULL")
}

// LookupAuxv returns the value of the first entry of type typ.
func LookupAuxv(es []AuxvEntry, typ uint64) (uint64, bool) {
	for _, e := range es {
		if e.Type == typ {
			return e.Value, true
		}
	}
	return 0, false
}
