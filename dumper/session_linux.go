package dumper

import (
	"context"
	"fmt"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/internal/ptrace"
	"golang.org/x/sys/unix"
)

// Session is a process seized for live migration: it runs between
// pre-copy rounds and is stopped (Interrupt) only to set up dirty tracking
// and for the final state. Release leaves it exactly as it was.
type Session struct {
	f       *frozen
	stopped bool
	held    bool // a SIGSTOP is pending: see Hold
	// stoppedMaps are the mappings Mappings read last, when the process
	// was stopped and has not run nor had calls injected since: Collect
	// takes them instead of reading them again inside the freeze.
	stoppedMaps []mapping
}

// Seize checks that pid can be migrated (as Checkpoint does), seizes it
// and leaves it stopped.
func Seize(pid int) (*Session, error) {
	if err := precheck(pid); err != nil {
		return nil, err
	}
	f, err := freeze(pid)
	if err != nil {
		return nil, err
	}
	return &Session{f: f, stopped: true}, nil
}

// PID is the process.
func (s *Session) PID() int { return s.f.pid }

// Tracer is the ptrace session (for dirty tracking set-up).
func (s *Session) Tracer() *ptrace.Tracer { return s.f.tr }

// Remote returns a syscall injector into the stopped process; Resume and
// Release restore its registers.
func (s *Session) Remote() (*ptrace.Remote, error) {
	if !s.stopped {
		return nil, fmt.Errorf("pid %d is running", s.f.pid)
	}
	s.stoppedMaps = nil // injected calls may change the mappings
	if s.f.remote == nil {
		r, err := s.f.tr.NewRemote(s.f.pid, 0)
		if err != nil {
			return nil, err
		}
		s.f.remote = r
	}
	return s.f.remote, nil
}

// Resume lets the process run on, still seized.
func (s *Session) Resume() error {
	s.stoppedMaps = nil
	if !s.stopped {
		return nil
	}
	if s.f.remote != nil {
		if err := s.f.remote.Restore(); err != nil {
			return err
		}
		s.f.remote = nil
	}
	if err := s.f.tr.Cont(s.f.pid, 0); err != nil {
		return fmt.Errorf("resume pid %d: %w", s.f.pid, err)
	}
	s.stopped = false
	return nil
}

// Interrupt stops the process again.
func (s *Session) Interrupt() error {
	if s.stopped {
		return nil
	}
	if _, err := s.f.tr.Interrupt(s.f.pid); err != nil {
		return fmt.Errorf("stop pid %d: %w", s.f.pid, err)
	}
	s.stopped = true
	return nil
}

// Collect reads the complete state but the pages; the process must be
// stopped.
func (s *Session) Collect(ctx context.Context) (*image.Checkpoint, error) {
	if !s.stopped {
		return nil, fmt.Errorf("pid %d is running", s.f.pid)
	}
	c, _, err := s.f.collect(ctx, s.stoppedMaps)
	return c, err
}

// Hold makes the process's stop outlast this program: a SIGSTOP is queued
// while it is held by ptrace, so that if the tracer dies (and the kernel
// detaches the process) it stops instead of running on. Release takes the
// SIGSTOP back (with a SIGCONT, which the process receives: a no-op unless
// it handles SIGCONT).
func (s *Session) Hold() error {
	if !s.stopped {
		return fmt.Errorf("pid %d is running", s.f.pid)
	}
	if err := unix.Kill(s.f.pid, unix.SIGSTOP); err != nil {
		return fmt.Errorf("hold pid %d: kill SIGSTOP: %w", s.f.pid, err)
	}
	s.held = true
	return nil
}

// Release lets the process go, as it was.
func (s *Session) Release() error {
	if s.held {
		// Generating SIGCONT discards the pending SIGSTOP.
		if err := unix.Kill(s.f.pid, unix.SIGCONT); err != nil {
			return fmt.Errorf("unhold pid %d: kill SIGCONT: %w", s.f.pid, err)
		}
		s.held = false
	}
	if !s.stopped {
		if err := s.Interrupt(); err != nil {
			// Gone or not stoppable: detaching is all that is left.
			_ = s.f.tr.Detach(s.f.pid, 0)
			s.f.tr.Close()
			return err
		}
	}
	return s.f.release()
}

// Kill ends the process (after the destination took over).
func (s *Session) Kill() error { return s.f.kill() }

