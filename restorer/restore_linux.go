package restorer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/arch"
	"github.com/migrate-dev/migrate/internal/ptrace"
	"golang.org/x/sys/unix"
)

// Result describes a finished restore.
type Result struct {
	PID int
	PageStats
	Restart  arch.Restart // how the system call it was in (if any) resumes
	Duration time.Duration
	Steps    []StepTime // where the time went
}

// StepTime is the duration of one step of a restore.
type StepTime struct {
	What string
	Took time.Duration
}

// Restore rebuilds the process of the checkpoint in dir, in the caller's
// PID namespace, and lets it run. The process is a child of the caller.
func Restore(ctx context.Context, dir string) (Result, error) {
	start := time.Now()
	d, err := image.OpenDir(dir)
	if err != nil {
		return Result{}, err
	}
	c, err := d.Checkpoint()
	if err != nil {
		return Result{}, err
	}
	if len(c.Processes) == 0 {
		return Result{}, errors.New("image has no process")
	}
	pr, err := d.OpenPages(c.Processes[0].PID)
	if err != nil {
		return Result{}, err
	}
	defer pr.Close()
	mp, err := pr.Mapped()
	if err != nil {
		return Result{}, err
	}
	defer mp.Close()
	r, err := RestoreImage(ctx, c, mappedPages{mp}, Options{})
	if err != nil {
		return Result{}, err
	}
	r.Duration = time.Since(start)
	return r.Result, nil
}

// Options control RestoreImage.
type Options struct {
	// Stopped leaves the restored process stopped under ptrace, to be let
	// go by Commit or killed by Abort: live migration runs it only once
	// the source is gone. Until then the process dies with the tracer
	// (PTRACE_O_EXITKILL), so that a crash never leaves two copies.
	Stopped bool
}

// Restored is a process RestoreImage rebuilt.
type Restored struct {
	Result
	t *task // its tracer (t.tr) holds the process until Commit or Abort
}

// RestoreImage rebuilds the first process of c with the given memory
// contents. Without Options.Stopped the process runs when it returns.
func RestoreImage(ctx context.Context, c *image.Checkpoint, pages Pages, opt Options) (*Restored, error) {
	start := time.Now()
	if len(c.Processes) == 0 {
		return nil, errors.New("image has no process")
	}
	p := &c.Processes[0]
	if err := precheck(c, p); err != nil {
		return nil, err
	}
	if err := runsFit(p, pages.Runs()); err != nil {
		return nil, err
	}
	tr := ptrace.NewTracer()
	t0 := time.Now()
	t, err := create(tr, p)
	if err != nil {
		tr.Close()
		return nil, err
	}
	created := StepTime{"create task", time.Since(t0)}
	res, err := build(ctx, t, p, pages)
	res.Steps = append([]StepTime{created}, res.Steps...)
	if err != nil {
		t.kill()
		tr.Close()
		return nil, fmt.Errorf("restore pid %d: %w", p.PID, err)
	}
	res.PID, res.Duration = t.pid, time.Since(start)
	r := &Restored{Result: res, t: t}
	if !opt.Stopped {
		return r, r.Commit()
	}
	return r, nil
}

// Commit lets the restored process run.
func (r *Restored) Commit() error {
	defer r.t.tr.Close()
	if err := r.t.tr.Detach(r.t.pid, 0); err != nil {
		r.t.kill()
		return fmt.Errorf("start restored pid %d: %w", r.t.pid, err)
	}
	return nil
}

// Abort kills the restored process, which never ran.
func (r *Restored) Abort() {
	r.t.kill()
	r.t.tr.Close()
}

// runsFit checks that every page run lies inside one of the process's
// mappings (an image or a peer cannot make the restore write elsewhere).
func runsFit(p *image.Process, runs []image.PageRun) error {
	vmas := p.MM.VMAs
	i := 0
	for _, r := range runs {
		if r.NPages == 0 || r.Addr%image.PageSize != 0 {
			return fmt.Errorf("page run at %#x: malformed", r.Addr)
		}
		for i < len(vmas) && vmas[i].End <= r.Addr {
			i++
		}
		// A run may span adjacent mappings.
		end := r.Addr
		for j := i; j < len(vmas) && vmas[j].Start <= end && end < r.End(); j++ {
			end = vmas[j].End
		}
		if i >= len(vmas) || vmas[i].Start > r.Addr || end < r.End() {
			return fmt.Errorf("page run %#x-%#x lies outside the process's mappings", r.Addr, r.End())
		}
	}
	return nil
}

