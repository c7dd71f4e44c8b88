package image

import (
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
)

// Page store limits.
const (
	// PageSize is the page size of x86-64; runs are counted in pages.
	PageSize = 4096
	// MaxRunPages caps a data run (1 MiB), so that a reader verifies a
	// run's CRC with bounded memory. Zero runs have no cap beyond NPages.
	MaxRunPages = 256
)

// PageRun is one run of contiguous pages of a process's memory.
type PageRun struct {
	Addr   uint64   // first page, page-aligned
	NPages uint32   // number of pages, > 0
	Kind   PageKind // PageData or PageZero
	Offset uint64   // PageData: page-aligned byte offset in the page data file; else 0
	CRC    uint32   // PageData: CRC32C (Castagnoli) of the run's bytes; else 0
}

// Len returns the run's size in bytes.
func (r PageRun) Len() uint64 { return uint64(r.NPages) * PageSize }

// End returns the address just past the run.
func (r PageRun) End() uint64 { return r.Addr + r.Len() }

// PageMap lists the memory contents of one process: the payload of
// pagemap-PID.img. The data of PageData runs is in pages-PID.img.
type PageMap struct {
	PID      int32     // the process
	DataSize uint64    // size of the page data file in bytes
	Runs     []PageRun // ascending by Addr, non-overlapping
}

// PageWriter writes page data to an io.Writer and builds the PageMap that
// describes it. Runs must be added in ascending address order without
// overlap. Contiguous runs of the same kind are merged, data runs up to
// MaxRunPages. After a write error every call returns that error.
type PageWriter struct {
	w   io.Writer
	m   PageMap
	end uint64 // end of the last run; the next one may not start below it
	err error
}

// NewPageWriter returns a PageWriter for process pid writing data to w.
func NewPageWriter(w io.Writer, pid int32) *PageWriter {
	return &PageWriter{w: w, m: PageMap{PID: pid}}
}

// AddData appends the pages starting at addr, whose contents are data.
// len(data) must be a non-zero multiple of PageSize.
func (pw *PageWriter) AddData(addr uint64, data []byte) error {
	if uint64(len(data))%PageSize != 0 {
		return invalidf("page data at %#x: length %d is not a multiple of %d", addr, len(data), PageSize)
	}
	if err := pw.checkNext(addr, uint64(len(data))/PageSize); err != nil {
		return err
	}
	for len(data) > 0 {
		r := pw.dataRun(addr)
		k := min(uint64(MaxRunPages-r.NPages), uint64(len(data))/PageSize)
		chunk := data[:k*PageSize]
		if _, err := pw.w.Write(chunk); err != nil {
			pw.err = fmt.Errorf("image: writing page data at %#x: %w", addr, err)
			return pw.err
		}
		r.NPages += uint32(k)
		r.CRC = crc32.Update(r.CRC, castagnoli, chunk)
		pw.m.DataSize += uint64(len(chunk))
		addr += uint64(len(chunk))
		data = data[len(chunk):]
	}
	pw.end = addr
	return nil
}

// dataRun returns the run that data at addr extends: the last run when it
// is a data run ending at addr with room left, else a new empty one.
func (pw *PageWriter) dataRun(addr uint64) *PageRun {
	if n := len(pw.m.Runs); n > 0 {
		r := &pw.m.Runs[n-1]
		if r.Kind == PageData && r.End() == addr && r.NPages < MaxRunPages {
			return r
		}
	}
	pw.m.Runs = append(pw.m.Runs, PageRun{Addr: addr, Kind: PageData, Offset: pw.m.DataSize})
	return &pw.m.Runs[len(pw.m.Runs)-1]
}

// AddZero appends npages pages of zeros starting at addr. Nothing is
// written.
func (pw *PageWriter) AddZero(addr uint64, npages uint64) error {
	if err := pw.checkNext(addr, npages); err != nil {
		return err
	}
	for npages > 0 {
		r := pw.zeroRun(addr)
		k := min(uint64(math.MaxUint32-r.NPages), npages)
		r.NPages += uint32(k)
		addr += k * PageSize
		npages -= k
	}
	pw.end = addr
	return nil
}

// zeroRun is dataRun for zero runs.
func (pw *PageWriter) zeroRun(addr uint64) *PageRun {
	if n := len(pw.m.Runs); n > 0 {
		r := &pw.m.Runs[n-1]
		if r.Kind == PageZero && r.End() == addr && r.NPages < math.MaxUint32 {
			return r
		}
	}
	pw.m.Runs = append(pw.m.Runs, PageRun{Addr: addr, Kind: PageZero})
	return &pw.m.Runs[len(pw.m.Runs)-1]
}

// checkNext checks that npages pages at addr may follow the runs so far.
func (pw *PageWriter) checkNext(addr, npages uint64) error {
	switch {
	case pw.err != nil:
		return pw.err
	case addr%PageSize != 0:
		return invalidf("page run at %#x: address not page-aligned", addr)
	case npages == 0:
		return invalidf("page run at %#x: no pages", addr)
	case npages > (math.MaxUint64-addr)/PageSize:
		return invalidf("page run at %#x: %d pages wrap around the address space", addr, npages)
	case len(pw.m.Runs) > 0 && addr < pw.end:
		return invalidf("page run at %#x: overlaps or precedes the previous run ending at %#x", addr, pw.end)
	}
	return nil
}

// Map returns the page map of what has been written so far.
func (pw *PageWriter) Map() *PageMap {
	m := pw.m
	m.Runs = slices.Clone(m.Runs)
	return &m
}
