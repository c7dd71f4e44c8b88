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
	p := &c.Processes[0]
	if err := precheck(c, p); err != nil {
		return Result{}, err
	}
	pm, err := d.PageMap(p.PID)
	if err != nil {
		return Result{}, err
	}
	pr, err := d.OpenPages(p.PID)
	if err != nil {
		return Result{}, err
	}
	defer pr.Close()
	tr := ptrace.NewTracer()
	defer tr.Close()
	t0 := time.Now()
	t, err := create(tr, p)
	if err != nil {
		return Result{}, err
	}
	created := StepTime{"create task", time.Since(t0)}
	res, err := build(ctx, t, p, pm, pr)
	res.Steps = append([]StepTime{created}, res.Steps...)
	if err != nil {
		t.kill()
		return Result{}, fmt.Errorf("restore pid %d: %w", p.PID, err)
	}
	res.PID, res.Duration = t.pid, time.Since(start)
	return res, nil
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

// build turns the fresh task into the process of the image and resumes it.
func build(ctx context.Context, t *task, p *image.Process, pm *image.PageMap, pr *image.PageReader) (Result, error) {
	var res Result
	th := &p.Threads[0]
	vmas := p.MM.VMAs
	filled := filledVMAs(vmas, pm)
	steps := []step{
		{"address space", func() error {
			specials, err := t.clearLayout()
			if err != nil {
				return err
			}
			return t.placeSpecials(specials, vmas)
		}},
		{"mappings and files", func() error { return t.asProcess(p.Creds, func() error { return t.mapAndOpen(p, filled) }) }},
		{"memory", func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var err error
			res.PageStats, err = t.writePages(pr, vmas)
			return err
		}},
		{"protections", func() error { return t.protect(vmas, filled) }},
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
	for _, s := range steps {
		t0 := time.Now()
		if err := s.fn(); err != nil {
			return res, fmt.Errorf("restore %s: %w", s.what, err)
		}
		res.Steps = append(res.Steps, StepTime{s.what, time.Since(t0)})
	}
	return res, t.tr.Detach(t.pid, 0)
}

// mapAndOpen maps every mapping and opens every descriptor; it runs with
// the process's own filesystem identity.
func (t *task) mapAndOpen(p *image.Process, filled []bool) error {
	files, err := t.openMappedFiles(p)
	if err != nil {
		return err
	}
	err = t.mapVMAs(p.MM.VMAs, filled, files)
	t.closeAll(files)
	if err != nil {
		return err
	}
	if err := t.openFDs(p); err != nil {
		return err
	}
	return t.chdir(p.Cwd)
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
