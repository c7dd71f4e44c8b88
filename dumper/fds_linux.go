package dumper

import (
	"fmt"
	"strings"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/fileid"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
)

// allowedDevices are the character devices a restored process may have
// open: they have no state of their own. Keyed by (major, minor).
var allowedDevices = map[[2]uint32]string{
	{1, 3}: "/dev/null", {1, 5}: "/dev/zero", {1, 7}: "/dev/full",
	{1, 8}: "/dev/random", {1, 9}: "/dev/urandom",
}

// collectFDs describes the open files of pid, refusing any it cannot
// restore with an error naming the fd and its kind.
func collectFDs(pid int, files *fileid.Cache) ([]image.FD, error) {
	fds, err := procfs.FDs(pid)
	if err != nil {
		return nil, fmt.Errorf("list fds of pid %d: %w", pid, err)
	}
	out := make([]image.FD, 0, len(fds))
	for _, fd := range fds {
		f, err := describeFD(pid, fd, files)
		if err != nil {
			return nil, fmt.Errorf("fd %d: %w", fd.Num, err)
		}
		if f.DupOf, err = sharedWith(pid, f, out); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// sharedWith finds an earlier descriptor with the same open file
// description (dup, 2>&1) and returns 1 + its number, or 0.
func sharedWith(pid int, f image.FD, earlier []image.FD) (int32, error) {
	for _, e := range earlier {
		if e.Path != f.Path || e.DupOf != 0 {
			continue
		}
		same, err := linux.SameFile(pid, int(e.Num), pid, int(f.Num))
		if err != nil {
			return 0, err
		}
		if same {
			return e.Num + 1, nil
		}
	}
	return 0, nil
}

func describeFD(pid int, fd procfs.FD, files *fileid.Cache) (image.FD, error) {
	if kind := fd.Kind(); kind != procfs.FDFile {
		return image.FD{}, errNotSupported(fmt.Sprintf("%s (%s)", kind, fd.Target))
	}
	if strings.HasSuffix(fd.Target, " (deleted)") {
		return image.FD{}, errNotSupported("deleted file " + strings.TrimSuffix(fd.Target, " (deleted)"))
	}
	st, err := procfs.StatFD(pid, fd.Num)
	if err != nil {
		return image.FD{}, err
	}
	out := image.FD{
		Num:     int32(fd.Num),
		Kind:    image.FDFile,
		Path:    fd.Target,
		Flags:   fd.Info.Flags &^ unix.O_CLOEXEC,
		Pos:     fd.Info.Pos,
		CloExec: fd.Info.Flags&unix.O_CLOEXEC != 0,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		id, err := files.Of(fd.Target)
		if err != nil {
			return image.FD{}, err
		}
		out.File = &id
	case unix.S_IFDIR:
	case unix.S_IFCHR:
		dev := [2]uint32{unix.Major(st.Rdev), unix.Minor(st.Rdev)}
		name, ok := allowedDevices[dev]
		if !ok {
			return image.FD{}, errNotSupported(fmt.Sprintf("character device %s (%d:%d)", fd.Target, dev[0], dev[1]))
		}
		if name != fd.Target {
			return image.FD{}, errNotSupported(fmt.Sprintf("character device %s at path %s", name, fd.Target))
		}
	default:
		return image.FD{}, errNotSupported(fmt.Sprintf("file %s of type %#o", fd.Target, st.Mode&unix.S_IFMT))
	}
	return out, nil
}
