package dumper

import (
	"os"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/procfs"
)

const (
	pageSize      = image.PageSize
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

// pageSaver copies the memory of a process into a PageSink. It reads each
// page once, straight into its own buffer or into one the sink lends.
type pageSaver struct {
	pid     int
	pm      *procfs.Pagemap
	mem     *os.File // /proc/PID/mem, opened on first need (unreadable mappings)
	entries []procfs.PagemapEntry
	// tolerant skips pages that cannot be read (EFAULT; EIO through
	// /proc/PID/mem): the process runs and may have unmapped them since
	// they were listed. skipped lists them, merged, in order.
	tolerant bool
	skipped  []span
	stats    PageStats
	bufs     chan chunk // pipeBuffers chunks, when not in use by copySpans
	lent     chunk      // the marks of a lent buffer (lendSpans)
}

func newPageSaver(pid int) (*pageSaver, error) {
	pm, err := procfs.OpenPagemap(pid)
	if err != nil {
		return nil, err
	}
	return &pageSaver{pid: pid, pm: pm, entries: make([]procfs.PagemapEntry, pagemapWindow)}, nil
}

func (s *pageSaver) Close() {
	s.pm.Close()
	if s.mem != nil {
		s.mem.Close()
	}
}

// span is a range of pages to copy.
type span struct {
	start, end uint64
	readable   bool // by the process itself: process_vm_readv works
}

// plan lists the pages of the mappings that carry state, in address order.
func (s *pageSaver) plan(maps []mapping) ([]span, error) {
	var out []span
	for _, m := range maps {
		if m.content == contentNone {
			continue
		}
		v := m.vma
		readable := v.Prot&image.ProtRead != 0
		for addr := v.Start; addr < v.End; {
			n := min(uint64(pagemapWindow), (v.End-addr)/pageSize)
			ents := s.entries[:n]
			if m.content != contentAllShared {
				if err := s.pm.ReadEntries(addr, ents); err != nil {
					return nil, err
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
				sp := span{addr + i*pageSize, addr + j*pageSize, readable}
				if k := len(out) - 1; k >= 0 && out[k].end == sp.start && out[k].readable == readable {
					out[k].end = sp.end
				} else {
					out = append(out, sp)
				}
				i = j
			}
			addr += n * pageSize
		}
	}
	return out, nil
}

// wanted says whether a page holds state of its own: any page of shared
// anonymous memory; a present or swapped page of private memory that is not
// the file's own page.
func (s *pageSaver) wanted(m mapping, e procfs.PagemapEntry) bool {
	switch m.content {
	case contentAllShared:
		return true
	case contentPrivate:
		if !e.Present() && (!e.Swapped() || marker(e)) {
			return false
		}
		return m.vma.Kind != image.VMAFile || !e.FileOrSharedAnon()
	}
	return false
}

// pteMarkerSwapType is the swap type pagemap shows for a PTE marker
// (SWP_PTE_MARKER, the last of the 32 types): a page table entry without
// a page, left by userfaultfd write-protection (on an empty page, or on a
// private file page dropped with MADV_DONTNEED) or by MADV_GUARD_INSTALL.
// It looks swapped, but the page reads what an empty one does: zeros, or
// the file's contents. pagemap shows the type to CAP_SYS_ADMIN only;
// without it, a marker passes for a swapped page and is copied (zeros or
// the file's contents: more pages, same contents).
const pteMarkerSwapType = 1<<5 - 1

func marker(e procfs.PagemapEntry) bool { return e.Swapped() && e.SwapType() == pteMarkerSwapType }
