package dumper

import (
	"encoding/binary"
	"fmt"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// injector runs system calls inside the stopped process, as the process.
type injector interface {
	Syscall(nr uintptr, args ...uint64) (uint64, error)
}

// scratchSize holds the largest answer we ask for: a full LDT (8192
// descriptors of 8 bytes) plus room for small structs.
const scratchSize = 72 << 10

// scratch is a private mapping injected into the process to receive the
// answers of injected calls. It must be unmapped before the process runs.
type scratch struct {
	pid  int
	in   injector
	addr uint64
}

func newScratch(pid int, in injector) (*scratch, error) {
	addr, err := in.Syscall(unix.SYS_MMAP, 0, scratchSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return nil, fmt.Errorf("map scratch memory in pid %d: %w", pid, err)
	}
	return &scratch{pid: pid, in: in, addr: addr}, nil
}

func (s *scratch) unmap() error {
	if _, err := s.in.Syscall(unix.SYS_MUNMAP, s.addr, scratchSize); err != nil {
		return fmt.Errorf("unmap scratch memory in pid %d: %w", s.pid, err)
	}
	return nil
}

// read copies n bytes at offset off of the scratch area.
func (s *scratch) read(off, n uint64) ([]byte, error) {
	b := make([]byte, n)
	return b, linux.ReadMem(s.pid, s.addr+off, b)
}

// words reads n little-endian 64-bit words at offset off.
func (s *scratch) words(off uint64, n int) ([]uint64, error) {
	b, err := s.read(off, uint64(n*8))
	if err != nil {
		return nil, err
	}
	w := make([]uint64, n)
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[i*8:])
	}
	return w, nil
}

// collectInjected reads the per-process and per-thread state that only
// the process itself can read, by injected system calls.
func collectInjected(p *image.Process, t *image.Thread, s *scratch) error {
	for _, step := range []struct {
		what string
		fn   func() error
	}{
		{"sigactions", func() error { return readSigactions(p, s) }},
		{"sigaltstack", func() error { return readAltstack(t, s) }},
		{"robust list", func() error { return readRobustList(t, s) }},
		{"clear_child_tid", func() error { return readTIDAddress(t, s) }},
		{"itimers", func() error { return readITimers(p, s) }},
		{"ldt", func() error { return readLDT(p, s) }},
		{"umask", func() error { return readUmask(p, s) }},
		{"brk", func() error { return readBrk(p, s) }},
		{"prctl state", func() error { return readPrctls(p, s) }},
	} {
		if err := step.fn(); err != nil {
			return fmt.Errorf("read %s of pid %d: %w", step.what, s.pid, err)
		}
	}
	return nil
}

func readSigactions(p *image.Process, s *scratch) error {
	p.SigActions = make([]image.SigAction, image.MaxSignals)
	for sig := 1; sig <= image.MaxSignals; sig++ {
		if _, err := s.in.Syscall(unix.SYS_RT_SIGACTION, uint64(sig), 0, s.addr, 8); err != nil {
			return fmt.Errorf("signal %d: %w", sig, err)
		}
		w, err := s.words(0, 4)
		if err != nil {
			return err
		}
		p.SigActions[sig-1] = image.SigAction{Handler: w[0], Flags: w[1], Restorer: w[2], Mask: w[3]}
	}
	return nil
}

func readAltstack(t *image.Thread, s *scratch) error {
	if _, err := s.in.Syscall(unix.SYS_SIGALTSTACK, 0, s.addr); err != nil {
		return err
	}
	w, err := s.words(0, 3)
	if err != nil {
		return err
	}
	t.Altstack = image.Altstack{SP: w[0], Flags: uint32(w[1]), Size: w[2]}
	return nil
}

func readRobustList(t *image.Thread, s *scratch) error {
	if _, err := s.in.Syscall(unix.SYS_GET_ROBUST_LIST, 0, s.addr, s.addr+8); err != nil {
		return err
	}
	w, err := s.words(0, 2)
	if err != nil {
		return err
	}
	t.RobustList, t.RobustListLen = w[0], w[1]
	return nil
}

func readTIDAddress(t *image.Thread, s *scratch) error {
	if _, err := s.in.Syscall(unix.SYS_PRCTL, unix.PR_GET_TID_ADDRESS, s.addr); err != nil {
		return err
	}
	w, err := s.words(0, 1)
	if err != nil {
		return err
	}
	t.ClearChildTID = w[0]
	return nil
}

func readITimers(p *image.Process, s *scratch) error {
	for which := range 3 {
		if _, err := s.in.Syscall(unix.SYS_GETITIMER, uint64(which), s.addr); err != nil {
			return err
		}
		w, err := s.words(0, 4) // struct itimerval: interval{sec,usec}, value{sec,usec}
		if err != nil {
			return err
		}
		p.ITimers[which] = image.ITimer{
			IntervalNS: int64(w[0])*1e9 + int64(w[1])*1e3,
			ValueNS:    int64(w[2])*1e9 + int64(w[3])*1e3,
		}
	}
	return nil
}

func readLDT(p *image.Process, s *scratch) error {
	n, err := s.in.Syscall(unix.SYS_MODIFY_LDT, 0, s.addr, 8192*8)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	b, err := s.read(0, n)
	if err != nil {
		return err
	}
	p.LDT = b
	return nil
}

func readUmask(p *image.Process, s *scratch) error {
	old, err := s.in.Syscall(unix.SYS_UMASK, 0o22)
	if err != nil {
		return err
	}
	if _, err := s.in.Syscall(unix.SYS_UMASK, old); err != nil {
		return err
	}
	p.Umask = uint32(old)
	return nil
}

// readBrk asks for the exact program break: the [heap] mapping ends at
// the next page boundary, but malloc remembers the byte.
func readBrk(p *image.Process, s *scratch) error {
	brk, err := s.in.Syscall(unix.SYS_BRK, 0)
	if err != nil {
		return err
	}
	p.MM.Brk = brk
	return nil
}

func readPrctls(p *image.Process, s *scratch) error {
	get := func(opt uint64) (uint64, error) { return s.in.Syscall(unix.SYS_PRCTL, opt, 0, 0, 0, 0) }
	getInto := func(opt uint64) (uint64, error) {
		if _, err := s.in.Syscall(unix.SYS_PRCTL, opt, s.addr, 0, 0, 0); err != nil {
			return 0, err
		}
		b, err := s.read(0, 4)
		if err != nil {
			return 0, err
		}
		return uint64(binary.LittleEndian.Uint32(b)), nil
	}
	var err error
	var v uint64
	if v, err = get(unix.PR_GET_SECUREBITS); err != nil {
		return err
	}
	p.Creds.Securebits = uint32(v)
	if p.TimerSlackNS, err = get(unix.PR_GET_TIMERSLACK); err != nil {
		return err
	}
	if v, err = get(unix.PR_GET_DUMPABLE); err != nil {
		return err
	}
	p.Dumpable = uint32(v)
	if v, err = get(unix.PR_GET_THP_DISABLE); err != nil {
		return err
	}
	p.THPDisabled = v != 0
	if v, err = getInto(unix.PR_GET_PDEATHSIG); err != nil {
		return err
	}
	p.PdeathSig = uint32(v)
	if v, err = getInto(unix.PR_GET_CHILD_SUBREAPER); err != nil {
		return err
	}
	p.ChildSubreaper = v != 0
	return nil
}
