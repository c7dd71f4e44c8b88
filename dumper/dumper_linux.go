package dumper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/arch"
	"github.com/migrate-dev/migrate/internal/fileid"
	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/internal/ptrace"
	"golang.org/x/sys/unix"
)

// Options control a checkpoint.
type Options struct {
	// Kill ends the process once the image is complete; otherwise it
	// resumes.
	Kill bool
}

// Stats describe a finished checkpoint.
type Stats struct {
	PageStats
	ImageBytes int64         // bytes of page data written
	Frozen     time.Duration // from interrupt to resume (or kill)
	Total      time.Duration
	// Phases of the frozen time.
	Collect time.Duration // /proc, ptrace and injected calls
	Copy    time.Duration // reading the pages into the page file
	Sync    time.Duration // metadata, fsync, COMPLETE
}

// Checkpoint writes the state of process pid into the checkpoint
// directory dir (which must not exist or be empty). On error dir is
// removed and the process runs on as before.
func Checkpoint(ctx context.Context, pid int, dir string, opt Options) (Stats, error) {
	start := time.Now()
	if err := precheck(pid); err != nil {
		return Stats{}, err
	}
	w, err := image.CreateDir(dir)
	if err != nil {
		return Stats{}, err
	}
	st, err := checkpoint(ctx, pid, w, opt)
	if err != nil {
		os.RemoveAll(dir)
		return st, err
	}
	st.Total = time.Since(start)
	return st, nil
}

// precheck refuses, without touching the process, what cannot be dumped.
func precheck(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("pid %d: not a process id", pid)
	}
	if pid == os.Getpid() {
		return fmt.Errorf("pid %d: cannot checkpoint myself", pid)
	}
	status, err := procfs.Status(pid)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("pid %d: no such process", pid)
		}
		return fmt.Errorf("pid %d: %w", pid, err)
	}
	switch {
	case status.Tgid != pid:
		return fmt.Errorf("pid %d is a thread of process %d: give the process id", pid, status.Tgid)
	case status.State == 'Z':
		return fmt.Errorf("pid %d is a zombie", pid)
	case status.Threads > 1:
		return fmt.Errorf("pid %d has %d threads: multi-threaded processes are %w yet", pid, status.Threads, ErrNotSupported)
	case status.Seccomp != 0:
		return fmt.Errorf("pid %d: seccomp filters are %w", pid, ErrNotSupported)
	case status.TracerPid != 0:
		return fmt.Errorf("pid %d is already traced by pid %d", pid, status.TracerPid)
	}
	if kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil && len(kids) > 0 {
		return fmt.Errorf("pid %d has child processes (%s): process trees are %w yet", pid, trimSpace(kids), ErrNotSupported)
	}
	if root, err := procfs.Root(pid); err == nil && root != "/" {
		return fmt.Errorf("pid %d: chroot (%s) is %w", pid, root, ErrNotSupported)
	}
	return nil
}

// frozen is a seized and interrupted process.
type frozen struct {
	pid    int
	tr     *ptrace.Tracer
	remote *ptrace.Remote
	since  time.Time
	maps   []mapping     // the VMAs and how to save their pages
	files  *fileid.Cache // file identities, kept across a migration's rounds
	vmas   vmaCache      // mappings, kept across a migration's rounds
}

func checkpoint(ctx context.Context, pid int, w *image.DirWriter, opt Options) (st Stats, err error) {
	// Ahead of the freeze: the page file and its space.
	pf, err := w.CreatePages(int32(pid))
	if err != nil {
		return st, err
	}
	if err := pf.Reserve(estimatePages(pid)); err != nil {
		pf.Close()
		return st, err
	}
	f, err := freeze(pid)
	if err != nil {
		pf.Close()
		return st, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, f.release())
			if errors.Is(err, unix.ESRCH) || !alive(pid) {
				err = fmt.Errorf("pid %d exited during the checkpoint: %w", pid, err)
			}
		}
		if st.Frozen == 0 {
			st.Frozen = time.Since(f.since)
		}
	}()
	t0 := time.Now()
	c, _, err := f.collect(ctx, nil)
	st.Collect = time.Since(t0)
	if err != nil {
		pf.Close()
		return st, err
	}
	if testHookCollected != nil {
		if err := testHookCollected(pid); err != nil {
			pf.Close()
			return st, err
		}
	}
	t0 = time.Now()
	if err := f.savePages(ctx, pf, &st); err != nil {
		pf.Close()
		return st, err
	}
	st.Copy = time.Since(t0)
	t0 = time.Now()
	defer func() { st.Sync = time.Since(t0) }()
	if err := w.WriteCheckpoint(c); err != nil {
		return st, err
	}
	if err := w.Finish(); err != nil {
		return st, err
	}
	if opt.Kill {
		// The image is complete: the process stays stopped until it is
		// gone, but what it would have done next is in the image.
		st.Frozen = time.Since(f.since)
		return st, f.kill()
	}
	return st, f.release()
}

// testHookCollected, when set by a test, runs after the state is read and
// before pages are saved: the last point where an abort must undo the
// injected scratch mapping.
var testHookCollected func(pid int) error

func alive(pid int) bool { return unix.Kill(pid, 0) == nil }

func freeze(pid int) (*frozen, error) {
	tr := ptrace.NewTracer()
	if err := tr.Seize(pid, 0); err != nil {
		tr.Close()
		return nil, fmt.Errorf("pid %d: freeze: %w", pid, err)
	}
	f := &frozen{pid: pid, tr: tr, since: time.Now(), files: &fileid.Cache{}}
	if _, err := tr.Interrupt(pid); err != nil {
		_ = tr.Detach(pid, 0)
		tr.Close()
		return nil, fmt.Errorf("pid %d: freeze: %w", pid, err)
	}
	return f, nil
}

