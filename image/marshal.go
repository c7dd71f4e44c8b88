package image

// Marshal encodes c as a checkpoint payload (without the record header;
// see EncodeCheckpoint). The encoding is deterministic. It fails only when
// the payload would exceed MaxMetadataSize.
func Marshal(c *Checkpoint) ([]byte, error) {
	b := c.append(nil)
	if len(b) > MaxMetadataSize {
		return nil, errorf(ErrTooLarge, "checkpoint payload of %d bytes exceeds %d", len(b), MaxMetadataSize)
	}
	return b, nil
}

func (c *Checkpoint) append(b []byte) []byte {
	b = putString(b, fCkptArch, c.Arch)
	b = putString(b, fCkptKernel, c.KernelRelease)
	b = putFixed64(b, fCkptCreated, uint64(c.CreatedUnixNano))
	b = putInt(b, fCkptRoot, int64(c.Root))
	for i := range c.Processes {
		b = putMsg(b, fCkptProcess, c.Processes[i].append)
	}
	return b
}

func (p *Process) append(b []byte) []byte {
	b = putInt(b, fProcPID, int64(p.PID))
	b = putInt(b, fProcPPID, int64(p.PPID))
	b = putInt(b, fProcPGID, int64(p.PGID))
	b = putInt(b, fProcSID, int64(p.SID))
	b = putString(b, fProcComm, p.Comm)
	b = putMsg(b, fProcExe, p.Exe.append)
	b = putMsg(b, fProcCreds, p.Creds.append)
	b = putMsg(b, fProcMM, p.MM.append)
	for i := range p.Threads {
		b = putMsg(b, fProcThread, p.Threads[i].append)
	}
	for i := range p.SigActions {
		b = putMsg(b, fProcSigAction, p.SigActions[i].append)
	}
	for i := range p.SharedPending {
		b = putElemBytes(b, fProcSharedPending, p.SharedPending[i].Raw[:])
	}
	for i := range p.Rlimits {
		b = putMsg(b, fProcRlimit, p.Rlimits[i].append)
	}
	for i := range p.FDs {
		b = putMsg(b, fProcFD, p.FDs[i].append)
	}
	return p.appendMisc(b)
}

// appendMisc appends the Process fields numbered from fProcCwd on.
func (p *Process) appendMisc(b []byte) []byte {
	b = putString(b, fProcCwd, p.Cwd)
	b = putString(b, fProcRoot, p.Root)
	b = putUint(b, fProcUmask, uint64(p.Umask))
	b = putUint(b, fProcPersonality, uint64(p.Personality))
	b = putMsg(b, fProcITimerReal, p.ITimers[0].append)
	b = putMsg(b, fProcITimerVirtual, p.ITimers[1].append)
	b = putMsg(b, fProcITimerProf, p.ITimers[2].append)
	b = putBool(b, fProcNoNewPrivs, p.NoNewPrivs)
	b = putUint(b, fProcTimerSlack, p.TimerSlackNS)
	b = putBool(b, fProcSubreaper, p.ChildSubreaper)
	b = putUint(b, fProcPdeathSig, uint64(p.PdeathSig))
	b = putUint(b, fProcDumpable, uint64(p.Dumpable))
	b = putBool(b, fProcTHPDisabled, p.THPDisabled)
	return putBytes(b, fProcLDT, p.LDT)
}

func (c *Creds) append(b []byte) []byte {
	b = putUint(b, fCredUID, uint64(c.UID))
	b = putUint(b, fCredEUID, uint64(c.EUID))
	b = putUint(b, fCredSUID, uint64(c.SUID))
	b = putUint(b, fCredFSUID, uint64(c.FSUID))
	b = putUint(b, fCredGID, uint64(c.GID))
	b = putUint(b, fCredEGID, uint64(c.EGID))
	b = putUint(b, fCredSGID, uint64(c.SGID))
	b = putUint(b, fCredFSGID, uint64(c.FSGID))
	b = putPacked(b, fCredGroups, c.Groups)
	b = putUint(b, fCredCapInh, c.CapInh)
	b = putUint(b, fCredCapPrm, c.CapPrm)
	b = putUint(b, fCredCapEff, c.CapEff)
	b = putUint(b, fCredCapBnd, c.CapBnd)
	b = putUint(b, fCredCapAmb, c.CapAmb)
	return putUint(b, fCredSecurebits, uint64(c.Securebits))
}

