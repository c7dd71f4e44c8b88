package dumper

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
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
	entries []procfs.PagemapEntry
	// tolerant skips pages that cannot be read (EFAULT; EIO through
	// /proc/PID/mem): the process runs and may have unmapped them since
	// they were listed. skipped lists them, merged, in order.
	tolerant bool
	skipped  []span
	stats    PageStats
	bufs     chan chunk // pipeBuffers chunks, when not in use by copySpans
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

// chunk is a piece of memory read from the process, with its zero pages
// marked, on its way to the sink: up to readChunk bytes of one or more
// spans (a frozen last round is mostly single scattered pages, and one
// process_vm_readv per page cost 5x the time of one per chunk).
type chunk struct {
	addrs    []uint64 // address of each page of buf
	buf      []byte
	zero     []bool
	skip     []bool // pages left out (tolerant reads); nil when none
	remote   []linux.RemoteRange
	readable bool
	err      error
}

// maxChunkSpans bounds the spans of one chunk (IOV_MAX remote iovecs: one
// process_vm_readv).
const maxChunkSpans = linux.IOV_MAX

// pipeBuffers is how many chunks are in flight between reader and writer.
const pipeBuffers = 3

// copySpans reads the spans (one goroutine: process_vm_readv and zero
// detection) while the caller's goroutine feeds the sink (checksums and
// writes), so that both cores work.
func (s *pageSaver) copySpans(spans []span, w PageSink) error {
	// The buffers are kept from call to call: the last round of a live
	// migration runs frozen, and fresh memory costs page faults (12 MiB
	// took 36 ms on a VM).
	if s.bufs == nil {
		s.bufs = make(chan chunk, pipeBuffers)
		for range pipeBuffers {
			s.bufs <- chunk{buf: make([]byte, readChunk), zero: make([]bool, readChunk/pageSize),
				addrs: make([]uint64, 0, readChunk/pageSize)}
		}
	}
	free := s.bufs
	full := make(chan chunk, pipeBuffers)
	stop := make(chan struct{})
	go s.reader(spans, free, full, stop)
	var err error
	for c := range full {
		if err == nil {
			if err = c.err; err == nil {
				err = s.record(c, w)
			}
			if err != nil {
				close(stop)
			}
		}
		free <- c
	}
	return err
}

// reader fills chunks with the spans, in order: consecutive readable
// pieces share a chunk (one process_vm_readv for all of them); pieces the
// process cannot read go alone, through /proc/PID/mem.
func (s *pageSaver) reader(spans []span, free <-chan chunk, full chan<- chunk, stop <-chan struct{}) {
	defer close(full)
	var c chunk
	have := false
	send := func() bool {
		if !have {
			return true
		}
		have = false
		s.fill(&c)
		full <- c
		return c.err == nil
	}
	for _, sp := range spans {
		for addr := sp.start; addr < sp.end; {
			n := min(uint64(readChunk), sp.end-addr)
			if have && (!sp.readable || !c.readable || uint64(len(c.buf))+n > readChunk || len(c.remote) >= maxChunkSpans) {
				if !send() {
					return
				}
			}
			if !have {
				select {
				case c = <-free:
				case <-stop:
					return
				}
				// A chunk comes back with the marks of its last use.
				c.addrs, c.buf, c.remote, c.skip, c.err = c.addrs[:0], c.buf[:0], c.remote[:0], c.skip[:0], nil
				c.readable, have = sp.readable, true
			}
			for a := addr; a < addr+n; a += pageSize {
				c.addrs = append(c.addrs, a)
			}
			c.buf = c.buf[:len(c.buf)+int(n)]
			c.remote = append(c.remote, linux.RemoteRange{Addr: addr, Len: n})
			addr += n
		}
	}
	send()
}

// fill reads the chunk's pages and marks the zero ones.
func (s *pageSaver) fill(c *chunk) {
	c.zero = c.zero[:len(c.addrs)]
	if c.readable {
		_, c.err = linux.ProcessVMReadv(s.pid, [][]byte{c.buf}, c.remote)
	} else {
		c.err = s.read(c.addrs[0], c.buf, false)
	}
	if c.err != nil && s.tolerant && faulted(c.err) {
		c.err = s.readPages(c)
	}
	if c.err == nil {
		for i := range c.zero {
			c.zero[i] = bytes.Equal(c.buf[i*pageSize:(i+1)*pageSize], zeroPage)
		}
	}
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

// faulted tells whether a read failed because the memory is not there
// (any more) or not accessible: process_vm_readv says EFAULT,
// /proc/PID/mem EIO.
func faulted(err error) bool { return errors.Is(err, unix.EFAULT) || errors.Is(err, unix.EIO) }

// readPages reads a chunk page by page, leaving out the pages that fault
// (marked by a nil buffer slot: zero stays false and skip is set).
func (s *pageSaver) readPages(c *chunk) error {
	c.skip = c.skip[:0]
	for i, a := range c.addrs {
		p := c.buf[i*pageSize : (i+1)*pageSize]
		err := s.read(a, p, c.readable)
		if err != nil && !faulted(err) {
			return err
		}
		c.skip = append(c.skip, err != nil)
	}
	return nil
}

// record hands a chunk to the sink as runs of contiguous zero and
// non-zero pages.
func (s *pageSaver) record(c chunk, w PageSink) error {
	skipped := func(i int) bool { return len(c.skip) > i && c.skip[i] }
	for i := 0; i < len(c.zero); {
		if skipped(i) {
			addr := c.addrs[i]
			if n := len(s.skipped); n > 0 && s.skipped[n-1].end == addr {
				s.skipped[n-1].end += pageSize
			} else {
				s.skipped = append(s.skipped, span{addr, addr + pageSize, c.readable})
			}
			i++
			continue
		}
		j := i + 1
		for j < len(c.zero) && c.zero[j] == c.zero[i] && !skipped(j) && c.addrs[j] == c.addrs[j-1]+pageSize {
			j++
		}
		addr, pages := c.addrs[i], uint64(j-i)
		var err error
		if c.zero[i] {
			err = w.AddZero(addr, pages)
			s.stats.ZeroPages += pages
		} else {
			err = w.AddData(addr, c.buf[i*pageSize:j*pageSize])
			s.stats.DataPages += pages
		}
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}
