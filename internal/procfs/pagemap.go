package procfs

import (
	"encoding/binary"
	"math"
)

// PagemapEntry is one 64-bit entry of /proc/PID/pagemap, describing one
// virtual page (see the kernel's Documentation/admin-guide/mm/pagemap.rst).
type PagemapEntry uint64

// pagemapEntrySize is the size of one entry in bytes.
const pagemapEntrySize = 8

// Pagemap entry bits.
const (
	pmPFNMask   = 1<<55 - 1 // bits 0-54: PFN, or swap type and offset
	pmSoftDirty = 1 << 55
	pmExclusive = 1 << 56
	pmUffdWP    = 1 << 57
	pmGuard     = 1 << 58
	pmFileShare = 1 << 61
	pmSwapped   = 1 << 62
	pmPresent   = 1 << 63
)

// Present reports bit 63: the page is in RAM.
func (e PagemapEntry) Present() bool { return e&pmPresent != 0 }

// Swapped reports bit 62: the page is in swap.
func (e PagemapEntry) Swapped() bool { return e&pmSwapped != 0 }

// FileOrSharedAnon reports bit 61: a file page or shared anonymous page.
func (e PagemapEntry) FileOrSharedAnon() bool { return e&pmFileShare != 0 }

// Exclusive reports bit 56: the page is mapped only by this process.
func (e PagemapEntry) Exclusive() bool { return e&pmExclusive != 0 }

// UffdWP reports bit 57: the PTE is userfaultfd write-protected.
func (e PagemapEntry) UffdWP() bool { return e&pmUffdWP != 0 }

// Guard reports bit 58: the PTE is a guard region (Linux 6.15+).
func (e PagemapEntry) Guard() bool { return e&pmGuard != 0 }

// SoftDirty reports bit 55: the PTE is soft-dirty.
func (e PagemapEntry) SoftDirty() bool { return e&pmSoftDirty != 0 }

// PFN returns the page frame number of a present page. The kernel reports
// zero unless the reader has CAP_SYS_ADMIN.
func (e PagemapEntry) PFN() uint64 {
	if !e.Present() {
		return 0
	}
	return uint64(e & pmPFNMask)
}

// SwapType returns the swap file index of a swapped page (bits 0-4).
func (e PagemapEntry) SwapType() uint64 {
	if !e.Swapped() {
		return 0
	}
	return uint64(e & 0x1f)
}

// SwapOffset returns the offset in the swap file of a swapped page
// (bits 5-54).
func (e PagemapEntry) SwapOffset() uint64 {
	if !e.Swapped() {
		return 0
	}
	return uint64(e&pmPFNMask) >> 5
}

// ParsePagemap decodes pagemap bytes, 8 little-endian bytes per page.
func ParsePagemap(b []byte) ([]PagemapEntry, error) {
	if len(b)%pagemapEntrySize != 0 {
		return nil, formatError("pagemap length %d is not a multiple of %d", len(b), pagemapEntrySize)
	}
	es := make([]PagemapEntry, len(b)/pagemapEntrySize)
	for i := range es {
		es[i] = PagemapEntry(binary.LittleEndian.Uint64(b[i*pagemapEntrySize:]))
	}
	return es, nil
}

// Run is a page-aligned address range [Start, End).
type Run struct {
	Start, End uint64
}

// AppendPresentRuns decodes pagemap bytes b whose first entry describes the
// page at start, and appends to runs the ranges of pages that are present or
// swapped. A range that continues the last run of runs extends it, so
// consecutive chunks can be fed in order. pageSize must be a power of two and
// start a multiple of it.
func AppendPresentRuns(runs []Run, b []byte, start, pageSize uint64) ([]Run, error) {
	if err := checkPagemapChunk(len(b), start, pageSize); err != nil {
		return runs, err
	}
	for i := 0; i < len(b); i += pagemapEntrySize {
		e := PagemapEntry(binary.LittleEndian.Uint64(b[i:]))
		if !e.Present() && !e.Swapped() {
			continue
		}
		addr := start + uint64(i/pagemapEntrySize)*pageSize
		if n := len(runs); n > 0 && runs[n-1].End == addr {
			runs[n-1].End += pageSize
		} else {
			runs = append(runs, Run{Start: addr, End: addr + pageSize})
		}
	}
	return runs, nil
}

// checkPagemapChunk validates the arguments of AppendPresentRuns.
func checkPagemapChunk(size int, start, pageSize uint64) error {
	if pageSize == 0 || pageSize&(pageSize-1) != 0 {
		return formatError("page size %d is not a power of two", pageSize)
	}
	if start%pageSize != 0 {
		return formatError("address %#x is not page aligned", start)
	}
	if size%pagemapEntrySize != 0 {
		return formatError("pagemap length %d is not a multiple of %d", size, pagemapEntrySize)
	}
	pages := uint64(size / pagemapEntrySize)
	if pages > math.MaxUint64/pageSize || start > math.MaxUint64-pages*pageSize {
		return formatError("%d pages at %#x overflow the address space", pages, start)
	}
	return nil
}
