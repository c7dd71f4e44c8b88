package image

// Unmarshal decodes a checkpoint payload produced by Marshal. Unknown
// fields are skipped; a known singular field that appears twice, a known
// field with the wrong wire type, and an unknown wire type are errors.
// Unmarshal does not check that the result makes sense: call Validate.
func Unmarshal(b []byte) (*Checkpoint, error) {
	if len(b) > MaxMetadataSize {
		return nil, errorf(ErrTooLarge, "checkpoint payload of %d bytes exceeds %d", len(b), MaxMetadataSize)
	}
	c := new(Checkpoint)
	m := newMsg(b, "checkpoint")
	c.decode(m)
	if err := m.done(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Checkpoint) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fCkptArch:
			c.Arch = m.str(f)
		case fCkptKernel:
			c.KernelRelease = m.str(f)
		case fCkptCreated:
			c.CreatedUnixNano = int64(m.fixed64(f))
		case fCkptRoot:
			c.Root = m.i32(f)
		case fCkptProcess:
			c.Processes = append(c.Processes, Process{})
			c.Processes[len(c.Processes)-1].decode(m.subElem(f, "process"))
		}
	}
}

func (p *Process) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fProcPID:
			p.PID = m.i32(f)
		case fProcPPID:
			p.PPID = m.i32(f)
		case fProcPGID:
			p.PGID = m.i32(f)
		case fProcSID:
			p.SID = m.i32(f)
		case fProcComm:
			p.Comm = m.str(f)
		case fProcExe:
			p.Exe.decode(m.sub(f, "exe"))
		case fProcCreds:
			p.Creds.decode(m.sub(f, "creds"))
		case fProcMM:
			p.MM.decode(m.sub(f, "mm"))
		default:
			p.decodeLists(&m, f)
		}
	}
}

// decodeLists decodes the repeated fields of Process.
func (p *Process) decodeLists(m *msg, f field) {
	switch f.num {
	case fProcThread:
		p.Threads = append(p.Threads, Thread{})
		p.Threads[len(p.Threads)-1].decode(m.subElem(f, "thread"))
	case fProcSigAction:
		p.SigActions = append(p.SigActions, SigAction{})
		p.SigActions[len(p.SigActions)-1].decode(m.subElem(f, "sigaction"))
	case fProcSharedPending:
		p.SharedPending = decodeSigInfo(m, f, p.SharedPending)
	case fProcRlimit:
		p.Rlimits = append(p.Rlimits, Rlimit{})
		p.Rlimits[len(p.Rlimits)-1].decode(m.subElem(f, "rlimit"))
	case fProcFD:
		p.FDs = append(p.FDs, FD{})
		p.FDs[len(p.FDs)-1].decode(m.subElem(f, "fd"))
	default:
		p.decodeMisc(m, f)
	}
}

// decodeMisc decodes the Process fields numbered from fProcCwd on.
func (p *Process) decodeMisc(m *msg, f field) {
	switch f.num {
	case fProcCwd:
		p.Cwd = m.str(f)
	case fProcRoot:
		p.Root = m.str(f)
	case fProcUmask:
		p.Umask = m.u32(f)
	case fProcPersonality:
		p.Personality = m.u32(f)
	case fProcITimerReal:
		p.ITimers[0].decode(m.sub(f, "itimer"))
	case fProcITimerVirtual:
		p.ITimers[1].decode(m.sub(f, "itimer"))
	case fProcITimerProf:
		p.ITimers[2].decode(m.sub(f, "itimer"))
	case fProcNoNewPrivs:
		p.NoNewPrivs = m.boolean(f)
	case fProcTimerSlack:
		p.TimerSlackNS = m.u64(f)
	case fProcSubreaper:
		p.ChildSubreaper = m.boolean(f)
	case fProcPdeathSig:
		p.PdeathSig = m.u32(f)
	case fProcDumpable:
		p.Dumpable = m.u32(f)
	case fProcTHPDisabled:
		p.THPDisabled = m.boolean(f)
	case fProcLDT:
		p.LDT = m.bytes(f)
	}
}

// decodeSigInfo appends one siginfo element, which must be SigInfoSize
// bytes long.
func decodeSigInfo(m *msg, f field, list []SigInfo) []SigInfo {
	b, ok := m.elemBytes(f)
	if !ok {
		return list
	}
	if len(b) != SigInfoSize {
		m.fail(f.off, "field %d: siginfo of %d bytes, want %d", f.num, len(b), SigInfoSize)
		return list
	}
	var si SigInfo
	copy(si.Raw[:], b)
	return append(list, si)
}

func (c *Creds) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fCredUID:
			c.UID = m.u32(f)
		case fCredEUID:
			c.EUID = m.u32(f)
		case fCredSUID:
			c.SUID = m.u32(f)
		case fCredFSUID:
			c.FSUID = m.u32(f)
		case fCredGID:
			c.GID = m.u32(f)
		case fCredEGID:
			c.EGID = m.u32(f)
		case fCredSGID:
			c.SGID = m.u32(f)
		case fCredFSGID:
			c.FSGID = m.u32(f)
		case fCredGroups:
			c.Groups = packed[uint32](&m, f)
		case fCredCapInh:
			c.CapInh = m.u64(f)
		case fCredCapPrm:
			c.CapPrm = m.u64(f)
		case fCredCapEff:
			c.CapEff = m.u64(f)
		case fCredCapBnd:
			c.CapBnd = m.u64(f)
		case fCredCapAmb:
			c.CapAmb = m.u64(f)
		case fCredSecurebits:
			c.Securebits = m.u32(f)
		}
	}
}

func (mm *MM) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fMMStartCode:
			mm.StartCode = m.u64(f)
		case fMMEndCode:
			mm.EndCode = m.u64(f)
		case fMMStartData:
			mm.StartData = m.u64(f)
		case fMMEndData:
			mm.EndData = m.u64(f)
		case fMMStartBrk:
			mm.StartBrk = m.u64(f)
		case fMMBrk:
			mm.Brk = m.u64(f)
		case fMMStartStack:
			mm.StartStack = m.u64(f)
		case fMMArgStart:
			mm.ArgStart = m.u64(f)
		case fMMArgEnd:
			mm.ArgEnd = m.u64(f)
		case fMMEnvStart:
			mm.EnvStart = m.u64(f)
		case fMMEnvEnd:
			mm.EnvEnd = m.u64(f)
		case fMMAuxv:
			mm.Auxv = packed[uint64](&m, f)
		case fMMVMA:
			mm.VMAs = append(mm.VMAs, VMA{})
			mm.VMAs[len(mm.VMAs)-1].decode(m.subElem(f, "vma"))
		}
	}
}