func (mm *MM) append(b []byte) []byte {
	b = putUint(b, fMMStartCode, mm.StartCode)
	b = putUint(b, fMMEndCode, mm.EndCode)
	b = putUint(b, fMMStartData, mm.StartData)
	b = putUint(b, fMMEndData, mm.EndData)
	b = putUint(b, fMMStartBrk, mm.StartBrk)
	b = putUint(b, fMMBrk, mm.Brk)
	b = putUint(b, fMMStartStack, mm.StartStack)
	b = putUint(b, fMMArgStart, mm.ArgStart)
	b = putUint(b, fMMArgEnd, mm.ArgEnd)
	b = putUint(b, fMMEnvStart, mm.EnvStart)
	b = putUint(b, fMMEnvEnd, mm.EnvEnd)
	b = putPacked(b, fMMAuxv, mm.Auxv)
	for i := range mm.VMAs {
		b = putMsg(b, fMMVMA, mm.VMAs[i].append)
	}
	return b
}

func (v *VMA) append(b []byte) []byte {
	b = putUint(b, fVMAStart, v.Start)
	b = putUint(b, fVMAEnd, v.End)
	b = putUint(b, fVMAProt, uint64(v.Prot))
	b = putUint(b, fVMAFlags, uint64(v.Flags))
	b = putUint(b, fVMAKind, uint64(v.Kind))
	b = putUint(b, fVMAOffset, v.Offset)
	if v.File != nil {
		b = putMsg(b, fVMAFile, v.File.append)
	}
	b = putUint(b, fVMAAdvice, uint64(v.Advice))
	return putString(b, fVMAName, v.Name)
}

func (f *FileID) append(b []byte) []byte {
	b = putString(b, fFilePath, f.Path)
	b = putInt(b, fFileSize, f.Size)
	b = putUint(b, fFileMode, uint64(f.Mode))
	b = putBytes(b, fFileBuildID, f.BuildID)
	b = putBytes(b, fFileSHA256, f.SHA256)
	return putBool(b, fFileDeleted, f.Deleted)
}

func (t *Thread) append(b []byte) []byte {
	b = putInt(b, fThrTID, int64(t.TID))
	b = putString(b, fThrComm, t.Comm)
	b = putBytes(b, fThrRegs, t.Regs)
	b = putBytes(b, fThrXState, t.XState)
	b = putUint(b, fThrSigBlocked, t.SigBlocked)
	for i := range t.Pending {
		b = putElemBytes(b, fThrPending, t.Pending[i].Raw[:])
	}
	if t.Rseq != nil {
		b = putMsg(b, fThrRseq, t.Rseq.append)
	}
	b = putUint(b, fThrRobustList, t.RobustList)
	b = putUint(b, fThrRobustListLen, t.RobustListLen)
	b = putUint(b, fThrClearChildTID, t.ClearChildTID)
	b = putMsg(b, fThrAltstack, t.Altstack.append)
	return putInt(b, fThrNice, int64(t.Nice))
}

func (s *SigAction) append(b []byte) []byte {
	b = putUint(b, fSigHandler, s.Handler)
	b = putUint(b, fSigFlags, s.Flags)
	b = putUint(b, fSigRestorer, s.Restorer)
	return putUint(b, fSigMask, s.Mask)
}

func (r *Rlimit) append(b []byte) []byte {
	b = putUint(b, fRlimCur, r.Cur)
	return putUint(b, fRlimMax, r.Max)
}

func (t *ITimer) append(b []byte) []byte {
	b = putInt(b, fITimerInterval, t.IntervalNS)
	return putInt(b, fITimerValue, t.ValueNS)
}

func (r *Rseq) append(b []byte) []byte {
	b = putUint(b, fRseqAddr, r.Addr)
	b = putUint(b, fRseqLen, uint64(r.Len))
	b = putUint(b, fRseqSig, uint64(r.Sig))
	return putUint(b, fRseqFlags, uint64(r.Flags))
}

func (a *Altstack) append(b []byte) []byte {
	b = putUint(b, fAltSP, a.SP)
	b = putUint(b, fAltFlags, uint64(a.Flags))
	return putUint(b, fAltSize, a.Size)
}

func (d *FD) append(b []byte) []byte {
	b = putInt(b, fFDNum, int64(d.Num))
	b = putUint(b, fFDKind, uint64(d.Kind))
	b = putString(b, fFDPath, d.Path)
	b = putUint(b, fFDFlags, uint64(d.Flags))
	b = putInt(b, fFDPos, d.Pos)
	b = putBool(b, fFDCloExec, d.CloExec)
	if d.File != nil {
		b = putMsg(b, fFDFile, d.File.append)
	}
	b = putInt(b, fFDDupOf, int64(d.DupOf))
	return b
}
