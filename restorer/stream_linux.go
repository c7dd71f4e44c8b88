package restorer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/fileid"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/internal/ptrace"
	"github.com/migrate-dev/migrate/internal/ranges"
	"golang.org/x/sys/unix"
)

// Stream builds a process while its source still runs, for live
// migration: BeginStream creates the task with the source's PID and its
// mappings from the first round's layout; each later round's layout is
// applied with Update; page batches are written straight into the task
// with process_vm_writev as they arrive (WriteBatch); at the freeze,
// Finish applies the rest of the checkpoint and returns the process
// stopped, to be committed or aborted like RestoreImage's. So the freeze
// pays for the last dirty pages and the non-memory state only, whatever
// the size of the process.
//
// From BeginStream on the task dies with the tracer (PTRACE_O_EXITKILL):
// a crash of the caller never leaves a half-built process.
//
// Layouts come from the source and are checked like an image: sorted,
// page-aligned mappings clear of the restore area, files that are the
// same here and that the process's own identity may open. Pages may only
// be written into mappings of the current layout that take contents.
//
// A Stream is not safe for concurrent use.
type Stream struct {
	t      *task       // its tracer (t.tr) drives every call
	vmas   []image.VMA // the current layout
	opened []bool      // vmas[i] was made writable to receive pages
	// zeroed marks the anonymous mappings created by the current round's
	// layout: a zero page sent for them needs no write.
	zeroed []bool
	creds  image.Creds // filesystem identity the mapped files were opened with
	// recheck is set when files were opened with more than one identity:
	// Finish checks them all against the final one.
	recheck bool
	files   *fileid.Cache
	fill    filler // the current round's mappings that take pages by UFFDIO_COPY
	stats   PageStats
	round   uint32

	local  [][]byte
	remote []linux.RemoteRange
	done   bool
}

// maxPendingWrites bounds the buffers WriteBatch gathers into one
// process_vm_writev.
const maxPendingWrites = 1024

// BeginStream creates the process of layout (a checkpoint with one process
// whose PID, Comm, Creds and MM.VMAs are set; the rest is ignored) with
// every mapping in place and no contents yet.
func BeginStream(ctx context.Context, layout *image.Checkpoint) (*Stream, error) {
	p, err := layoutProcess(layout)
	if err != nil {
		return nil, err
	}
	if comm, err := procfs.Comm(int(p.PID)); err == nil {
		return nil, fmt.Errorf("pid %d is in use (by %q)", p.PID, comm)
	}
	s := &Stream{files: &fileid.Cache{}, creds: p.Creds, fill: filler{fd: -1}}
	for _, check := range []func() error{
		func() error { return checkAuthority(p) },
		func() error { return checkSpecials(p) },
		func() error { return checkMappedFiles(s.files, p.MM.VMAs) },
	} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tr := ptrace.NewTracer()
	if s.t, err = create(tr, p); err != nil {
		tr.Close()
		return nil, err
	}
	// The task has PTRACE_O_EXITKILL from the stub (see clone3).
	err = s.t.tr.Do(func() error {
		if err := s.t.prepareLayout(p.MM.VMAs)(); err != nil {
			return err
		}
		return s.apply(p.MM.VMAs, nil, true, p.Creds)
	})
	if err != nil {
		s.Abort()
		return nil, fmt.Errorf("restore pid %d: %w", p.PID, err)
	}
	s.warmFiles(p.FDs)
	s.round = 1
	return s, nil
}

// layoutProcess checks a layout's shape and returns its process.
func layoutProcess(c *image.Checkpoint) (*image.Process, error) {
	if c.Arch != image.ArchX86_64 {
		return nil, fmt.Errorf("process is from %s, this machine is x86_64", c.Arch)
	}
	if len(c.Processes) != 1 {
		return nil, fmt.Errorf("layout has %d processes: only one is supported yet", len(c.Processes))
	}
	p := &c.Processes[0]
	if p.PID <= 0 {
		return nil, fmt.Errorf("layout: bad pid %d", p.PID)
	}
	if err := image.ValidateVMAs(p.PID, p.MM.VMAs); err != nil {
		return nil, err
	}
	return p, nil
}

// PID is the process's PID.
func (s *Stream) PID() int { return s.t.pid }

// Stats counts the pages written so far.
func (s *Stream) Stats() PageStats { return s.stats }

// warmFiles computes the identities of the regular files a layout says
// the process has open, into the cache the freeze's check uses, so that
// there each is a stat. Best effort: what the freeze checks is the final
// state's descriptors, and a file that cannot be identified now is
// reported then.
func (s *Stream) warmFiles(fds []image.FD) {
	for _, f := range fds {
		if f.File != nil && f.File.Mode&unix.S_IFMT == unix.S_IFREG && filepath.IsAbs(f.File.Path) {
			_, _ = s.files.Of(f.File.Path)
		}
	}
}

