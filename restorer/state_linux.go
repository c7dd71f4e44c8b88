package restorer

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
)

// step is one named part of the restore, so that errors say which.
type step struct {
	what string
	fn   func() error
}

// runSteps runs steps in order; with times not nil it records how long
// each took.
func runSteps(steps []step, times *[]StepTime) error {
	for _, s := range steps {
		t0 := time.Now()
		if err := s.fn(); err != nil {
			return fmt.Errorf("restore %s: %w", s.what, err)
		}
		if times != nil {
			*times = append(*times, StepTime{s.what, time.Since(t0)})
		}
	}
	return nil
}

// restoreState restores the process-wide and thread state other than
// memory and credentials. exe is the task's descriptor of the executable.
// The calls go in batches: some 20-80, two stops each one by one.
func (t *task) restoreState(p *image.Process, th *image.Thread, exe uint64) error {
	return t.batched(func() error { return t.stateSteps(p, th, exe) })
}

func (t *task) stateSteps(p *image.Process, th *image.Thread, exe uint64) error {
	return runSteps([]step{
		{"rlimits", func() error { return t.setRlimits(p.Rlimits) }},
		{"sigactions", func() error { return t.setSigactions(p.SigActions) }},
		{"sigaltstack", func() error { return t.setAltstack(th.Altstack) }},
		{"itimers", func() error { return t.setITimers(p.ITimers) }},
		{"umask", func() error { return t.do("umask", unix.SYS_UMASK, uint64(p.Umask)) }},
		{"personality", func() error { return t.do("personality", unix.SYS_PERSONALITY, uint64(p.Personality)) }},
		{"comm", func() error { return t.setComm(th.Comm) }},
		{"nice", func() error {
			return t.do("nice", unix.SYS_SETPRIORITY, unix.PRIO_PROCESS, 0, uint64(int64(th.Nice)))
		}},
		{"prctl state", func() error { return t.setPrctls(p) }},
		{"clear_child_tid", func() error { return t.do("clear_child_tid", unix.SYS_SET_TID_ADDRESS, th.ClearChildTID) }},
		{"robust list", func() error { return t.setRobustList(th) }},
		{"rseq", func() error { return t.setRseq(th.Rseq) }},
		{"ldt", func() error { return t.setLDT(p.LDT) }},
		{"mm fields", func() error { return t.setMM(&p.MM, exe) }},
	}, nil)
}

// setRlimits sets the limits with prlimit from here, not injected: the
// task still has the restorer's credentials (they are restored last), so
// whoever may build it may set its limits; checkRlimits refused hard
// limits above the restorer's own.
func (t *task) setRlimits(lims []image.Rlimit) error {
	for res, l := range lims {
		lim := unix.Rlimit{Cur: l.Cur, Max: l.Max}
		if err := unix.Prlimit(t.pid, res, &lim, nil); err != nil {
			return fmt.Errorf("prlimit pid %d resource %d (cur %d max %d): %w", t.pid, res, l.Cur, l.Max, err)
		}
	}
	return nil
}

// setSigactions installs the signal handlers. A fresh task has every
// signal at its default but those ignored across the exec of the stub:
// default actions need no call there.
func (t *task) setSigactions(acts []image.SigAction) error {
	st, err := procfs.Status(t.pid)
	if err != nil {
		return err
	}
	for i, a := range acts {
		sig := i + 1
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		if a == (image.SigAction{}) && st.SigIgn&(1<<(sig-1)) == 0 && st.SigCgt&(1<<(sig-1)) == 0 {
			continue
		}
		addr, err := t.putWords(a.Handler, a.Flags, a.Restorer, a.Mask)
		if err != nil {
			return err
		}
		err = t.do(fmt.Sprintf("sigaction of signal %d", sig), unix.SYS_RT_SIGACTION, uint64(sig), addr, 0, 8)
		t.reset()
		if err != nil {
			return err
		}
	}
	return nil
}

// sigaltstack flags (<asm-generic/signal-defs.h>).
const (
	ssOnStack = 1
	ssDisable = 2
)

func (t *task) setAltstack(a image.Altstack) error {
	if a.Flags&ssDisable != 0 {
		return nil // the default
	}
	defer t.reset()
	addr, err := t.putWords(a.SP, uint64(a.Flags&^ssOnStack), a.Size)
	if err != nil {
		return err
	}
	return t.do("sigaltstack", unix.SYS_SIGALTSTACK, addr, 0)
}

func (t *task) setITimers(its [3]image.ITimer) error {
	for which, it := range its {
		if it.ValueNS == 0 && it.IntervalNS == 0 {
			continue
		}
		tv := func(ns int64) (uint64, uint64) { return uint64(ns / 1e9), uint64(ns % 1e9 / 1e3) }
		is, iu := tv(it.IntervalNS)
		vs, vu := tv(it.ValueNS)
		if vs == 0 && vu == 0 {
			vu = 1 // armed but due now: 0 would disarm it
		}
		if err := t.setITimer(which, is, iu, vs, vu); err != nil {
			return fmt.Errorf("timer %d: %w", which, err)
		}
	}
	return nil
}

