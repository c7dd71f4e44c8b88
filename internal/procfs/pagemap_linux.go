//go:build linux

package procfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// pagemapChunk is the number of entries read per pread (512 KiB).
const pagemapChunk = 64 << 10

// Pagemap is an open /proc/PID/pagemap. It reads in bounded chunks with
// pread on one file descriptor. A Pagemap is not safe for concurrent use.
type Pagemap struct {
	f        *os.File
	path     string
	pageSize uint64
	chunk    int // entries per read
	buf      []byte
}

// OpenPagemap opens /proc/PID/pagemap.
func OpenPagemap(pid int) (*Pagemap, error) {
	path := procPath(pid, "pagemap")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("procfs: %w", err)
	}
	return &Pagemap{
		f:        f,
		path:     path,
		pageSize: uint64(os.Getpagesize()),
		chunk:    pagemapChunk,
	}, nil
}

// Close closes the file.
func (p *Pagemap) Close() error {
	return p.f.Close()
}

// ReadEntries fills dst with the entries of the len(dst) pages starting at
// the page-aligned address addr.
func (p *Pagemap) ReadEntries(addr uint64, dst []PagemapEntry) error {
	if uint64(len(dst)) > (math.MaxUint64-addr)/p.pageSize {
		return fmt.Errorf("procfs: %s: %d pages at %#x overflow", p.path, len(dst), addr)
	}
	end := addr + uint64(len(dst))*p.pageSize
	if err := p.checkRange(addr, end); err != nil {
		return err
	}
	for len(dst) > 0 {
		n := min(len(dst), p.chunk)
		b, err := p.readChunk(addr, n)
		if err != nil {
			return err
		}
		for i := range n {
			dst[i] = PagemapEntry(binary.LittleEndian.Uint64(b[i*pagemapEntrySize:]))
		}
		dst = dst[n:]
		addr += uint64(n) * p.pageSize
	}
	return nil
}

// PresentRuns returns the ranges of pages in [start, end) that are present
// or swapped, in address order, with adjacent pages merged. start and end
// must be page aligned. Ranges above the user address space, such as
// [vsyscall], cannot be read.
func (p *Pagemap) PresentRuns(start, end uint64) ([]Run, error) {
	if err := p.checkRange(start, end); err != nil {
		return nil, err
	}
	var runs []Run
	for addr := start; addr < end; {
		n := min((end-addr)/p.pageSize, uint64(p.chunk))
		b, err := p.readChunk(addr, int(n))
		if err != nil {
			return nil, err
		}
		if runs, err = AppendPresentRuns(runs, b, addr, p.pageSize); err != nil {
			return nil, fmt.Errorf("procfs: %s: %w", p.path, err)
		}
		addr += n * p.pageSize
	}
	return runs, nil
}

// PresentRuns opens /proc/PID/pagemap and returns the present or swapped
// runs of [start, end); see Pagemap.PresentRuns.
func PresentRuns(pid int, start, end uint64) ([]Run, error) {
	p, err := OpenPagemap(pid)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return p.PresentRuns(start, end)
}

// checkRange requires a page-aligned, non-wrapping range.
func (p *Pagemap) checkRange(start, end uint64) error {
	if start%p.pageSize != 0 || end%p.pageSize != 0 || end < start {
		return fmt.Errorf("procfs: %s: bad range [%#x, %#x)", p.path, start, end)
	}
	return nil
}

// readChunk reads the entries of n pages at addr; n <= p.chunk.
func (p *Pagemap) readChunk(addr uint64, n int) ([]byte, error) {
	if p.buf == nil {
		p.buf = make([]byte, p.chunk*pagemapEntrySize)
	}
	b := p.buf[:n*pagemapEntrySize]
	off := addr / p.pageSize * pagemapEntrySize
	if off > math.MaxInt64 {
		return nil, fmt.Errorf("procfs: %s: address %#x out of range", p.path, addr)
	}
	if _, err := p.f.ReadAt(b, int64(off)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("procfs: read %s at %#x: %w", p.path, addr, err)
	}
	return b, nil
}