// RoundDone gives the mappings made writable to receive the round's pages
// their own protection back, in one batch, so that the frozen round
// restores only those it opens again itself (a read-only mapping takes
// pages again only if the process makes it writable, which is a new
// mapping). Called between rounds, it keeps that work out of the freeze:
// with 2500 read-only mappings it was 13-22 ms of it. After an error the
// task may be half changed: Abort the Stream.
func (s *Stream) RoundDone() error {
	if err := s.flush(); err != nil {
		return err
	}
	s.fill.close()
	return s.t.tr.Do(func() error {
		if err := s.t.protect(s.vmas, s.opened); err != nil {
			return fmt.Errorf("round %d: %w", s.round, err)
		}
		clear(s.opened)
		return nil
	})
}

// Update applies the layout of the next round: mappings that are gone are
// unmapped; those overlapping fresh (the ranges the source found new or
// changed since the previous layout, whose present pages it sends in this
// round) are mapped anew, empty; every other mapping must be unchanged.
// After an error the task may be half changed: Abort the Stream.
func (s *Stream) Update(layout *image.Checkpoint, fresh []Range) error {
	if err := s.flush(); err != nil {
		return err
	}
	p, err := layoutProcess(layout)
	if err != nil {
		return err
	}
	if int(p.PID) != s.t.pid {
		return fmt.Errorf("layout of pid %d for pid %d", p.PID, s.t.pid)
	}
	if err := s.t.tr.Do(func() error { return s.apply(p.MM.VMAs, fresh, false, p.Creds) }); err != nil {
		return fmt.Errorf("round %d layout: %w", s.round+1, err)
	}
	s.warmFiles(p.FDs)
	s.round++
	return nil
}

// apply moves the task from s.vmas to vmas. With all, every mapping is
// new.
func (s *Stream) apply(vmas []image.VMA, fresh []Range, all bool, creds image.Creds) error {
	area := image.VMA{Start: s.t.scratch, End: s.t.scratch + areaSize}
	var made []image.VMA
	opened, zeroed := make([]bool, len(vmas)), make([]bool, len(vmas))
	fresh = ranges.Normalize(fresh)
	for i, v := range vmas {
		if v.Start < area.End && area.Start < v.End {
			return fmt.Errorf("mapping %#x-%#x takes the restore area at %#x: not supported during pre-copy", v.Start, v.End, area.Start)
		}
		if v.Kind.Special() {
			if !all && sameIn(s.vmas, v) < 0 {
				return fmt.Errorf("%s moved to %#x during pre-copy: not supported", v.Kind, v.Start)
			}
			continue
		}
		if all || overlapsAny(fresh, v) {
			made = append(made, v)
			zeroed[i] = v.Kind != image.VMAFile
			continue
		}
		j := sameIn(s.vmas, v)
		if j < 0 {
			return fmt.Errorf("mapping %#x-%#x %s changed but is not sent anew", v.Start, v.End, v.Name)
		}
		opened[i] = s.opened[j]
	}
	// Checks first: nothing is unmapped for a layout that is refused.
	if err := checkMappedFiles(s.files, made); err != nil {
		return err
	}
	for _, v := range s.vmas {
		if v.Kind.Special() {
			continue
		}
		for _, gone := range uncovered(v, vmas) {
			if _, err := s.t.call(unix.SYS_MUNMAP, gone.Start, gone.End-gone.Start); err != nil {
				return fmt.Errorf("unmap %#x-%#x: %w", gone.Start, gone.End, err)
			}
		}
	}
	if hasFiles(made) && !sameFS(creds, s.creds) {
		s.recheck = true
	}
	switch {
	case hasFiles(made): // files are opened with the process's identity
		err := s.t.asProcess(creds, func() error { return s.t.mapWithFiles(made, creds, make([]bool, len(made))) })
		if err != nil {
			return err
		}
	case len(made) > 0:
		if err := s.t.mapVMAs(made, make([]bool, len(made)), nil); err != nil {
			return err
		}
	}
	s.vmas, s.opened, s.zeroed = vmas, opened, zeroed
	return s.fill.open(s.t, made)
}

// Range is a page-aligned address range [Start, End).
type Range = ranges.Range

// overlapsAny reports whether v overlaps a range of rs (sorted and
// disjoint, as ranges.Normalize returns them): the last range that starts
// before v ends is the only one that can reach v.
func overlapsAny(rs []Range, v image.VMA) bool {
	n, _ := slices.BinarySearchFunc(rs, v.End, func(r Range, end uint64) int { return cmp.Compare(r.Start, end) })
	return n > 0 && rs[n-1].End > v.Start
}

// sameIn returns the index of the mapping of vmas (a valid layout:
// sorted, not overlapping) that is the same as v, or -1.
func sameIn(vmas []image.VMA, v image.VMA) int {
	if i := findVMA(vmas, v.Start); i >= 0 && vmas[i].Same(v) {
		return i
	}
	return -1
}

