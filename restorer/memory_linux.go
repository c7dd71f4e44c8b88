package restorer

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
)

// areaCandidates are places for the scratch area and gadget, tried in
// order; those overlapping the image's mappings are dropped.
func areaCandidates(vmas []image.VMA) []uint64 {
	var out []uint64
	for _, a := range []uint64{0x2000_0000_0000, 0x3000_0000_0000, 0x1000_0000_0000, 0x6000_0000_0000, 0x1_0000_0000, 0x1000_0000} {
		if !overlaps(vmas, a, a+areaSize+specialRoom) {
			out = append(out, a)
		}
	}
	return out
}

// specialRoom is space after the area where vdso and vvar wait while they
// move to their final places.
const specialRoom = 64 * linux.PageSize

func overlaps(vmas []image.VMA, start, end uint64) bool {
	for _, v := range vmas {
		if v.Start < end && start < v.End {
			return true
		}
	}
	return false
}

var specialNames = map[string]image.VMAKind{
	"[vdso]": image.VMAVDSO, "[vvar]": image.VMAVVar, "[vvar_vclock]": image.VMAVVarVClock,
}

// clearLayout unmaps everything the task inherited from the stub except
// the area and the kernel's special mappings.
func (t *task) clearLayout() (map[image.VMAKind]procfs.Mapping, error) {
	maps, err := procfs.Maps(t.pid)
	if err != nil {
		return nil, err
	}
	specials := make(map[image.VMAKind]procfs.Mapping)
	for _, m := range maps {
		if k, ok := specialNames[m.Path]; ok {
			specials[k] = m
			continue
		}
		if m.Path == "[vsyscall]" || (m.Start >= t.scratch && m.End <= t.gadget+linux.PageSize) {
			continue
		}
		if _, err := t.call(unix.SYS_MUNMAP, m.Start, m.End-m.Start); err != nil {
			return nil, fmt.Errorf("unmap %#x-%#x %s: %w", m.Start, m.End, m.Path, err)
		}
	}
	return specials, nil
}

// placeSpecials moves vdso and vvar to where the source had them, keeping
// their relative layout; the precheck made sure they are the same size.
func (t *task) placeSpecials(have map[image.VMAKind]procfs.Mapping, vmas []image.VMA) error {
	want := make(map[image.VMAKind]image.VMA)
	for _, v := range vmas {
		if v.Kind.Special() {
			want[v.Kind] = v
		}
	}
	tmp := t.gadget + linux.PageSize
	moved := make(map[image.VMAKind]uint64)
	for k, m := range have { // first out of the way, then into place
		if _, ok := want[k]; !ok {
			if _, err := t.call(unix.SYS_MUNMAP, m.Start, m.End-m.Start); err != nil {
				return fmt.Errorf("unmap %s: %w", m.Path, err)
			}
			continue
		}
		if err := t.mremap(m.Start, m.End-m.Start, tmp); err != nil {
			return fmt.Errorf("move %s: %w", m.Path, err)
		}
		moved[k] = tmp
		tmp += m.End - m.Start
	}
	for k, at := range moved {
		v := want[k]
		if err := t.mremap(at, v.End-v.Start, v.Start); err != nil {
			return fmt.Errorf("move %s to %#x: %w", k, v.Start, err)
		}
	}
	return nil
}

func (t *task) mremap(from, size, to uint64) error {
	_, err := t.call(unix.SYS_MREMAP, from, size, size, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, to)
	return err
}

