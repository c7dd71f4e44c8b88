package restorer

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/fileid"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
)

// precheck refuses, before anything is created, an image that cannot be
// restored here or would give the process more than it had.
func precheck(c *image.Checkpoint, p *image.Process) error {
	if c.Arch != image.ArchX86_64 {
		return fmt.Errorf("image is for %s, this machine is x86_64", c.Arch)
	}
	if err := checkShape("image", c, p); err != nil {
		return err
	}
	if comm, err := procfs.Comm(int(p.PID)); err == nil {
		return fmt.Errorf("pid %d is in use (by %q)", p.PID, comm)
	}
	for _, check := range []func() error{
		func() error { return checkAuthority(p) },
		func() error { return checkRlimits(p) },
		func() error { return checkFiles(&fileid.Cache{}, p) },
		func() error { return checkSpecials(p) },
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// checkShape refuses what is not one single-threaded process p (what
// names c in the error: an image, a final state).
func checkShape(what string, c *image.Checkpoint, p *image.Process) error {
	if len(c.Processes) != 1 || len(p.Threads) != 1 {
		return fmt.Errorf("%s has %d processes and %d threads: only one single-threaded process is supported yet", what, len(c.Processes), len(p.Threads))
	}
	return nil
}

// checkAuthority: only root may restore a process of another user, and no
// capability is granted that the restorer does not hold.
func checkAuthority(p *image.Process) error {
	me, err := procfs.Status(os.Getpid())
	if err != nil {
		return err
	}
	c := p.Creds
	if me.Uid[1] != 0 {
		for _, id := range []uint32{c.UID, c.EUID, c.SUID, c.FSUID} {
			if id != me.Uid[1] {
				return fmt.Errorf("image runs as uid %d: only root may restore a process of another user", id)
			}
		}
	}
	if extra := (c.CapPrm | c.CapInh | c.CapAmb) &^ me.CapPrm; extra != 0 {
		return fmt.Errorf("image has capabilities %#x that this restorer does not hold (%#x): refusing to grant them", extra, me.CapPrm)
	}
	if extra := c.CapBnd &^ me.CapBnd; extra != 0 {
		return fmt.Errorf("image bounding set has capabilities %#x this restorer lacks", extra)
	}
	return nil
}

// checkRlimits: a hard limit above our own cannot be raised without
// CAP_SYS_RESOURCE.
func checkRlimits(p *image.Process) error {
	for res, l := range p.Rlimits {
		var cur unix.Rlimit
		if err := unix.Getrlimit(res, &cur); err != nil {
			return fmt.Errorf("getrlimit %d: %w", res, err)
		}
		if l.Max > cur.Max {
			return fmt.Errorf("resource limit %d: the image's hard limit %d is above this restorer's %d and cannot be raised (needs CAP_SYS_RESOURCE)", res, l.Max, cur.Max)
		}
	}
	return nil
}

// checkFiles: every file the process maps or has open must be the same
// file here (size, build-id or content hash). cache keeps the identities
// already computed (a stat each to see that they still hold).
func checkFiles(cache *fileid.Cache, p *image.Process) error {
	if err := checkExeAndFDs(cache, p); err != nil {
		return err
	}
	return checkMappedFiles(cache, p.MM.VMAs)
}

func checkExeAndFDs(cache *fileid.Cache, p *image.Process) error {
	if err := checkFile(cache, "executable", &p.Exe); err != nil {
		return err
	}
	for _, f := range p.FDs {
		if f.File != nil {
			if err := checkFile(cache, fmt.Sprintf("fd %d", f.Num), f.File); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkMappedFiles(cache *fileid.Cache, vmas []image.VMA) error {
	checked := make(map[string]image.FileID) // a library has 4-5 mappings: one check
	for _, v := range vmas {
		if v.Kind != image.VMAFile {
			continue
		}
		if id, ok := checked[v.File.Path]; ok && fileid.Compare(id, *v.File) == nil {
			continue
		}
		if err := checkFile(cache, fmt.Sprintf("mapping %#x-%#x", v.Start, v.End), v.File); err != nil {
			return err
		}
		checked[v.File.Path] = *v.File
	}
	return nil
}

func checkFile(cache *fileid.Cache, what string, want *image.FileID) error {
	got, err := cache.Of(want.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := fileid.Compare(*want, got); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// checkSpecials: the vdso and vvar of this kernel must match the image's,
// since the process keeps calling into the vdso at its old address.
func checkSpecials(p *image.Process) error {
	maps, err := procfs.Maps(os.Getpid())
	if err != nil {
		return err
	}
	mine := make(map[image.VMAKind]procfs.Mapping)
	for _, m := range maps {
		if k, ok := specialNames[m.Path]; ok {
			mine[k] = m
		}
	}
	for _, v := range p.MM.VMAs {
		if !v.Kind.Special() {
			continue
		}
		m, ok := mine[v.Kind]
		if !ok || m.End-m.Start != v.End-v.Start {
			return fmt.Errorf("%s: this kernel's differs in size from the image's (%d bytes): restore on the same kernel", v.Kind, v.End-v.Start)
		}
		if v.Kind == image.VMAVDSO && v.File != nil {
			buf := make([]byte, m.End-m.Start)
			if err := linux.ReadMem(os.Getpid(), m.Start, buf); err != nil {
				return err
			}
			if sum := sha256.Sum256(buf); len(v.File.SHA256) > 0 && string(sum[:]) != string(v.File.SHA256) {
				return errors.New("[vdso]: this kernel's vdso differs from the image's: restore on the same kernel build")
			}
		}
	}
	return nil
}
