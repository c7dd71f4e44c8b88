package image

import (
	"fmt"
	"math"
)

// Limits checked by Validate.
const (
	MaxSignals  = 64      // SigActions entries (_NSIG)
	MaxRlimits  = 16      // Rlimits entries (RLIM_NLIMITS)
	MaxGroups   = 65536   // supplementary groups (NGROUPS_MAX)
	MaxAuxv     = 2 * 64  // auxv words (AT_VECTOR_SIZE pairs)
	MaxXState   = 1 << 16 // bytes of XState
	MaxLDT      = 8192 * 8
	ldtEntry    = 8
	maxTaskAddr = 1 << 57 // top of user space with 5-level paging
)

// Validate checks that c describes a plausible process tree of this
// architecture. Errors wrap ErrInvalid and name the offending field, e.g.
// "image: process 42 vma 3 (0x1000-0x3000): overlaps previous".
func (c *Checkpoint) Validate() error {
	if c.Arch != ArchX86_64 {
		return invalidf("arch %q not supported (this build handles %q)", c.Arch, ArchX86_64)
	}
	if len(c.Processes) == 0 {
		return invalidf("no processes")
	}
	pids := make(map[int32]bool, len(c.Processes))
	tids := make(map[int32]bool, len(c.Processes))
	for i := range c.Processes {
		p := &c.Processes[i]
		if p.PID <= 0 {
			return invalidf("process %d (index %d): PID not positive", p.PID, i)
		}
		if pids[p.PID] {
			return invalidf("process %d: listed twice", p.PID)
		}
		pids[p.PID] = true
		if err := p.validate(tids); err != nil {
			return err
		}
	}
	return c.validateTree(pids)
}

// validateTree checks that Root is in the tree and that every other
// process's parent is too, listed before it.
func (c *Checkpoint) validateTree(pids map[int32]bool) error {
	if !pids[c.Root] {
		return invalidf("root %d is not among the processes", c.Root)
	}
	if c.Processes[0].PID != c.Root {
		return invalidf("root %d is not the first process", c.Root)
	}
	seen := make(map[int32]bool, len(pids))
	for i := range c.Processes {
		p := &c.Processes[i]
		if p.PID != c.Root && !seen[p.PPID] {
			return invalidf("process %d: parent %d not listed before it", p.PID, p.PPID)
		}
		seen[p.PID] = true
	}
	return nil
}

// validate checks one process. tids collects TIDs across the tree.
func (p *Process) validate(tids map[int32]bool) error {
	pf := func(format string, args ...any) error {
		return invalidf("process %d: %s", p.PID, fmt.Sprintf(format, args...))
	}
	switch {
	case p.PPID < 0 || p.PGID < 0 || p.SID < 0:
		return pf("bad PPID %d, PGID %d or SID %d", p.PPID, p.PGID, p.SID)
	case len(p.Threads) == 0:
		return pf("no threads")
	case p.Threads[0].TID != p.PID:
		return pf("first thread %d is not the leader", p.Threads[0].TID)
	case len(p.SigActions) > MaxSignals:
		return pf("%d signal actions, at most %d", len(p.SigActions), MaxSignals)
	case len(p.Rlimits) > MaxRlimits:
		return pf("%d rlimits, at most %d", len(p.Rlimits), MaxRlimits)
	case len(p.LDT)%ldtEntry != 0 || len(p.LDT) > MaxLDT:
		return pf("LDT of %d bytes", len(p.LDT))
	case p.Umask > 0o777:
		return pf("umask %#o", p.Umask)
	}
	if err := p.validateMisc(pf); err != nil {
		return err
	}
	for i := range p.Threads {
		if err := p.Threads[i].validate(p.PID, tids); err != nil {
			return err
		}
	}
	if err := p.MM.validate(p.PID); err != nil {
		return err
	}
	return p.validateFDs()
}

// validateMisc checks credentials, timers and rlimits.
func (p *Process) validateMisc(pf func(string, ...any) error) error {
	if len(p.Creds.Groups) > MaxGroups {
		return pf("%d supplementary groups, at most %d", len(p.Creds.Groups), MaxGroups)
	}
	for i, t := range p.ITimers {
		if t.IntervalNS < 0 || t.ValueNS < 0 {
			return pf("itimer %d negative", i)
		}
	}
	for i, r := range p.Rlimits {
		if r.Cur > r.Max {
			return pf("rlimit %d: soft limit %d above hard limit %d", i, r.Cur, r.Max)
		}
	}
	return nil
}

