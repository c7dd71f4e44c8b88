package dumper

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/fileid"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
)

// contentPolicy says which pages of a mapping carry state of their own.
type contentPolicy int

const (
	contentNone      contentPolicy = iota // nothing to save (file is the truth, or kernel-made)
	contentPrivate                        // present pages that are not the file's own
	contentAllShared                      // every page (shared anonymous memory)
)

// mapping is a VMA of the image plus how to save its contents.
type mapping struct {
	vma     image.VMA
	content contentPolicy
	line    procfs.Mapping // the maps line it was built from
}

// vmaCache reads a process's mappings from /proc/PID/maps, and from smaps
// only when a mapping is new to it: smaps walks the page tables of every
// mapping (20-35 ms per GiB present), maps does not, and what smaps adds
// (VmFlags: shared, grows-down, hugetlb, io, no-reserve) is fixed for a
// mapping's life (a new mapping at the same place shows as a new maps line
// unless it has the same bounds, permissions, offset, device, inode and
// path). The madvise settings (Advice) are not: a madvise over a whole
// mapping changes no maps line, so a change made after the mapping was
// first seen is not carried (one over part of it splits the mapping, and
// the parts are new lines). File
// identities are looked up again each time (a stat, with files' cache).
type vmaCache struct {
	known map[procfs.Mapping]mapping
}

func (c *vmaCache) mappings(pid int, files *fileid.Cache) ([]mapping, error) {
	if c.known != nil {
		if out, ok, err := c.fromMaps(pid, files); ok || err != nil {
			return out, err
		}
	}
	smaps, err := procfs.Smaps(pid)
	if err != nil {
		return nil, err
	}
	out, err := buildVMAs(pid, smaps, files)
	if err != nil {
		return nil, err
	}
	c.known = make(map[procfs.Mapping]mapping, len(out))
	for i, m := range out {
		c.known[m.line] = out[i]
	}
	return out, nil
}

// fromMaps builds the mappings from maps; ok is false when one is new.
func (c *vmaCache) fromMaps(pid int, files *fileid.Cache) ([]mapping, bool, error) {
	lines, err := procfs.Maps(pid)
	if err != nil {
		return nil, false, err
	}
	out := make([]mapping, 0, len(lines))
	for _, l := range lines {
		if l.Path == "[vsyscall]" {
			continue
		}
		m, ok := c.known[l]
		if !ok {
			return nil, false, nil // smaps then, and every file checked there
		}
		out = append(out, m)
	}
	// Files are checked again (they may have changed on disk), once per
	// path: a library maps several consecutive ranges.
	var id image.FileID
	for i := range out {
		m := &out[i]
		if m.vma.Kind != image.VMAFile {
			continue
		}
		if id.Path == "" || id.Path != m.line.Path {
			var err error
			if id, err = files.Of(m.line.Path); err != nil {
				return nil, false, fmt.Errorf("mapping %#x-%#x %s: %w", m.vma.Start, m.vma.End, m.line.Path, err)
			}
		}
		f := id
		m.vma.File = &f
	}
	return out, true, nil
}