// release resumes the process exactly as it was and lets it go.
func (f *frozen) release() error {
	var errs []error
	if f.remote != nil {
		errs = append(errs, f.remote.Restore())
	}
	errs = append(errs, f.tr.Detach(f.pid, 0), f.tr.Close())
	return errors.Join(errs...)
}

// kill ends the process after a complete checkpoint and waits until it is
// gone (its parent reaps it).
func (f *frozen) kill() error {
	defer f.tr.Close()
	if err := unix.Kill(f.pid, unix.SIGKILL); err != nil {
		return fmt.Errorf("kill pid %d: %w", f.pid, err)
	}
	for {
		_, err := f.tr.Wait(f.pid)
		var exited *ptrace.ExitedError
		if errors.As(err, &exited) || errors.Is(err, unix.ECHILD) || errors.Is(err, unix.ESRCH) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("wait for pid %d to die: %w", f.pid, err)
		}
		_ = f.tr.Cont(f.pid, 0)
	}
}

// collect reads everything but the page contents; known, when not nil,
// are the mappings, read since the process last ran.
func (f *frozen) collect(ctx context.Context, known []mapping) (*image.Checkpoint, *image.Process, error) {
	pid := f.pid
	p := &image.Process{PID: int32(pid)}
	maps, err := readProc(pid, p, f.files, &f.vmas, known)
	if err != nil {
		return nil, nil, err
	}
	f.maps = maps
	t, err := f.readThread(pid)
	if err != nil {
		return nil, nil, err
	}
	shared, err := f.tr.PeekSiginfo(pid, true)
	if err != nil {
		return nil, nil, err
	}
	p.SharedPending = rawSiginfos(shared)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	// Injected calls last: the scratch mapping must not be in the VMA list.
	if f.remote, err = f.tr.NewRemote(pid, vdsoSyscall(pid, p.MM.VMAs)); err != nil {
		return nil, nil, fmt.Errorf("pid %d: %w", pid, err)
	}
	err = f.tr.Do(func() error { // one thread handoff for all calls
		b, err := f.remote.MapBatch(scratchSize, maxQueries)
		if err != nil {
			return fmt.Errorf("pid %d: %w", pid, err)
		}
		err = collectInjected(p, t, pid, b)
		if uerr := b.Unmap(); err == nil {
			err = uerr
		}
		return err
	})
	// Registers and signal mask back at once, not when the process is let
	// go: if this daemon dies while it holds the process, the kernel lets
	// the process go as it is.
	if rerr := f.remote.Restore(); rerr == nil {
		f.remote = nil
	} else if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, nil, err
	}
	p.Threads = []image.Thread{*t}
	c := newCheckpoint(*p)
	return c, &c.Processes[0], nil
}

// newCheckpoint returns a checkpoint of this machine, now, holding p.
func newCheckpoint(p image.Process) *image.Checkpoint {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	return &image.Checkpoint{
		Arch:            image.ArchX86_64,
		KernelRelease:   unix.ByteSliceToString(uts.Release[:]),
		CreatedUnixNano: time.Now().UnixNano(),
		Root:            p.PID,
		Processes:       []image.Process{p},
	}
}

// readThread reads the per-thread state ptrace gives.
func (f *frozen) readThread(tid int) (*image.Thread, error) {
	t := &image.Thread{TID: int32(tid)}
	regs, err := f.tr.GetRegs(tid)
	if err != nil {
		return nil, err
	}
	t.Regs = arch.EncodeRegs(&regs)
	if t.XState, err = f.tr.GetXState(tid); err != nil {
		return nil, err
	}
	if t.SigBlocked, err = f.tr.GetSigmask(tid); err != nil {
		return nil, err
	}
	pending, err := f.tr.PeekSiginfo(tid, false)
	if err != nil {
		return nil, err
	}
	t.Pending = rawSiginfos(pending)
	if rs, err := f.tr.GetRseqConfig(tid); err == nil && rs.RseqAbiPointer != 0 {
		t.Rseq = &image.Rseq{Addr: rs.RseqAbiPointer, Len: rs.RseqAbiSize, Sig: rs.Signature, Flags: rs.Flags}
	} else if err != nil {
		return nil, err
	}
	if t.Comm, err = procfs.TaskComm(f.pid, tid); err != nil {
		return nil, err
	}
	st, err := procfs.TaskStat(f.pid, tid)
	if err != nil {
		return nil, err
	}
	t.Nice = int32(st.Nice)
	return t, nil
}

// savePages writes the memory of the process into pf.
func (f *frozen) savePages(ctx context.Context, pf *image.PageFile, st *Stats) error {
	s, err := newPageSaver(f.pid)
	if err != nil {
		return err
	}
	defer s.Close()
	spans, err := s.plan(f.maps)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.copySpans(spans, pf); err != nil {
		return fmt.Errorf("save memory: %w", err)
	}
	if err := pf.Close(); err != nil {
		return err
	}
	st.PageStats = s.stats
	st.ImageBytes = int64(s.stats.DataPages) * pageSize
	return nil
}

// estimatePages is the page data a checkpoint of pid will write, from
// smaps: anonymous memory (including copied-on-write file pages) and
// shared anonymous memory. It is read before the freeze, to reserve space.
func estimatePages(pid int) int64 {
	entries, err := procfs.Smaps(pid)
	if err != nil {
		return 0
	}
	var kb uint64
	for _, e := range entries {
		if e.VMFlags.Shared() && !e.IsFile() {
			kb += e.RssKB
		} else {
			kb += e.AnonymousKB
		}
	}
	return int64(kb) << 10
}