// uncovered returns the parts of v that no mapping of vmas (a valid
// layout: sorted, not overlapping) covers.
func uncovered(v image.VMA, vmas []image.VMA) []Range {
	var out []Range
	at := v.Start
	// The first mapping that ends after v starts, then on while they
	// start before v ends.
	for _, w := range vmas[spanAfter(vmas, v.Start, vmaEnd):] {
		if w.Start >= v.End {
			break
		}
		if w.Start > at {
			out = append(out, Range{Start: at, End: w.Start})
		}
		at = max(at, w.End)
	}
	if at < v.End {
		out = append(out, Range{Start: at, End: v.End})
	}
	return out
}

func hasFiles(vmas []image.VMA) bool {
	return slices.ContainsFunc(vmas, func(v image.VMA) bool { return v.Kind == image.VMAFile })
}

// sameFS reports whether two identities open files alike.
func sameFS(a, b image.Creds) bool {
	return a.FSUID == b.FSUID && a.FSGID == b.FSGID && slices.Equal(a.Groups, b.Groups)
}

// WriteBatch writes one batch of pages: each is the batch's iterator (its
// runs in address order; data valid until WriteBatch returns).
func (s *Stream) WriteBatch(each func(fn func(addr uint64, data []byte, zero bool, npages uint64) error) error) error {
	// Batched: the mappings a batch opens (read-only ones taking pages)
	// go in one injected batch, not one call each (2500 of them took
	// 0.75 s of pre-copy).
	err := s.t.batched(func() error { return each(s.writeRun) })
	if err != nil {
		// The queued writes point into the batch, which is not ours past
		// this call.
		clear(s.local)
		s.local, s.remote = s.local[:0], s.remote[:0]
		return err
	}
	return s.flush()
}

// writeRun takes one run of a batch: queued, written by flush.
func (s *Stream) writeRun(addr uint64, data []byte, zero bool, npages uint64) error {
	if npages == 0 || npages > (^uint64(0)-addr)/image.PageSize || addr%image.PageSize != 0 {
		return fmt.Errorf("page run at %#x (%d pages): malformed", addr, npages)
	}
	if zero {
		return s.zero(addr, npages)
	}
	if uint64(len(data)) != npages*image.PageSize {
		return fmt.Errorf("page run at %#x: %d bytes for %d pages", addr, len(data), npages)
	}
	if err := s.receiving(addr, addr+npages*image.PageSize); err != nil {
		return err
	}
	s.stats.DataPages += npages
	filled, err := s.put(addr, data)
	s.stats.FilledPages += filled
	return err
}

// zero writes zero pages, except where the mapping was created empty in
// this round.
func (s *Stream) zero(addr, npages uint64) error {
	end := addr + npages*image.PageSize
	if err := s.receiving(addr, end); err != nil {
		return err
	}
	s.stats.ZeroPages += npages
	for a := addr; a < end; {
		i := findVMA(s.vmas, a)
		v := s.vmas[i]
		stop := min(end, v.End)
		if !s.zeroed[i] {
			for b := a; b < stop; b += uint64(len(zeroRun)) {
				if err := s.queue(b, zeroRun[:min(uint64(len(zeroRun)), stop-b)]); err != nil {
					return err
				}
			}
		}
		a = stop
	}
	return nil
}

// receiving checks that [start, end) lies in mappings that take contents
// and makes those writable.
func (s *Stream) receiving(start, end uint64) error {
	for a := start; a < end; {
		i := findVMA(s.vmas, a)
		if i < 0 {
			return fmt.Errorf("page %#x lies outside the process's mappings", a)
		}
		v := s.vmas[i]
		if !v.CarriesPages() {
			return fmt.Errorf("page %#x: mapping %#x-%#x %s does not take page contents", a, v.Start, v.End, v.Name)
		}
		if !s.opened[i] && v.Prot&image.ProtWrite == 0 {
			// Queued (WriteBatch batches them); flush runs the queue
			// before any page is written.
			prot := uint64(v.Prot) | unix.PROT_READ | unix.PROT_WRITE
			what := fmt.Sprintf("make %#x-%#x %s writable", v.Start, v.End, v.Name)
			if err := s.t.do(what, unix.SYS_MPROTECT, v.Start, v.End-v.Start, prot); err != nil {
				return err
			}
			s.opened[i] = true
		}
		a = v.End
	}
	return nil
}

// findVMA returns the index of the mapping holding addr, or -1.
func findVMA(vmas []image.VMA, addr uint64) int {
	if i := spanAfter(vmas, addr, vmaEnd); i < len(vmas) && vmas[i].Start <= addr {
		return i
	}
	return -1
}

func vmaEnd(v image.VMA) uint64 { return v.End }

