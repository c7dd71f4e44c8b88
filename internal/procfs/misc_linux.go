//go:build linux

package procfs

import (
	"fmt"
	"os"
	"slices"
	"strconv"
)

// Cmdline returns the raw bytes of /proc/PID/cmdline: NUL-terminated
// arguments, or whatever the process wrote over its argument area.
func Cmdline(pid int) ([]byte, error) {
	return readFile(procPath(pid, "cmdline"))
}

// Environ returns the raw bytes of /proc/PID/environ.
func Environ(pid int) ([]byte, error) {
	return readFile(procPath(pid, "environ"))
}

// Comm returns /proc/PID/comm without the trailing newline.
func Comm(pid int) (string, error) {
	return readComm(procPath(pid, "comm"))
}

// TaskComm returns /proc/PID/task/TID/comm without the trailing newline.
func TaskComm(pid, tid int) (string, error) {
	return readComm(taskPath(pid, tid, "comm"))
}

func readComm(path string) (string, error) {
	b, err := readFile(path)
	if err != nil {
		return "", err
	}
	return trimNL(string(b)), nil
}

// Personality returns the persona from /proc/PID/personality (hex).
func Personality(pid int) (uint32, error) {
	v, err := readParse(procPath(pid, "personality"), func(b []byte) (uint64, error) {
		return parseHexLine(b, 32)
	})
	return uint32(v), err
}

// TimerSlack returns the timer slack in nanoseconds from
// /proc/PID/timerslack_ns.
func TimerSlack(pid int) (uint64, error) {
	return readParse(procPath(pid, "timerslack_ns"), func(b []byte) (uint64, error) {
		return parseDecLine(b, 64)
	})
}

// Cwd returns the target of /proc/PID/cwd.
func Cwd(pid int) (string, error) {
	return readlink(procPath(pid, "cwd"))
}

// Root returns the target of /proc/PID/root.
func Root(pid int) (string, error) {
	return readlink(procPath(pid, "root"))
}

// Exe returns the target of /proc/PID/exe; a deleted executable ends in
// " (deleted)".
func Exe(pid int) (string, error) {
	return readlink(procPath(pid, "exe"))
}

// Tasks returns the thread ids in /proc/PID/task, sorted.
func Tasks(pid int) ([]int, error) {
	path := procPath(pid, "task")
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("procfs: %w", err)
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			return nil, fmt.Errorf("procfs: %s: bad entry %q: %w", path, clip(e.Name()), ErrFormat)
		}
		tids = append(tids, tid)
	}
	slices.Sort(tids)
	return tids, nil
}
