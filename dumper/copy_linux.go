package dumper

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// chunk is a piece of memory read from the process, with its zero pages
// marked: up to cap(buf) bytes of one or more spans (a frozen last round
// is mostly single scattered pages, and one process_vm_readv per page cost
// 5x the time of one per chunk). buf is the saver's own (chunk path) or a
// buffer the sink lent (lend path).
type chunk struct {
	addrs    []uint64 // address of each page of buf
	buf      []byte
	zero     []bool
	skip     []bool // pages left out (tolerant reads); empty when none
	remote   []linux.RemoteRange
	readable bool
	err      error
}

// maxChunkSpans bounds the spans of one chunk (IOV_MAX remote iovecs: one
// process_vm_readv).
const maxChunkSpans = linux.IOV_MAX

// reset empties the chunk (it comes back with the marks of its last use)
// for pages read into buf[:cap(buf)].
func (c *chunk) reset(buf []byte, readable bool) {
	c.addrs, c.buf, c.remote, c.skip, c.err = c.addrs[:0], buf[:0], c.remote[:0], c.skip[:0], nil
	c.zero = slices.Grow(c.zero[:0], cap(buf)/pageSize)
	c.readable = readable
}

// add appends n bytes of pages at addr (contiguous with the last piece:
// one remote iovec for both).
func (c *chunk) add(addr, n uint64) {
	for a := addr; a < addr+n; a += pageSize {
		c.addrs = append(c.addrs, a)
	}
	c.buf = c.buf[:len(c.buf)+int(n)]
	if k := len(c.remote) - 1; k >= 0 && c.remote[k].Addr+c.remote[k].Len == addr {
		c.remote[k].Len += n
		return
	}
	c.remote = append(c.remote, linux.RemoteRange{Addr: addr, Len: n})
}

// full reports whether the chunk must go before the piece of sp at addr
// joins it: no room, no iovec left, a piece the process cannot read (those
// go alone, through /proc/PID/mem), or an address that does not ascend (a
// batch's pages do).
func (c *chunk) full(sp span, addr uint64) bool {
	return !sp.readable || !c.readable || len(c.buf) == cap(c.buf) || len(c.remote) >= maxChunkSpans ||
		addr <= c.addrs[len(c.addrs)-1]
}

// group cuts the spans into chunks, in order: start gets an empty chunk,
// finish takes a filled one (its pages listed, not read yet). Spans are
// split where a chunk is full, so that every chunk but the last of a run
// of readable spans is filled up.
func group(spans []span, start func(readable bool) (*chunk, error), finish func(*chunk) error) error {
	var c *chunk
	for _, sp := range spans {
		for addr := sp.start; addr < sp.end; {
			if c != nil && c.full(sp, addr) {
				if err := finish(c); err != nil {
					return err
				}
				c = nil
			}
			if c == nil {
				var err error
				if c, err = start(sp.readable); err != nil {
					return err
				}
			}
			n := min(uint64(cap(c.buf)-len(c.buf)), sp.end-addr)
			c.add(addr, n)
			addr += n
		}
	}
	if c == nil {
		return nil
	}
	return finish(c)
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
		return linux.ReadMem(s.pid, addr, b)
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
// (zero stays false and skip is set).
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

// skipped reports whether page i of the chunk was left out.
func (c *chunk) skipped(i int) bool { return len(c.skip) > i && c.skip[i] }

// noteSkipped adds page i of c to the skipped pages.
func (s *pageSaver) noteSkipped(c *chunk, i int) {
	addr := c.addrs[i]
	if n := len(s.skipped); n > 0 && s.skipped[n-1].end == addr {
		s.skipped[n-1].end += pageSize
	} else {
		s.skipped = append(s.skipped, span{addr, addr + pageSize, c.readable})
	}
}

// tally counts a chunk's pages in the stats and notes the skipped ones.
func (s *pageSaver) tally(c *chunk) {
	for i, z := range c.zero {
		switch {
		case c.skipped(i):
			s.noteSkipped(c, i)
		case z:
			s.stats.ZeroPages++
		default:
			s.stats.DataPages++
		}
	}
}