// spanAfter returns the index of the first span of xs (sorted, not
// overlapping) that ends after addr, or len(xs): the one holding addr if
// any holds it, else the next one.
func spanAfter[T any](xs []T, addr uint64, end func(T) uint64) int {
	i, _ := slices.BinarySearchFunc(xs, addr, func(x T, a uint64) int {
		if end(x) <= a {
			return -1
		}
		return 1
	})
	return i
}

func (s *Stream) queue(addr uint64, data []byte) error {
	s.local = append(s.local, data)
	s.remote = append(s.remote, linux.RemoteRange{Addr: addr, Len: uint64(len(data))})
	if len(s.local) >= maxPendingWrites {
		return s.flush()
	}
	return nil
}

func (s *Stream) flush() error {
	if err := s.t.flush(); err != nil { // the mappings opened for these writes
		clear(s.local)
		s.local, s.remote = s.local[:0], s.remote[:0]
		return err
	}
	if len(s.local) == 0 {
		return nil
	}
	_, err := linux.ProcessVMWritev(s.t.pid, s.local, s.remote)
	clear(s.local)
	s.local, s.remote = s.local[:0], s.remote[:0]
	return err
}

// Finish applies the frozen state c (whose mappings must be the current
// layout) and returns the process rebuilt and stopped. The Stream is used
// up: on error the process is gone.
func (s *Stream) Finish(ctx context.Context, c *image.Checkpoint) (*Restored, error) {
	start := time.Now()
	r, err := s.finish(ctx, c)
	if err != nil {
		s.Abort()
		return nil, fmt.Errorf("restore pid %d: %w", s.t.pid, err)
	}
	s.done = true
	r.Duration = time.Since(start)
	return r, nil
}

func (s *Stream) finish(ctx context.Context, c *image.Checkpoint) (*Restored, error) {
	if s.done {
		return nil, errors.New("stream already finished")
	}
	t0 := time.Now()
	if err := s.flush(); err != nil {
		return nil, err
	}
	s.fill.close() // before anything runs in the task: see filler
	res := Result{PID: s.t.pid, PageStats: s.stats, Steps: []StepTime{{"last writes", time.Since(t0)}}}
	t0 = time.Now()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &c.Processes[0] // Validate: there is one
	if err := checkShape("state", c, p); err != nil {
		return nil, err
	}
	if int(p.PID) != s.t.pid {
		return nil, fmt.Errorf("state of pid %d for pid %d", p.PID, s.t.pid)
	}
	if !slices.EqualFunc(p.MM.VMAs, s.vmas, image.VMA.Same) {
		return nil, fmt.Errorf("the frozen state's mappings differ from the last layout: %s", vmaDiff(p.MM.VMAs, s.vmas))
	}
	for _, check := range []func() error{
		func() error { return checkAuthority(p) },
		func() error { return checkRlimits(p) },
		func() error { return checkFiles(s.files, p) }, // mappings: a stat each, cached
		ctx.Err,
	} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	res.Steps = append(res.Steps, StepTime{"checks", time.Since(t0)})
	var steps []step
	if s.recheck || (hasFiles(p.MM.VMAs) && !sameFS(p.Creds, s.creds)) {
		// Mapped with another identity than the final one: that one must
		// be allowed to open them too.
		steps = append(steps, step{"mapped files", func() error {
			return s.t.asProcess(p.Creds, func() error {
				files, err := s.t.openMappedFiles(p.MM.VMAs, p.Creds)
				s.t.closeAll(files)
				return err
			})
		}})
	}
	steps = append(steps, s.t.finishSteps(p, s.opened, &res)...)
	// One handoff to the tracer thread for the hundred-odd injected calls.
	if err := s.t.tr.Do(func() error { return runSteps(steps, &res.Steps) }); err != nil {
		return nil, err
	}
	return &Restored{Result: res, t: s.t}, nil
}

// Abort kills the process being built. It does nothing after Finish
// succeeded (the Restored owns the process then).
func (s *Stream) Abort() {
	if s.done {
		return
	}
	s.done = true
	s.fill.close()
	s.t.kill()
	s.t.tr.Close()
}

// vmaDiff names the first mapping where two lists differ.
func vmaDiff(state, layout []image.VMA) string {
	show := func(vs []image.VMA, i int) string {
		if i >= len(vs) {
			return "none"
		}
		v := vs[i]
		return fmt.Sprintf("%#x-%#x prot %#x flags %#x %s", v.Start, v.End, v.Prot, v.Flags, v.Name)
	}
	i := 0
	for i < len(state) && i < len(layout) && state[i].Same(layout[i]) {
		i++
	}
	return fmt.Sprintf("mapping %d is %s in the state, %s in the layout (%d and %d mappings)",
		i, show(state, i), show(layout, i), len(state), len(layout))
}