// create makes the task with the image's PID.
func create(tr *ptrace.Tracer, p *image.Process) (*task, error) {
	var stub *task
	var err error
	for _, area := range areaCandidates(p.MM.VMAs) {
		if stub, err = startStub(tr, area); !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if stub == nil {
		if err == nil {
			err = errors.New("no free address for the restore area")
		}
		return nil, err
	}
	defer stub.kill()
	return stub.cloneWithPID(int(p.PID))
}

// build turns the fresh task into the process of the image, ready to run.
func build(ctx context.Context, t *task, p *image.Process, pages Pages) (Result, error) {
	var res Result
	vmas := p.MM.VMAs
	filled := filledVMAs(vmas, pages.Runs())
	steps := []step{
		{"address space", t.prepareLayout(vmas)},
		{"mappings", func() error {
			return t.asProcess(p.Creds, func() error { return t.mapWithFiles(p.MM.VMAs, p.Creds, filled) })
		}},
		{"memory", func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			// Every mapping is new: the anonymous ones take their pages
			// by UFFDIO_COPY, and are unregistered before anything else.
			f := filler{fd: -1}
			defer f.close()
			if err := t.tr.Do(func() error { return f.open(t, vmas) }); err != nil {
				return err
			}
			var err error
			res.PageStats, err = t.writePages(pages, vmas, &f)
			return err
		}},
	}
	if err := runSteps(steps, &res.Steps); err != nil {
		return res, err
	}
	// The rest in one handoff to the tracer thread for the hundred-odd
	// injected calls (the memory step runs writers on other goroutines).
	err := t.tr.Do(func() error { return runSteps(t.finishSteps(p, filled, &res), &res.Steps) })
	return res, err
}

// prepareLayout returns the step that empties the fresh task's address
// space but for the restore area and moves vdso and vvar into place.
func (t *task) prepareLayout(vmas []image.VMA) func() error {
	return func() error {
		specials, err := t.clearLayout()
		if err != nil {
			return err
		}
		return t.placeSpecials(specials, vmas)
	}
}

// finishSteps are the steps after the memory: descriptors, protections,
// the process's state, credentials last, registers. writable marks the
// mappings that were made writable to receive pages.
func (t *task) finishSteps(p *image.Process, writable []bool, res *Result) []step {
	th := &p.Threads[0]
	return []step{
		{"files", func() error {
			// Batched, the opens too: each gets the descriptor openFDs
			// foresees (and checks).
			return t.batched(func() error {
				return t.asProcess(p.Creds, func() error {
					if err := t.openFDs(p); err != nil {
						return err
					}
					return t.chdir(p.Cwd)
				})
			})
		}},
		{"protections", func() error { return t.protect(p.MM.VMAs, writable) }},
		{"process state", func() error { return t.withExe(p, func(exe uint64) error { return t.restoreState(p, th, exe) }) }},
		{"pending signals", func() error { return t.queueSignals(p.SharedPending, th.Pending) }},
		{"credentials", func() error { return t.setCreds(p.Creds, p.NoNewPrivs) }},
		{"dumpable", func() error {
			if p.Dumpable > 1 {
				return nil
			}
			return t.prctl(unix.PR_SET_DUMPABLE, uint64(p.Dumpable))
		}},
		{"scratch area", func() error { _, err := t.call(unix.SYS_MUNMAP, t.scratch, areaSize); return err }},
		{"registers", func() error {
			var err error
			res.Restart, err = t.setRegisters(th)
			return err
		}},
	}
}

// mapWithFiles maps vmas, opening the files they map with who's identity;
// writable marks those to map writable for receiving pages.
func (t *task) mapWithFiles(vmas []image.VMA, who image.Creds, writable []bool) error {
	files, err := t.openMappedFiles(vmas, who)
	if err != nil {
		return err
	}
	err = t.mapVMAs(vmas, writable, files)
	t.closeAll(files)
	return err
}

// withExe opens the executable (as root: it only becomes the exe link,
// and the process ran it already) for fn, and closes it.
func (t *task) withExe(p *image.Process, fn func(exe uint64) error) error {
	exe, err := t.open(p.Exe.Path, unix.O_RDONLY, image.Creds{})
	if err != nil {
		return fmt.Errorf("executable: %w", err)
	}
	err = fn(exe)
	_, cerr := t.call(unix.SYS_CLOSE, exe)
	return errors.Join(err, cerr)
}

// setRegisters loads the thread's registers, FPU/AVX state and signal
// mask, with a system call it was in set to resume.
func (t *task) setRegisters(th *image.Thread) (arch.Restart, error) {
	regs, err := arch.DecodeRegs(th.Regs)
	if err != nil {
		return 0, err
	}
	how := arch.PrepareResume(&regs)
	if err := t.tr.SetRegs(t.pid, &regs); err != nil {
		return 0, err
	}
	if err := t.tr.SetXState(t.pid, th.XState); err != nil {
		return 0, fmt.Errorf("FPU/AVX state: %w", err)
	}
	return how, t.tr.SetSigmask(t.pid, th.SigBlocked)
}