// Mappings reads the process's current mappings (it may be running). File
// identities are cached in the session, so Collect at the freeze finds
// them ready.
//
// Reading /proc/PID/maps is not atomic: the kernel fills one buffer at a
// time and looks the next mapping up from the end of the last one listed,
// so a mapping that grows or merges with its neighbour while a running
// process is read shows twice, overlapping itself. Such a list is read
// again (each read takes a fraction of a millisecond).
func (s *Session) Mappings() ([]image.VMA, error) {
	pid := s.f.pid
	var out []image.VMA
	for range maxMappingsReads {
		maps, err := s.f.vmas.mappings(pid, s.f.files)
		if err != nil {
			return nil, err
		}
		out = make([]image.VMA, len(maps))
		for i, m := range maps {
			out[i] = m.vma
		}
		if i := unordered(out); i < 0 {
			s.stoppedMaps = nil
			if s.stopped {
				s.stoppedMaps = maps
			}
			return out, nil
		}
	}
	i := unordered(out)
	return nil, fmt.Errorf("pid %d: mappings %#x-%#x and %#x-%#x overlap in %d reads of its maps: it changes them too fast",
		pid, out[i-1].Start, out[i-1].End, out[i].Start, out[i].End, maxMappingsReads)
}

// maxMappingsReads bounds the reads of a running process's mappings.
const maxMappingsReads = 20

// unordered returns the index of the first mapping that starts below the
// end of the one before it, or -1.
func unordered(vmas []image.VMA) int {
	for i := 1; i < len(vmas); i++ {
		if vmas[i].Start < vmas[i-1].End {
			return i
		}
	}
	return -1
}

// Layout returns what a destination needs to build the process before its
// state is final: PID, name, credentials and the mappings vmas (from
// Mappings). The process may be running.
func (s *Session) Layout(vmas []image.VMA) (*image.Checkpoint, error) {
	pid := s.f.pid
	status, err := procfs.Status(pid)
	if err != nil {
		return nil, err
	}
	comm, err := procfs.Comm(pid)
	if err != nil {
		return nil, err
	}
	return newCheckpoint(image.Process{PID: int32(pid), Comm: comm, Creds: credsOf(status), MM: image.MM{VMAs: vmas}}), nil
}

// OpenFiles lists the process's descriptors of regular files with their
// identities, best effort (the process runs: those that cannot be read
// are left out). Pre-copy layouts carry them so that both ends compute
// the identities before the freeze, where each is then a stat: a 512 MiB
// file open took 426 ms of the source's freeze to hash, and as long again
// on the destination.
func (s *Session) OpenFiles() []image.FD {
	pid := s.f.pid
	fds, err := procfs.FDs(pid)
	if err != nil {
		return nil
	}
	var out []image.FD
	for _, fd := range fds {
		// As the frozen state read will describe it, so that the same
		// files are hashed into the same cache.
		if f, err := describeFD(pid, fd, s.f.files); err == nil && f.File != nil {
			out = append(out, f)
		}
	}
	return out
}

// Span is a page-aligned range of memory to copy.
type Span struct {
	Start, End uint64
	Readable   bool // by the process itself (else read through /proc/PID/mem)
}

// MemReader copies memory of a (running or stopped) process into a
// PageSink, reading and sending on two goroutines.
type MemReader struct{ s *pageSaver }

// NewMemReader opens pid's memory.
func NewMemReader(pid int) (*MemReader, error) {
	s, err := newPageSaver(pid)
	if err != nil {
		return nil, err
	}
	return &MemReader{s: s}, nil
}

// Close releases the reader.
func (m *MemReader) Close() { m.s.Close() }

// Stats counts what the reader copied so far.
func (m *MemReader) Stats() PageStats { return m.s.stats }

// Present lists the pages of the given mappings that carry state (present
// pages of private memory that are not the file's own; all of shared
// anonymous memory).
func (m *MemReader) Present(vmas []image.VMA) ([]Span, error) {
	maps := make([]mapping, len(vmas))
	for i, v := range vmas {
		maps[i] = mapping{vma: v, content: policyOf(v)}
	}
	spans, err := m.s.plan(maps)
	if err != nil {
		return nil, err
	}
	out := make([]Span, len(spans))
	for i, sp := range spans {
		out[i] = Span{sp.start, sp.end, sp.readable}
	}
	return out, nil
}

// SetTolerant makes Copy leave out pages that fault instead of failing
// (see Skipped): for reading a running process, whose mappings change
// under the reader.
func (m *MemReader) SetTolerant(on bool) { m.s.tolerant = on }

// Skipped returns the pages that Copy left out since the last call (only
// a tolerant reader leaves pages out), and forgets them.
func (m *MemReader) Skipped() []Span {
	out := make([]Span, len(m.s.skipped))
	for i, sp := range m.s.skipped {
		out[i] = Span{sp.start, sp.end, sp.readable}
	}
	m.s.skipped = m.s.skipped[:0]
	return out
}

// Copy reads the spans into sink, in order.
func (m *MemReader) Copy(spans []Span, sink PageSink) error {
	in := make([]span, len(spans))
	for i, sp := range spans {
		in[i] = span{sp.Start, sp.End, sp.Readable}
	}
	return m.s.copySpans(in, sink)
}

func policyOf(v image.VMA) contentPolicy {
	switch {
	case !v.CarriesPages():
		return contentNone
	case v.Flags&image.MapShared != 0:
		return contentAllShared
	}
	return contentPrivate
}
