package restorer

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/ptrace"
	"golang.org/x/sys/unix"
)

// The first copy of a page into a mapping a round creates goes in with
// UFFDIO_COPY, not process_vm_writev: the kernel allocates the page and
// copies into it, where process_vm_writev takes a fault, clears the new
// page and then copies (BenchmarkStageUffdCopy: 0.7x the CPU of
// BenchmarkStageWritev/fresh). On the destination of a migration that is
// the largest cost the page stream adds to bare QUIC.
//
// The userfaultfd is made in the task (it acts on the memory of the
// process that creates it), taken into ours and closed there at once, so
// the task's descriptor table is as it was. It asks for SIGBUS mode: a
// missing page of a registered mapping that anything else touches (an
// injected system call, a process_vm_writev) fails at once with EFAULT
// instead of waiting for a handler that is not reading. Each round's
// mappings are registered when they are made, and the userfaultfd is
// closed, which unregisters them all, when the round ends (RoundDone),
// before the frozen state is applied (Finish), and on Abort: the process
// never runs with a registration.

// minFill is the smallest mapping filled with UFFDIO_COPY: for smaller
// ones registering costs about what it saves.
const minFill = 64 << 10

// filler fills pages into the registered mappings of the current round.
type filler struct {
	fd  int     // the task's userfaultfd, or -1
	reg []Range // registered, in address order
}

// fillable reports whether v may be registered: private anonymous memory
// (the heap and the stack are) that takes pages and is large enough.
func fillable(v image.VMA) bool {
	switch v.Kind {
	case image.VMAAnon, image.VMAHeap, image.VMAStack:
	default:
		return false
	}
	return v.Flags&image.MapShared == 0 && v.CarriesPages() && v.End-v.Start >= minFill
}

// open registers the fillable mappings of made (new, empty mappings),
// making the userfaultfd first, after closing any earlier one (the
// round before ended in RoundDone, which closed it; after an error the
// Stream is aborted, which closes it too). It runs on the tracer's thread. Without a
// userfaultfd the pages are written as before; only a descriptor it cannot
// close again in the task is an error.
func (f *filler) open(t *task, made []image.VMA) error {
	f.close()
	want := slices.ContainsFunc(made, fillable)
	if !want {
		return nil
	}
	fd, err := ptrace.TakeNewFD(t.pid, t.call, "userfaultfd", unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK)
	if errors.Is(err, ptrace.ErrLeftInTracee) {
		return err
	}
	if err != nil {
		slog.Debug("restore: no userfaultfd, pages are written", "pid", t.pid, "err", err)
		return nil
	}
	if _, err := linux.UffdAPI(fd, linux.UFFD_FEATURE_SIGBUS); err != nil {
		unix.Close(fd)
		slog.Debug("restore: userfaultfd without SIGBUS mode, pages are written", "pid", t.pid, "err", err)
		return nil
	}
	f.fd = fd
	for _, v := range made {
		if !fillable(v) {
			continue
		}
		if _, err := linux.UffdRegisterMissing(fd, v.Start, v.End-v.Start); err != nil {
			// Registration is all or nothing for one mapping: this one
			// takes its pages by process_vm_writev.
			slog.Debug("restore: mapping not registered, its pages are written", "pid", t.pid, "err", err)
			continue
		}
		f.reg = append(f.reg, Range{Start: v.Start, End: v.End})
	}
	return nil
}

// close closes the userfaultfd, which unregisters every mapping.
func (f *filler) close() {
	if f.fd >= 0 {
		unix.Close(f.fd)
	}
	f.fd, f.reg = -1, f.reg[:0]
}

// fillRun writes data (the slices follow each other) at addr: the parts
// in registered mappings with UFFDIO_COPY, the rest, and any page already
// present there, with process_vm_writev. It returns the pages filled.
func (f *filler) fillRun(pid int, addr uint64, data [][]byte) (uint64, error) {
	write := func(a uint64, b []byte) error {
		_, err := linux.ProcessVMWritev(pid, [][]byte{b}, []linux.RemoteRange{{Addr: a, Len: uint64(len(b))}})
		return err
	}
	var filled uint64
	for _, d := range data {
		n, err := f.split(addr, d, write)
		filled += n
		if err != nil {
			return filled, fmt.Errorf("pid %d: %w", pid, err)
		}
		addr += uint64(len(d))
	}
	return filled, nil
}

// split writes data at addr: the parts in registered mappings with
// UFFDIO_COPY, the rest, and any page already present there (which a
// source sending a page twice in a round would make), with plain. It
// returns the pages filled.
func (f *filler) split(addr uint64, data []byte, plain func(addr uint64, b []byte) error) (uint64, error) {
	var filled uint64
	end := addr + uint64(len(data))
	for a := addr; a < end; {
		chunk := data[a-addr:]
		i := spanAfter(f.reg, a, func(r Range) uint64 { return r.End })
		if i == len(f.reg) || f.reg[i].Start > a {
			// Up to the next registered range, if it starts in the run.
			stop := end
			if i < len(f.reg) {
				stop = min(stop, f.reg[i].Start)
			}
			if err := plain(a, chunk[:stop-a]); err != nil {
				return filled, err
			}
			a = stop
			continue
		}
		stop := min(end, f.reg[i].End)
		n, err := linux.UffdCopy(f.fd, a, chunk[:stop-a])
		filled += n / image.PageSize
		a += n
		switch {
		case err == nil:
		case errors.Is(err, unix.EEXIST):
			if err := plain(a, chunk[n:n+image.PageSize]); err != nil {
				return filled, err
			}
			a += image.PageSize
		default:
			return filled, err
		}
	}
	return filled, nil
}

// put writes one run of pages of a batch: see split; the plain writes
// are queued for one process_vm_writev per batch.
func (s *Stream) put(addr uint64, data []byte) (uint64, error) {
	n, err := s.fill.split(addr, data, s.queue)
	if err != nil {
		err = fmt.Errorf("pid %d: %w", s.t.pid, err)
	}
	return n, err
}