// buildVMAs turns smaps into image VMAs. It refuses mappings it cannot
// restore, naming them; [vsyscall] is the kernel's and is skipped.
func buildVMAs(pid int, entries []procfs.SmapsEntry, files *fileid.Cache) ([]mapping, error) {
	var out []mapping
	for _, e := range entries {
		if e.Path == "[vsyscall]" {
			continue
		}
		m, err := buildVMA(pid, e, files)
		if err != nil {
			return nil, fmt.Errorf("mapping %#x-%#x %s: %w", e.Start, e.End, e.Path, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func buildVMA(pid int, e procfs.SmapsEntry, files *fileid.Cache) (mapping, error) {
	switch {
	case e.VMFlags&procfs.VMHugeTLB != 0:
		return mapping{}, errNotSupported("hugetlb memory")
	case e.VMFlags&(procfs.VMIO|procfs.VMPFNMap) != 0 && !strings.HasPrefix(e.Path, "[vvar"):
		return mapping{}, errNotSupported("device memory (io/pfnmap)")
	case e.Deleted && e.IsFile():
		return mapping{}, errNotSupported("mapping of a deleted file")
	case e.VMFlags&(procfs.VMLocked|procfs.VMLockOnFault) != 0:
		return mapping{}, errNotSupported("locked memory (mlock)")
	case e.VMFlags&procfs.VMShadowStack != 0:
		return mapping{}, errNotSupported("a shadow stack")
	case e.VMFlags&procfs.VMSealed != 0 && !strings.HasPrefix(e.Path, "[v"):
		return mapping{}, errNotSupported("a sealed mapping (mseal)")
	case e.VMFlags&procfs.VMDroppable != 0:
		return mapping{}, errNotSupported("a droppable mapping (MAP_DROPPABLE)")
	}
	v := image.VMA{Start: e.Start, End: e.End, Prot: protOf(e.Perms), Name: e.Path}
	shared := e.VMFlags.Shared()
	if shared {
		v.Flags = image.MapShared
	} else {
		v.Flags = image.MapPrivate
	}
	if e.VMFlags.GrowsDown() {
		v.Flags |= image.MapGrowsdown
	}
	if !strings.HasPrefix(e.Path, "[v") { // the kernel's own set dd, de
		v.Advice = adviceOf(e.VMFlags)
	}
	if e.VMFlags&procfs.VMNoReserve != 0 {
		// MAP_NORESERVE: without it a large sparse reservation (a JVM's
		// heap, say) is refused on the destination for want of commit.
		v.Flags |= image.MapNoreserve
	}
	m := mapping{vma: v, line: e.Mapping}
	switch {
	case e.Path == "[vdso]":
		m.vma.Kind = image.VMAVDSO
		id, err := vdsoID(pid, e)
		if err != nil {
			return mapping{}, err
		}
		m.vma.File = &id
	case e.Path == "[vvar]":
		m.vma.Kind = image.VMAVVar
	case e.Path == "[vvar_vclock]":
		m.vma.Kind = image.VMAVVarVClock
	case e.IsFile():
		id, err := files.Of(e.Path)
		if err != nil {
			return mapping{}, err
		}
		m.vma.Kind, m.vma.File, m.vma.Offset = image.VMAFile, &id, e.Offset
	case strings.HasPrefix(e.Path, "[") && !strings.HasPrefix(e.Path, "[anon:") &&
		e.Path != "[heap]" && e.Path != "[stack]":
		return mapping{}, errNotSupported("special mapping " + e.Path)
	default:
		m.vma.Flags |= image.MapAnonymous
		m.vma.Kind = image.VMAAnon
		switch {
		case e.Path == "[heap]":
			m.vma.Kind = image.VMAHeap
		case e.Path == "[stack]":
			m.vma.Kind = image.VMAStack
		case m.vma.Prot == 0:
			m.vma.Kind = image.VMAGuard
		}
	}
	m.content = policyOf(m.vma)
	return m, nil
}

// adviceOf returns the madvise settings VmFlags show.
func adviceOf(f procfs.VMFlags) uint32 {
	var a uint32
	for _, x := range [...]struct {
		flag   procfs.VMFlags
		advice uint32
	}{
		{procfs.VMDontCopy, image.AdviseDontFork},
		{procfs.VMWipeOnFork, image.AdviseWipeOnFork},
		{procfs.VMDontDump, image.AdviseDontDump},
		{procfs.VMHugePage, image.AdviseHugePage},
		{procfs.VMNoHugePage, image.AdviseNoHugePage},
		{procfs.VMMergeable, image.AdviseMergeable},
		{procfs.VMSeqRead, image.AdviseSequential},
		{procfs.VMRandRead, image.AdviseRandom},
	} {
		if f&x.flag != 0 {
			a |= x.advice
		}
	}
	return a
}

func protOf(p procfs.Perms) uint32 {
	var prot uint32
	if p&procfs.PermRead != 0 {
		prot |= image.ProtRead
	}
	if p&procfs.PermWrite != 0 {
		prot |= image.ProtWrite
	}
	if p&procfs.PermExec != 0 {
		prot |= image.ProtExec
	}
	return prot
}

// vdsoID records the size and a hash of the source's vdso, so that a
// restore on a kernel with another vdso is refused.
func vdsoID(pid int, e procfs.SmapsEntry) (image.FileID, error) {
	buf := make([]byte, e.End-e.Start)
	if err := linux.ReadMem(pid, e.Start, buf); err != nil {
		return image.FileID{}, fmt.Errorf("read vdso: %w", err)
	}
	sum := sha256.Sum256(buf)
	return image.FileID{Path: "[vdso]", Size: int64(len(buf)), SHA256: sum[:]}, nil
}
