//go:build linux

package procfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// FD is one open file descriptor of a process.
type FD struct {
	Num    int
	Target string // readlink of /proc/PID/fd/N
	Info   FDInfo // parsed /proc/PID/fdinfo/N
}

// Kind classifies fd by its link target.
func (fd FD) Kind() FDKind { return ClassifyFD(fd.Target) }

// FDs returns the open file descriptors of pid, sorted by number. A
// descriptor that closes while FDs runs is left out; stop the target first
// for a consistent table.
func FDs(pid int) ([]FD, error) {
	nums, err := FDNums(pid)
	if err != nil {
		return nil, err
	}
	fds := make([]FD, 0, len(nums))
	for _, n := range nums {
		fd, err := ReadFD(pid, n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// FDNums lists the numbers of pid's open descriptors (/proc/PID/fd),
// sorted.
func FDNums(pid int) ([]int, error) {
	path := procPath(pid, "fd")
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("procfs: %w", err)
	}
	nums := make([]int, 0, len(ents))
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			return nil, fmt.Errorf("procfs: %s: bad entry %q: %w", path, clip(e.Name()), ErrFormat)
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	return nums, nil
}

// ReadFD reads the link target and fdinfo of descriptor n of pid.
func ReadFD(pid, n int) (FD, error) {
	target, err := readlink(fdPath(pid, n))
	if err != nil {
		return FD{}, err
	}
	info, err := ReadFDInfo(pid, n)
	if err != nil {
		return FD{}, err
	}
	return FD{Num: n, Target: target, Info: info}, nil
}

// ReadFDInfo reads and parses /proc/PID/fdinfo/N.
func ReadFDInfo(pid, n int) (FDInfo, error) {
	return readParse(procPath(pid, "fdinfo/"+strconv.Itoa(n)), ParseFDInfo)
}

// StatFD stats the file that descriptor n of pid refers to, following
// /proc/PID/fd/N, to tell a character device from a regular file or FIFO.
// For pipes, sockets and anonymous inodes it describes the pseudo inode.
func StatFD(pid, n int) (unix.Stat_t, error) {
	var st unix.Stat_t
	path := fdPath(pid, n)
	if err := unix.Stat(path, &st); err != nil {
		return st, fmt.Errorf("procfs: %w", &fs.PathError{Op: "stat", Path: path, Err: err})
	}
	return st, nil
}

// fdPath returns /proc/PID/fd/N.
func fdPath(pid, n int) string {
	return procPath(pid, "fd/"+strconv.Itoa(n))
}
