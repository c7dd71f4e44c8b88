package dumper

import (
	"bytes"
	"fmt"
	"os"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
)

const (
	pageSize      = image.PageSize
	readChunk     = 4 << 20 // bytes read from the process per call
	pagemapWindow = 1 << 16 // pagemap entries examined per read
)

var zeroPage = make([]byte, pageSize)

// PageSink receives a process's memory in ascending address order: a file
// of a checkpoint directory, or (for live migration) a network stream.
type PageSink interface {
	AddData(addr uint64, data []byte) error
	AddZero(addr uint64, npages uint64) error
}

// PageStats counts what a checkpoint saved.
type PageStats struct {
	DataPages uint64 // pages stored with their contents
	ZeroPages uint64 // present pages that were all zero: recorded, not stored
}

// pageSaver copies the memory of a stopped process into a PageWriter. It
// reads each page once, straight into its buffer.
type pageSaver struct {
	pid     int
	pm      *procfs.Pagemap
	mem     *os.File // /proc/PID/mem, opened on first need (unreadable mappings)
	buf     []byte
	entries []procfs.PagemapEntry
	stats   PageStats
}

func newPageSaver(pid int) (*pageSaver, error) {
	pm, err := procfs.OpenPagemap(pid)
	if err != nil {
		return nil, err
	}
	return &pageSaver{pid: pid, pm: pm, buf: make([]byte, readChunk), entries: make([]procfs.PagemapEntry, pagemapWindow)}, nil
}

func (s *pageSaver) Close() {
	s.pm.Close()
	if s.mem != nil {
		s.mem.Close()
	}
}

// save writes the pages of m that carry state into w.
func (s *pageSaver) save(m mapping, w PageSink) error {
	if m.content == contentNone {
		return nil
	}
	v := m.vma
	for addr := v.Start; addr < v.End; {
		n := min(uint64(pagemapWindow), (v.End-addr)/pageSize)
		ents := s.entries[:n]
		if m.content != contentAllShared {
			if err := s.pm.ReadEntries(addr, ents); err != nil {
				return err
			}
		}
		for i := uint64(0); i < n; {
			if !s.wanted(m, ents[i]) {
				i++
				continue
			}
			j := i + 1
			for j < n && s.wanted(m, ents[j]) {
				j++
			}
			if err := s.copyRange(addr+i*pageSize, addr+j*pageSize, v.Prot&image.ProtRead != 0, w); err != nil {
				return err
			}
			i = j
		}
		addr += n * pageSize
	}
	return nil
}

// wanted says whether a page holds state of its own: any page of shared
// anonymous memory; a present or swapped page of private memory that is not
// the file's own page.
func (s *pageSaver) wanted(m mapping, e procfs.PagemapEntry) bool {
	switch m.content {
	case contentAllShared:
		return true
	case contentPrivate:
		if !e.Present() && !e.Swapped() {
			return false
		}
		return m.vma.Kind != image.VMAFile || !e.FileOrSharedAnon()
	}
	return false
}

// copyRange reads [start, end) and records it as data and zero runs.
func (s *pageSaver) copyRange(start, end uint64, readable bool, w PageSink) error {
	for addr := start; addr < end; {
		n := min(uint64(len(s.buf)), end-addr)
		b := s.buf[:n]
		if err := s.read(addr, b, readable); err != nil {
			return err
		}
		if err := s.record(addr, b, w); err != nil {
			return err
		}
		addr += n
	}
	return nil
}

func (s *pageSaver) read(addr uint64, b []byte, readable bool) error {
	if readable {
		_, err := linux.ProcessVMReadv(s.pid, [][]byte{b}, []linux.RemoteRange{{Addr: addr, Len: uint64(len(b))}})
		return err
	}
	// The process itself cannot read this mapping (PROT_NONE, exec-only);
	// /proc/PID/mem can.
	if s.mem == nil {
		f, err := os.Open(fmt.Sprintf("/proc/%d/mem", s.pid))
		if err != nil {
			return err
		}
		s.mem = f
	}
	if _, err := s.mem.ReadAt(b, int64(addr)); err != nil {
		return fmt.Errorf("read /proc/%d/mem at %#x: %w", s.pid, addr, err)
	}
	return nil
}

// record splits b (read from addr) into runs of zero and non-zero pages.
func (s *pageSaver) record(addr uint64, b []byte, w PageSink) error {
	for off := 0; off < len(b); {
		zero := bytes.Equal(b[off:off+pageSize], zeroPage)
		end := off + pageSize
		for end < len(b) && bytes.Equal(b[end:end+pageSize], zeroPage) == zero {
			end += pageSize
		}
		pages := uint64(end-off) / pageSize
		var err error
		if zero {
			err = w.AddZero(addr+uint64(off), pages)
			s.stats.ZeroPages += pages
		} else {
			err = w.AddData(addr+uint64(off), b[off:end])
			s.stats.DataPages += pages
		}
		if err != nil {
			return err
		}
		off = end
	}
	return nil
}
