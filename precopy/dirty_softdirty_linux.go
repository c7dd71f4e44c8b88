//go:build linux

package precopy

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
)

// SoftDirtyTracker tracks writes with the kernel's soft-dirty bits, as
// CRIU's pre-dump does: writing "4" to /proc/PID/clear_refs clears the bits
// of the whole process (and write-protects its pages, so that the next
// write faults and sets the bit again), and bit 55 of each
// /proc/PID/pagemap entry says whether the page was written since. New
// mappings are soft-dirty as a whole until the next clear.
//
// Reading and re-arming are two steps, and re-arming covers the whole
// process: a page written after Collect read its entry and before it
// cleared the bits is lost. Collect keeps the two as close as it can (it
// reads every range, then clears at once), and the caller takes the last
// round with the process frozen, where nothing is written and nothing is
// lost. Track clears the bits too (new ranges must start clean), so it
// first saves what the already tracked ranges had; the next Collect
// reports it.
//
// Like uffd-wp, soft-dirty misses contents that change without a write: a
// page dropped with MADV_DONTNEED is simply no longer present (it reads as
// zeros, or as the file's contents in a private file mapping), and is not
// reported.
//
// Soft-dirty bits are part of the normal page-table state: Close leaves
// nothing that changes the process's behaviour.
type SoftDirtyTracker struct {
	pid     int
	src     softDirtySource
	tracked []Range // normalized
	pending []Range // written, saved by Track before a clear; normalized
	closed  bool
}

// softDirtySource reads and clears the soft-dirty bits of one process
// (an interface so that the bookkeeping can be tested on kernels without
// soft-dirty).
type softDirtySource interface {
	// dirty appends the soft-dirty pages of r to out, merged.
	dirty(r Range, out []Range) ([]Range, error)
	clear() error
	close() error
}

// NewSoftDirtyTracker creates a soft-dirty tracker for pid. The process
// does not need to be stopped. It returns an error matching ErrNoTracking
// when the kernel has no soft-dirty bits (CONFIG_MEM_SOFT_DIRTY off).
func NewSoftDirtyTracker(pid int) (*SoftDirtyTracker, error) {
	if err := haveSoftDirty(); err != nil {
		return nil, &noTrackingError{"soft-dirty", err}
	}
	src, err := openProcSoftDirty(pid)
	if err != nil {
		return nil, err
	}
	return &SoftDirtyTracker{pid: pid, src: src}, nil
}

// haveSoftDirty checks, once, that a page we write after clearing our own
// soft-dirty bits reads as soft-dirty.
var haveSoftDirty = sync.OnceValue(func() error {
	mem, err := unix.Mmap(-1, 0, trackPageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	defer unix.Munmap(mem)
	mem[0] = 1
	src, err := openProcSoftDirty(os.Getpid())
	if err != nil {
		return err
	}
	defer src.close()
	if err := src.clear(); err != nil {
		return err
	}
	mem[0] = 2
	start := linux.SliceAddr(mem)
	got, err := src.dirty(Range{Start: start, End: start + trackPageSize}, nil)
	if err != nil {
		return err
	}
	if len(got) == 0 {
		return errors.New("a page written after clear_refs 4 is not soft-dirty (kernel built without CONFIG_MEM_SOFT_DIRTY?)")
	}
	return nil
})

// Name returns "soft-dirty".
func (t *SoftDirtyTracker) Name() string { return "soft-dirty" }

// Track adds the parts of ranges not tracked yet and clears the soft-dirty
// bits, after saving those of the ranges already tracked.
func (t *SoftDirtyTracker) Track(ranges []Range) error {
	if t.closed {
		return os.ErrClosed
	}
	if err := checkRanges(ranges); err != nil {
		return err
	}
	add := subtractRanges(normalizeRanges(ranges), t.tracked)
	if len(add) == 0 {
		return nil
	}
	saved, err := t.read()
	if err != nil {
		return err
	}
	if err := t.src.clear(); err != nil {
		return err
	}
	t.pending = saved
	t.tracked = unionRanges(t.tracked, add)
	return nil
}

// Untrack forgets ranges; the kernel has nothing to undo.
func (t *SoftDirtyTracker) Untrack(ranges []Range) error {
	if t.closed {
		return os.ErrClosed
	}
	if err := checkRanges(ranges); err != nil {
		return err
	}
	rs := normalizeRanges(ranges)
	t.tracked = subtractRanges(t.tracked, rs)
	t.pending = subtractRanges(t.pending, rs)
	return nil
}

// Collect reads the soft-dirty pages of the tracked ranges, then clears
// the bits of the whole process. A write between the two is lost (see
// SoftDirtyTracker).
func (t *SoftDirtyTracker) Collect() ([]Range, error) {
	if t.closed {
		return nil, os.ErrClosed
	}
	out, err := t.read()
	if err != nil {
		return nil, err
	}
	if err := t.src.clear(); err != nil {
		return nil, err
	}
	t.pending = nil
	return out, nil
}

// read returns the pending pages and the soft-dirty pages of the tracked
// ranges.
func (t *SoftDirtyTracker) read() ([]Range, error) {
	var out []Range
	var err error
	for _, r := range t.tracked {
		if out, err = t.src.dirty(r, out); err != nil {
			return nil, fmt.Errorf("collecting %v in pid %d: %w", r, t.pid, err)
		}
	}
	if len(t.pending) == 0 {
		return out, nil
	}
	return unionRanges(out, t.pending), nil
}

// Close releases the files.
func (t *SoftDirtyTracker) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	t.tracked, t.pending = nil, nil
	return t.src.close()
}

// procSoftDirty is the softDirtySource of a live process.
type procSoftDirty struct {
	pm        *procfs.Pagemap
	clearRefs *os.File
	buf       []procfs.PagemapEntry
}

// pagemapChunk is the number of pagemap entries read at a time (64 KiB).
const pagemapChunk = 8192

func openProcSoftDirty(pid int) (*procSoftDirty, error) {
	pm, err := procfs.OpenPagemap(pid)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/clear_refs", pid), os.O_WRONLY, 0)
	if err != nil {
		pm.Close()
		return nil, err
	}
	return &procSoftDirty{pm: pm, clearRefs: f}, nil
}

func (p *procSoftDirty) dirty(r Range, out []Range) ([]Range, error) {
	if p.buf == nil {
		p.buf = make([]procfs.PagemapEntry, pagemapChunk)
	}
	for addr := r.Start; addr < r.End; {
		n := min(uint64(len(p.buf)), (r.End-addr)/trackPageSize)
		entries := p.buf[:n]
		if err := p.pm.ReadEntries(addr, entries); err != nil {
			return nil, err
		}
		for i, e := range entries {
			if e.SoftDirty() {
				a := addr + uint64(i)*trackPageSize
				out = appendMerged(out, Range{Start: a, End: a + trackPageSize})
			}
		}
		addr += n * trackPageSize
	}
	return out, nil
}

func (p *procSoftDirty) clear() error {
	if _, err := p.clearRefs.WriteAt([]byte("4"), 0); err != nil {
		return fmt.Errorf("clearing soft-dirty bits: %w", err)
	}
	return nil
}

func (p *procSoftDirty) close() error {
	return errors.Join(p.pm.Close(), p.clearRefs.Close())
}