// setITimer arms one timer. The kernel adds a tick to the value of the
// CPU-time timers when they are set, so those are read back and set again
// with the difference taken off: a restore must not make them later.
func (t *task) setITimer(which int, is, iu, vs, vu uint64) error {
	defer t.reset()
	set := func(vs, vu uint64) error {
		addr, err := t.putWords(is, iu, vs, vu)
		if err != nil {
			return err
		}
		_, err = t.call(unix.SYS_SETITIMER, uint64(which), addr, 0)
		return err
	}
	if err := set(vs, vu); err != nil || which == unix.ITIMER_REAL {
		return err
	}
	addr, err := t.putWords(0, 0, 0, 0)
	if err != nil {
		return err
	}
	if _, err := t.call(unix.SYS_GETITIMER, uint64(which), addr); err != nil {
		return err
	}
	b := make([]byte, 32)
	if err := linux.ReadMem(t.pid, addr, b); err != nil {
		return err
	}
	want := int64(vs)*1e6 + int64(vu)
	got := int64(binary.LittleEndian.Uint64(b[16:]))*1e6 + int64(binary.LittleEndian.Uint64(b[24:]))
	if extra := got - want; extra > 0 && want > extra {
		v := want - extra
		return set(uint64(v/1e6), uint64(v%1e6))
	}
	return nil
}

func (t *task) setComm(comm string) error {
	defer t.reset()
	addr, err := t.putString(comm)
	if err != nil {
		return err
	}
	return t.do("comm", unix.SYS_PRCTL, unix.PR_SET_NAME, addr)
}

func (t *task) setPrctls(p *image.Process) error {
	for _, c := range []struct {
		opt, val uint64
	}{
		{unix.PR_SET_TIMERSLACK, p.TimerSlackNS},
		{unix.PR_SET_PDEATHSIG, uint64(p.PdeathSig)},
		{unix.PR_SET_CHILD_SUBREAPER, b2u(p.ChildSubreaper)},
		{unix.PR_SET_THP_DISABLE, b2u(p.THPDisabled)},
	} {
		if err := t.do(fmt.Sprintf("prctl %d", c.opt), unix.SYS_PRCTL, c.opt, c.val, 0, 0, 0); err != nil {
			return err
		}
	}
	return nil
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (t *task) setRobustList(th *image.Thread) error {
	if th.RobustList == 0 {
		return nil
	}
	return t.do("robust list", unix.SYS_SET_ROBUST_LIST, th.RobustList, th.RobustListLen)
}

func (t *task) setRseq(r *image.Rseq) error {
	if r == nil {
		return nil
	}
	return t.do("rseq", unix.SYS_RSEQ, r.Addr, uint64(r.Len), uint64(r.Flags), uint64(r.Sig))
}

func (t *task) setLDT(raw []byte) error {
	for _, d := range linux.DecodeLDT(raw) {
		addr, err := t.put(d.Append(nil))
		if err != nil {
			return err
		}
		err = t.do(fmt.Sprintf("LDT entry %d", d.EntryNumber), unix.SYS_MODIFY_LDT, 0x11, addr, linux.SizeofUserDesc)
		t.reset()
		if err != nil {
			return err
		}
	}
	return nil
}

// setMM sets the mm fields, the saved auxv and the exe link with one
// PR_SET_MM_MAP. The struct and the auxv it points to go in one put.
func (t *task) setMM(mm *image.MM, exe uint64) error {
	defer t.reset()
	mapLen := uint64(len((&linux.PrctlMMMap{}).Append(nil)))
	auxvLen := uint64(8 * len(mm.Auxv))
	addr, err := t.reserve(mapLen + auxvLen)
	if err != nil {
		return err
	}
	m := linux.PrctlMMMap{
		StartCode: mm.StartCode, EndCode: mm.EndCode, StartData: mm.StartData, EndData: mm.EndData,
		StartBrk: mm.StartBrk, Brk: mm.Brk, StartStack: mm.StartStack,
		ArgStart: mm.ArgStart, ArgEnd: mm.ArgEnd, EnvStart: mm.EnvStart, EnvEnd: mm.EnvEnd,
		Auxv: addr + mapLen, AuxvSize: uint32(auxvLen), ExeFd: uint32(exe),
	}
	b := m.Append(nil)
	for _, w := range mm.Auxv {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	if err := linux.WriteMem(t.pid, addr, b); err != nil {
		return err
	}
	return t.do("mm fields (PR_SET_MM_MAP)", unix.SYS_PRCTL, unix.PR_SET_MM, unix.PR_SET_MM_MAP, addr, mapLen, 0)
}

// queueSignals puts the pending signals back, sent by the task to itself
// so that their siginfo is kept as it was.
func (t *task) queueSignals(shared, own []image.SigInfo) error {
	send := func(si image.SigInfo, nr uintptr, args ...uint64) error {
		defer t.reset()
		addr, err := t.put(si.Raw[:])
		if err != nil {
			return err
		}
		sig := uint64(binary.LittleEndian.Uint32(si.Raw[:4]))
		_, err = t.call(nr, append(args, sig, addr)...)
		if err != nil {
			return fmt.Errorf("signal %d: %w", sig, err)
		}
		return nil
	}
	pid := uint64(t.pid)
	for _, si := range shared {
		if err := send(si, unix.SYS_RT_SIGQUEUEINFO, pid); err != nil {
			return err
		}
	}
	for _, si := range own {
		if err := send(si, unix.SYS_RT_TGSIGQUEUEINFO, pid, pid); err != nil {
			return err
		}
	}
	return nil
}
