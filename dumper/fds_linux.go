package dumper

import (
	"fmt"
	"slices"
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
		out = append(out, f)
	}
	if err := markShared(out, func(a, b int32) (int, error) { return linux.CompareFiles(pid, int(a), pid, int(b)) }); err != nil {
		return nil, err
	}
	return out, nil
}

// sharing is what descriptors of one open file description (dup, 2>&1)
// have in common: the same file at the same offset with the same flags
// (close-on-exec, which is the descriptor's own, is not in Flags).
type sharing struct {
	path  string
	pos   int64
	flags uint32
}

// markShared sets DupOf of every descriptor of fds (sorted by number)
// that shares its open file description with a lower one: 1 + the lowest
// of them. cmp orders descriptions (0: the same). Candidates are grouped
// by what sharing descriptors have in common, and each group is sorted by
// cmp, so that a process with many descriptors of one file (a server's
// /dev/null, say) costs n log n comparisons, not n squared: 500 of them
// took 283 ms of freeze that way.
func markShared(fds []image.FD, cmp func(a, b int32) (int, error)) error {
	groups := make(map[sharing][]int)
	for i, f := range fds {
		k := sharing{f.Path, f.Pos, f.Flags}
		groups[k] = append(groups[k], i)
	}
	var err error
	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		slices.SortStableFunc(g, func(a, b int) int {
			if err != nil {
				return 0
			}
			c, e := cmp(fds[a].Num, fds[b].Num)
			if e != nil {
				err = e
			}
			return c
		})
		if err != nil {
			return err
		}
		// Runs of one description, each in fd order (the sort is stable
		// and g was in fd order): all but the run's first share it.
		lead := g[0]
		for i := 1; i < len(g); i++ {
			c, e := cmp(fds[g[i-1]].Num, fds[g[i]].Num)
			if e != nil {
				return e
			}
			if c != 0 {
				lead = g[i]
				continue
			}
			fds[g[i]].DupOf = fds[lead].Num + 1
		}
	}
	return nil
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