// mapVMAs creates every non-special mapping of the image. Mappings that
// will receive pages are made writable for now (protect restores them);
// shared file mappings get exactly their protection: a read-only shared
// mapping is never written through. files gives the task's descriptors
// for file mappings.
func (t *task) mapVMAs(vmas []image.VMA, filled []bool, files map[string]uint64) error {
	// Batched: one injected call each took 0.3-0.6 ms, and a process may
	// have thousands of mappings. MAP_FIXED answers the address asked
	// for or an error, so only the error is needed.
	return t.batched(func() error {
		for i, v := range vmas {
			if v.Kind.Special() {
				continue
			}
			prot := uint64(v.Prot)
			if filled[i] {
				prot |= unix.PROT_READ | unix.PROT_WRITE
			}
			flags := uint64(v.Flags) | unix.MAP_FIXED
			fd := ^uint64(0)
			if v.Kind == image.VMAFile {
				fd = files[v.File.Path]
			}
			what := fmt.Sprintf("map %#x-%#x %s", v.Start, v.End, v.Name)
			if err := t.do(what, unix.SYS_MMAP, v.Start, v.End-v.Start, prot, flags, fd, v.Offset); err != nil {
				return err
			}
			if name, ok := anonName(v.Name); ok {
				if err := t.nameVMA(v, name); err != nil {
					return err
				}
			}
			if err := t.advise(v); err != nil {
				return err
			}
		}
		return nil
	})
}

