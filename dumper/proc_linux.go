package dumper

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/fileid"
	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/internal/ptrace"
)

// readProc fills the process-wide state /proc gives and returns its
// mappings.
func readProc(pid int, p *image.Process, files *fileid.Cache, vmas *vmaCache, known []mapping) ([]mapping, error) {
	stat, err := procfs.Stat(pid)
	if err != nil {
		return nil, err
	}
	status, err := procfs.Status(pid)
	if err != nil {
		return nil, err
	}
	p.PPID, p.PGID, p.SID = int32(stat.PPID), int32(stat.Pgrp), int32(stat.Session)
	p.Creds = credsOf(status)
	p.NoNewPrivs = status.NoNewPrivs
	if !status.HasUmask {
		return nil, fmt.Errorf("pid %d: /proc/PID/status shows no Umask (Linux 4.7 and later do): %w", pid, ErrNotSupported)
	}
	p.Umask = status.Umask
	p.SharedPending = nil
	p.MM = image.MM{
		StartCode: stat.StartCode, EndCode: stat.EndCode,
		StartData: stat.StartData, EndData: stat.EndData,
		StartBrk: stat.StartBrk, StartStack: stat.StartStack,
		ArgStart: stat.ArgStart, ArgEnd: stat.ArgEnd,
		EnvStart: stat.EnvStart, EnvEnd: stat.EnvEnd,
	}
	if err := readMisc(pid, p, files); err != nil {
		return nil, err
	}
	maps := known
	if maps == nil {
		var err error
		if maps, err = vmas.mappings(pid, files); err != nil {
			return nil, err
		}
	}
	for _, m := range maps {
		p.MM.VMAs = append(p.MM.VMAs, m.vma)
	}
	return maps, nil
}

func readMisc(pid int, p *image.Process, files *fileid.Cache) error {
	var err error
	if p.Comm, err = procfs.Comm(pid); err != nil {
		return err
	}
	exe, err := procfs.Exe(pid)
	if err != nil {
		return err
	}
	if strings.HasSuffix(exe, " (deleted)") {
		return fmt.Errorf("executable %s: deleted executables are %w", exe, ErrNotSupported)
	}
	if p.Exe, err = files.Of(exe); err != nil {
		return err
	}
	if p.Cwd, err = procfs.Cwd(pid); err != nil {
		return err
	}
	if strings.HasSuffix(p.Cwd, " (deleted)") {
		return fmt.Errorf("working directory %s was deleted: %w", p.Cwd, ErrNotSupported)
	}
	if p.Root, err = procfs.Root(pid); err != nil {
		return err
	}
	if p.Personality, err = procfs.Personality(pid); err != nil {
		return err
	}
	lim, err := procfs.Limits(pid)
	if err != nil {
		return err
	}
	for _, l := range lim {
		p.Rlimits = append(p.Rlimits, image.Rlimit{Cur: l.Cur, Max: l.Max})
	}
	auxv, err := procfs.Auxv(pid)
	if err != nil {
		return err
	}
	for _, a := range auxv {
		p.MM.Auxv = append(p.MM.Auxv, a.Type, a.Value)
	}
	p.FDs, err = collectFDs(pid, files)
	return err
}

func credsOf(s procfs.ProcStatus) image.Creds {
	return image.Creds{
		UID: s.Uid[0], EUID: s.Uid[1], SUID: s.Uid[2], FSUID: s.Uid[3],
		GID: s.Gid[0], EGID: s.Gid[1], SGID: s.Gid[2], FSGID: s.Gid[3],
		Groups: s.Groups,
		CapInh: s.CapInh, CapPrm: s.CapPrm, CapEff: s.CapEff, CapBnd: s.CapBnd, CapAmb: s.CapAmb,
	}
}

func trimSpace(b []byte) string { return string(bytes.TrimSpace(b)) }

// vdsoSyscall returns a syscall instruction in the process's [vdso],
// found in vmas, or 0 (NewRemote then looks through /proc/PID/maps).
func vdsoSyscall(pid int, vmas []image.VMA) uint64 {
	for _, v := range vmas {
		if v.Kind == image.VMAVDSO {
			if insn, ok := ptrace.SyscallInsnIn(pid, v.Start, v.End); ok {
				return insn
			}
		}
	}
	return 0
}
