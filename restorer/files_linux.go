package restorer

import (
	"errors"
	"fmt"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
)

// asProcess runs fn with the task's filesystem identity set to the image's
// (supplementary groups, fsgid, fsuid), so that every open is checked
// against the restored process's own permissions: root's DAC capabilities
// are dropped while fsuid is not 0. Afterwards the task is root again for
// the rest of the restore.
func (t *task) asProcess(c image.Creds, fn func() error) error {
	if err := t.setGroups(c.Groups); err != nil {
		return err
	}
	if err := t.do(fmt.Sprintf("setfsgid %d", c.FSGID), unix.SYS_SETFSGID, uint64(c.FSGID)); err != nil {
		return err
	}
	if err := t.do(fmt.Sprintf("setfsuid %d", c.FSUID), unix.SYS_SETFSUID, uint64(c.FSUID)); err != nil {
		return err
	}
	ferr := fn()
	uerr := t.do("return to root fsuid", unix.SYS_SETFSUID, 0)
	gerr := t.do("return to root fsgid", unix.SYS_SETFSGID, 0)
	return errors.Join(ferr, uerr, gerr)
}

func (t *task) setGroups(groups []uint32) error {
	defer t.reset()
	b := make([]byte, 4*len(groups))
	for i, g := range groups {
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(g), byte(g>>8), byte(g>>16), byte(g>>24)
	}
	addr := uint64(0)
	if len(b) > 0 {
		var err error
		if addr, err = t.put(b); err != nil {
			return err
		}
	}
	return t.do(fmt.Sprintf("setgroups %v", groups), unix.SYS_SETGROUPS, uint64(len(groups)), addr)
}

// atFDCWD is AT_FDCWD as a system call argument.
var atFDCWD = func() uint64 { v := int64(unix.AT_FDCWD); return uint64(v) }()

// open opens path in the task; errors name the file and the identity.
func (t *task) open(path string, flags uint64, who image.Creds) (uint64, error) {
	defer t.reset()
	p, err := t.putString(path)
	if err != nil {
		return 0, err
	}
	fd, err := t.call(unix.SYS_OPENAT, atFDCWD, p, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", openWhat(path, who), err)
	}
	return fd, nil
}

// openAs opens path like open, as a call whose answer must be fd (see
// doWant); its errors start with prefix.
func (t *task) openAs(prefix, path string, flags uint64, who image.Creds, fd uint64) error {
	defer t.reset()
	p, err := t.putString(path)
	if err != nil {
		return err
	}
	return t.doWant(prefix+openWhat(path, who), fd, unix.SYS_OPENAT, atFDCWD, p, flags|unix.O_CLOEXEC, 0)
}

// openWhat names an open in the task, for its errors.
func openWhat(path string, who image.Creds) string {
	return fmt.Sprintf("open %s as uid %d gid %d", path, who.FSUID, who.FSGID)
}

// openMappedFiles opens every file the process maps, once per path: read
// only for private mappings, read-write only for writable shared ones.
func (t *task) openMappedFiles(vmas []image.VMA, who image.Creds) (map[string]uint64, error) {
	fds := make(map[string]uint64)
	write := make(map[string]bool)
	for _, v := range vmas {
		if v.Kind == image.VMAFile && v.Flags&image.MapShared != 0 && v.Prot&image.ProtWrite != 0 {
			write[v.File.Path] = true
		}
	}
	for _, v := range vmas {
		if v.Kind != image.VMAFile {
			continue
		}
		if _, ok := fds[v.File.Path]; ok {
			continue
		}
		flags := uint64(unix.O_RDONLY)
		if write[v.File.Path] {
			flags = unix.O_RDWR
		}
		fd, err := t.open(v.File.Path, flags, who)
		if err != nil {
			t.closeAll(fds)
			return nil, fmt.Errorf("mapping %#x-%#x: %w", v.Start, v.End, err)
		}
		fds[v.File.Path] = fd
	}
	return fds, nil
}

func (t *task) closeAll(fds map[string]uint64) {
	for _, fd := range fds {
		_ = t.do("close", unix.SYS_CLOSE, fd)
	}
}

// openFDs recreates the process's file descriptors at their numbers, with
// their flags and offsets.
func (t *task) openFDs(p *image.Process) error {
	// Which descriptors an open gets is known: the lowest free one. So the
	// opens go in the batch too, each checked to have got the descriptor
	// foreseen (one injected call each cost 0.3 ms of freeze: 200 of them
	// 54 ms). The task's own descriptors are read first.
	open, err := procfs.FDNums(t.pid)
	if err != nil {
		return fmt.Errorf("descriptors of the new process: %w", err)
	}
	fds := &fdTable{used: make(map[uint64]bool, len(open)+len(p.FDs))}
	for _, n := range open {
		fds.used[uint64(n)] = true
	}
	for _, f := range p.FDs {
		// Not wrapped with f.Num: a call may run (and fail) in a later
		// flush; each call's own name says which descriptor it is for.
		if err := t.openFD(f, p.Creds, fds); err != nil {
			return err
		}
	}
	return nil
}

// fdTable follows the task's descriptor table, to foresee what an open
// gets.
type fdTable struct {
	used map[uint64]bool
	low  uint64 // no free descriptor below
}

// lowest returns the lowest free descriptor.
func (d *fdTable) lowest() uint64 {
	for d.used[d.low] {
		d.low++
	}
	return d.low
}

func (d *fdTable) take(n uint64) { d.used[n] = true }

func (d *fdTable) free(n uint64) {
	delete(d.used, n)
	d.low = min(d.low, n)
}

func (t *task) openFD(f image.FD, who image.Creds, fds *fdTable) error {
	num := uint64(f.Num)
	cloexec := uint64(0)
	if f.CloExec {
		cloexec = unix.O_CLOEXEC
	}
	if f.DupOf != 0 { // the description exists already: share it
		fds.take(num)
		return t.do(fmt.Sprintf("fd %d: dup3 of fd %d", num, f.DupOf-1), unix.SYS_DUP3, uint64(f.DupOf-1), num, cloexec)
	}
	flags := uint64(f.Flags) &^ (unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC | unix.O_NOCTTY)
	fd := fds.lowest()
	if err := t.openAs(fmt.Sprintf("fd %d: ", num), f.Path, flags, who, fd); err != nil {
		return err
	}
	fds.take(fd)
	if fd != num {
		fds.take(num)
		fds.free(fd)
	}
	// The rest uses fd or num, known already.
	if fd != num {
		if err := t.do(fmt.Sprintf("fd %d: dup3 from %d", num, fd), unix.SYS_DUP3, fd, num, cloexec); err != nil {
			return err
		}
		if err := t.do(fmt.Sprintf("fd %d: close %d", num, fd), unix.SYS_CLOSE, fd); err != nil {
			return err
		}
	} else if !f.CloExec {
		if err := t.do(fmt.Sprintf("fd %d: clear close-on-exec", num), unix.SYS_FCNTL, num, unix.F_SETFD, 0); err != nil {
			return err
		}
	}
	if f.Pos > 0 && f.File != nil {
		return t.do(fmt.Sprintf("fd %d: seek to %d", num, f.Pos), unix.SYS_LSEEK, num, uint64(f.Pos), unix.SEEK_SET)
	}
	return nil
}

func (t *task) chdir(dir string) error {
	defer t.reset()
	p, err := t.putString(dir)
	if err != nil {
		return err
	}
	return t.do(fmt.Sprintf("chdir %s", dir), unix.SYS_CHDIR, p)
}