// validate checks one thread of process pid.
func (t *Thread) validate(pid int32, tids map[int32]bool) error {
	tf := func(format string, args ...any) error {
		return invalidf("process %d thread %d: %s", pid, t.TID, fmt.Sprintf(format, args...))
	}
	switch {
	case t.TID <= 0:
		return tf("TID not positive")
	case tids[t.TID]:
		return tf("TID listed twice")
	case len(t.Regs) != RegsSize:
		return tf("registers are %d bytes, want %d", len(t.Regs), RegsSize)
	case t.Nice < -20 || t.Nice > 19:
		return tf("nice %d out of range", t.Nice)
	case len(t.XState) > MaxXState:
		return tf("xstate of %d bytes, at most %d", len(t.XState), MaxXState)
	case t.Rseq != nil && t.Rseq.Addr == 0:
		return tf("rseq registered at address 0")
	}
	tids[t.TID] = true
	return nil
}

// validateFDs checks that descriptors are ascending and of known kinds.
func (p *Process) validateFDs() error {
	prev := int32(-1)
	seen := make(map[int32]bool, len(p.FDs))
	for i := range p.FDs {
		d := &p.FDs[i]
		switch {
		case d.Num < 0 || d.Num <= prev:
			return invalidf("process %d fd %d: not ascending", p.PID, d.Num)
		case d.DupOf != 0 && (d.DupOf < 0 || !seen[d.DupOf-1]):
			return invalidf("process %d fd %d: shares the description of fd %d, which is not an earlier descriptor", p.PID, d.Num, d.DupOf-1)
		case !d.Kind.Known():
			return invalidf("process %d fd %d: unknown kind %v", p.PID, d.Num, d.Kind)
		case d.Pos < 0:
			return invalidf("process %d fd %d: negative position", p.PID, d.Num)
		}
		prev = d.Num
		seen[d.Num] = true
	}
	return nil
}

// validate checks the mm fields and VMAs of process pid.
func (mm *MM) validate(pid int32) error {
	switch {
	case len(mm.Auxv)%2 != 0 || len(mm.Auxv) > MaxAuxv:
		return invalidf("process %d: auxv of %d words", pid, len(mm.Auxv))
	case mm.StartCode > mm.EndCode || mm.StartData > mm.EndData ||
		mm.StartBrk > mm.Brk || mm.ArgStart > mm.ArgEnd || mm.EnvStart > mm.EnvEnd:
		return invalidf("process %d: mm fields out of order", pid)
	}
	return ValidateVMAs(pid, mm.VMAs)
}

// ValidateVMAs checks a list of mappings of process pid as Validate does:
// sorted, non-overlapping, page-aligned, of known kinds and flags.
func ValidateVMAs(pid int32, vmas []VMA) error {
	var prevEnd uint64
	for i := range vmas {
		v := &vmas[i]
		if msg := v.check(i > 0, prevEnd); msg != "" {
			return invalidf("process %d vma %d (%#x-%#x): %s", pid, i, v.Start, v.End, msg)
		}
		prevEnd = v.End
	}
	return nil
}

// check returns what is wrong with v, or "".
func (v *VMA) check(hasPrev bool, prevEnd uint64) string {
	switch {
	case v.Start%PageSize != 0 || v.End%PageSize != 0:
		return "not page-aligned"
	case v.Start >= v.End:
		return "empty or inverted"
	case v.End > maxTaskAddr:
		return "beyond the user address space"
	case hasPrev && v.Start < prevEnd:
		return "overlaps previous"
	case !v.Kind.Known():
		return fmt.Sprintf("unknown kind %v", v.Kind)
	case v.Prot&^(ProtRead|ProtWrite|ProtExec) != 0:
		return fmt.Sprintf("unknown prot bits %#x", v.Prot)
	case v.Flags&(MapShared|MapPrivate) == 0 || v.Flags&(MapShared|MapPrivate) == MapShared|MapPrivate:
		return "flags must have exactly one of MAP_SHARED and MAP_PRIVATE"
	case v.Advice&^knownAdvice != 0:
		return fmt.Sprintf("unknown advice bits %#x", v.Advice&^knownAdvice)
	case v.Flags&^knownMapFlags != 0:
		// They go to mmap as they are: no MAP_LOCKED, MAP_POPULATE or
		// MAP_HUGETLB from an edited image.
		return fmt.Sprintf("unknown flags %#x", v.Flags&^knownMapFlags)
	case v.Offset%PageSize != 0 || v.Offset > math.MaxInt64:
		return fmt.Sprintf("bad file offset %#x", v.Offset)
	case v.Kind == VMAFile && v.File == nil:
		return "file mapping without a file"
	case v.File != nil && v.Kind != VMAFile && v.Kind != VMAVDSO:
		return "file identity on a mapping that is neither a file nor the vdso"
	}
	return ""
}