// madvice is the madvise call of each Advise bit.
var madvice = [...]struct {
	bit  uint32
	adv  uint64
	name string
}{
	{image.AdviseDontFork, unix.MADV_DONTFORK, "MADV_DONTFORK"},
	{image.AdviseWipeOnFork, unix.MADV_WIPEONFORK, "MADV_WIPEONFORK"},
	{image.AdviseDontDump, unix.MADV_DONTDUMP, "MADV_DONTDUMP"},
	{image.AdviseHugePage, unix.MADV_HUGEPAGE, "MADV_HUGEPAGE"},
	{image.AdviseNoHugePage, unix.MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE"},
	{image.AdviseMergeable, unix.MADV_MERGEABLE, "MADV_MERGEABLE"},
	{image.AdviseSequential, unix.MADV_SEQUENTIAL, "MADV_SEQUENTIAL"},
	{image.AdviseRandom, unix.MADV_RANDOM, "MADV_RANDOM"},
}

// advise gives a new mapping the madvise settings it had.
func (t *task) advise(v image.VMA) error {
	for _, m := range madvice {
		if v.Advice&m.bit == 0 {
			continue
		}
		what := fmt.Sprintf("%s %#x-%#x %s", m.name, v.Start, v.End, v.Name)
		if err := t.do(what, unix.SYS_MADVISE, v.Start, v.End-v.Start, m.adv); err != nil {
			return err
		}
	}
	return nil
}

func anonName(n string) (string, bool) {
	if strings.HasPrefix(n, "[anon:") && strings.HasSuffix(n, "]") {
		return n[len("[anon:") : len(n)-1], true
	}
	return "", false
}

// nameVMA restores the name of an anonymous mapping (PR_SET_VMA).
func (t *task) nameVMA(v image.VMA, name string) error {
	const prSetVMA, prSetVMAAnonName = 0x53564d41, 0
	defer t.reset()
	p, err := t.putString(name)
	if err != nil {
		return err
	}
	return t.do(fmt.Sprintf("name mapping %#x-%#x %q", v.Start, v.End, name), unix.SYS_PRCTL, prSetVMA, prSetVMAAnonName, v.Start, v.End-v.Start, p)
}

// filledVMAs marks the mappings that receive page contents.
func filledVMAs(vmas []image.VMA, runs []image.PageRun) []bool {
	filled := make([]bool, len(vmas))
	i := 0
	for _, r := range runs {
		for i < len(vmas) && vmas[i].End <= r.Addr {
			i++
		}
		for j := i; j < len(vmas) && vmas[j].Start < r.End(); j++ {
			if r.Kind == image.PageData || vmas[j].Kind == image.VMAFile {
				filled[j] = true
			}
		}
	}
	return filled
}

// protect gives the filled mappings their real protection.
func (t *task) protect(vmas []image.VMA, filled []bool) error {
	// Batched: a process may have thousands of mappings that are not
	// read-write, and one injected call each took 0.3-0.6 ms of freeze.
	return t.batched(func() error {
		for i, v := range vmas {
			if !filled[i] || v.Prot == unix.PROT_READ|unix.PROT_WRITE {
				continue
			}
			what := fmt.Sprintf("protect %#x-%#x %s", v.Start, v.End, v.Name)
			if err := t.do(what, unix.SYS_MPROTECT, v.Start, v.End-v.Start, uint64(v.Prot)); err != nil {
				return err
			}
		}
		return nil
	})
}

// pageWriters is how many goroutines copy pages into the task: the copy
// is mostly page faults in fresh memory, which run in parallel.
const pageWriters = 2

// Pages is the memory contents of one process: runs in address order and
// their bytes. A checkpoint directory's mapped page file is one (see
// Restore); live migration keeps them in memory.
type Pages interface {
	Runs() []image.PageRun
	// Run returns the verified bytes of data run i, in order, as one or
	// more buffers (nil for a zero run). It is called from several
	// goroutines.
	Run(i int) ([][]byte, error)
}

// mappedPages adapts a mapped image file.
type mappedPages struct{ *image.MappedPages }

func (m mappedPages) Run(i int) ([][]byte, error) {
	b, err := m.MappedPages.Run(i)
	if b == nil || err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}

// writePages copies the page contents into the task, each run verified
// just before, on pageWriters goroutines: the copy is mostly page
// allocation in fresh memory, which runs in parallel. Runs in the
// mappings f registered go in by UFFDIO_COPY (see filler), the rest by
// process_vm_writev. (Having the task populate its memory first with
// MADV_POPULATE_WRITE was measured slower.) Zero runs need writing only
// over file mappings (fresh anonymous memory is zero).
func (t *task) writePages(pages Pages, vmas []image.VMA, f *filler) (PageStats, error) {
	runs := pages.Runs()
	var st PageStats
	for _, r := range runs {
		if r.Kind == image.PageZero {
			st.ZeroPages += uint64(r.NPages)
		} else {
			st.DataPages += uint64(r.NPages)
		}
	}
	var filled atomic.Uint64
	err := parallel(len(runs), func(i int) error {
		n, err := t.writeRun(pages, i, runs[i], vmas, f)
		filled.Add(n)
		return err
	})
	st.FilledPages = filled.Load()
	return st, err
}

// parallel runs fn(0..n-1) on pageWriters goroutines and returns the first
// error.
func parallel(n int, fn func(i int) error) error {
	next := make(chan int)
	errs := make(chan error, pageWriters)
	for range pageWriters {
		go func() {
			var err error
			for i := range next {
				if err == nil {
					err = fn(i)
				}
			}
			errs <- err
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	var err error
	for range pageWriters {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	return err
}

var zeroRun = make([]byte, image.MaxRunPages*image.PageSize)

// writeRun writes run i and returns the pages it filled by UFFDIO_COPY.
func (t *task) writeRun(pages Pages, i int, r image.PageRun, vmas []image.VMA, f *filler) (uint64, error) {
	if r.Kind == image.PageZero {
		if !overFile(vmas, r) {
			return 0, nil
		}
		for a := r.Addr; a < r.End(); a += uint64(len(zeroRun)) {
			n := min(uint64(len(zeroRun)), r.End()-a)
			if err := linux.WriteMem(t.pid, a, zeroRun[:n]); err != nil {
				return 0, err
			}
		}
		return 0, nil
	}
	data, err := pages.Run(i)
	if err != nil {
		return 0, err
	}
	if len(f.reg) > 0 {
		return f.fillRun(t.pid, r.Addr, data)
	}
	_, err = linux.ProcessVMWritev(t.pid, data, []linux.RemoteRange{{Addr: r.Addr, Len: r.Len()}})
	return 0, err
}

func overFile(vmas []image.VMA, r image.PageRun) bool {
	for _, v := range vmas {
		if v.Kind == image.VMAFile && v.Start < r.End() && r.Addr < v.End {
			return true
		}
	}
	return false
}

// PageStats counts what a restore wrote.
type PageStats struct {
	DataPages, ZeroPages uint64
	FilledPages          uint64 // of DataPages, those filled by UFFDIO_COPY (see filler)
}
