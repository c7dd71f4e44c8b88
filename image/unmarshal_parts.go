package image

func (v *VMA) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fVMAStart:
			v.Start = m.u64(f)
		case fVMAEnd:
			v.End = m.u64(f)
		case fVMAProt:
			v.Prot = m.u32(f)
		case fVMAFlags:
			v.Flags = m.u32(f)
		case fVMAKind:
			v.Kind = VMAKind(m.u32(f))
		case fVMAOffset:
			v.Offset = m.u64(f)
		case fVMAFile:
			v.File = new(FileID)
			v.File.decode(m.sub(f, "file"))
		case fVMAName:
			v.Name = m.str(f)
		case fVMAAdvice:
			v.Advice = m.u32(f)
		}
	}
}

func (fi *FileID) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fFilePath:
			fi.Path = m.str(f)
		case fFileSize:
			fi.Size = m.i64(f)
		case fFileMode:
			fi.Mode = m.u32(f)
		case fFileBuildID:
			fi.BuildID = m.bytes(f)
		case fFileSHA256:
			fi.SHA256 = m.bytes(f)
		case fFileDeleted:
			fi.Deleted = m.boolean(f)
		}
	}
}

func (t *Thread) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fThrTID:
			t.TID = m.i32(f)
		case fThrComm:
			t.Comm = m.str(f)
		case fThrRegs:
			t.Regs = m.bytes(f)
		case fThrXState:
			t.XState = m.bytes(f)
		case fThrSigBlocked:
			t.SigBlocked = m.u64(f)
		case fThrPending:
			t.Pending = decodeSigInfo(&m, f, t.Pending)
		case fThrRseq:
			t.Rseq = new(Rseq)
			t.Rseq.decode(m.sub(f, "rseq"))
		case fThrRobustList:
			t.RobustList = m.u64(f)
		case fThrRobustListLen:
			t.RobustListLen = m.u64(f)
		case fThrClearChildTID:
			t.ClearChildTID = m.u64(f)
		case fThrNice:
			t.Nice = m.i32(f)
		case fThrAltstack:
			t.Altstack.decode(m.sub(f, "altstack"))
		}
	}
}

func (s *SigAction) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fSigHandler:
			s.Handler = m.u64(f)
		case fSigFlags:
			s.Flags = m.u64(f)
		case fSigRestorer:
			s.Restorer = m.u64(f)
		case fSigMask:
			s.Mask = m.u64(f)
		}
	}
}

func (r *Rlimit) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fRlimCur:
			r.Cur = m.u64(f)
		case fRlimMax:
			r.Max = m.u64(f)
		}
	}
}

func (t *ITimer) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fITimerInterval:
			t.IntervalNS = m.i64(f)
		case fITimerValue:
			t.ValueNS = m.i64(f)
		}
	}
}

func (r *Rseq) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fRseqAddr:
			r.Addr = m.u64(f)
		case fRseqLen:
			r.Len = m.u32(f)
		case fRseqSig:
			r.Sig = m.u32(f)
		case fRseqFlags:
			r.Flags = m.u32(f)
		}
	}
}

func (a *Altstack) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fAltSP:
			a.SP = m.u64(f)
		case fAltFlags:
			a.Flags = m.u32(f)
		case fAltSize:
			a.Size = m.u64(f)
		}
	}
}

func (d *FD) decode(m msg) {
	for m.more() {
		f := m.next()
		switch f.num {
		case fFDNum:
			d.Num = m.i32(f)
		case fFDKind:
			d.Kind = FDKind(m.u32(f))
		case fFDPath:
			d.Path = m.str(f)
		case fFDFlags:
			d.Flags = m.u32(f)
		case fFDPos:
			d.Pos = m.i64(f)
		case fFDCloExec:
			d.CloExec = m.boolean(f)
		case fFDFile:
			d.File = new(FileID)
			d.File.decode(m.sub(f, "file"))
		case fFDDupOf:
			d.DupOf = m.i32(f)
		}
	}
}
