//go:build linux

package procfs

import (
	"fmt"
	"os"
	"strconv"
)

// procPath returns /proc/PID/name.
func procPath(pid int, name string) string {
	return "/proc/" + strconv.Itoa(pid) + "/" + name
}

// taskPath returns /proc/PID/task/TID/name.
func taskPath(pid, tid int, name string) string {
	return "/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/" + name
}

// readFile reads a proc file. The error keeps the *fs.PathError.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("procfs: %w", err)
	}
	return b, nil
}

// readParse reads path and parses it with parse, naming path in errors.
func readParse[T any](path string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	b, err := readFile(path)
	if err != nil {
		return zero, err
	}
	v, err := parse(b)
	if err != nil {
		return zero, fmt.Errorf("procfs: parse %s: %w", path, err)
	}
	return v, nil
}

// readlink reads a symlink in /proc. The error keeps the *fs.PathError.
func readlink(path string) (string, error) {
	s, err := os.Readlink(path)
	if err != nil {
		return "", fmt.Errorf("procfs: %w", err)
	}
	return s, nil
}

// Maps reads and parses /proc/PID/maps.
func Maps(pid int) ([]Mapping, error) {
	return readParse(procPath(pid, "maps"), ParseMaps)
}

// Smaps reads and parses /proc/PID/smaps.
func Smaps(pid int) ([]SmapsEntry, error) {
	return readParse(procPath(pid, "smaps"), ParseSmaps)
}

// Stat reads and parses /proc/PID/stat.
func Stat(pid int) (ProcStat, error) {
	return readParse(procPath(pid, "stat"), ParseStat)
}

// TaskStat reads and parses /proc/PID/task/TID/stat.
func TaskStat(pid, tid int) (ProcStat, error) {
	return readParse(taskPath(pid, tid, "stat"), ParseStat)
}

// Status reads and parses /proc/PID/status.
func Status(pid int) (ProcStatus, error) {
	return readParse(procPath(pid, "status"), ParseStatus)
}

// TaskStatus reads and parses /proc/PID/task/TID/status.
func TaskStatus(pid, tid int) (ProcStatus, error) {
	return readParse(taskPath(pid, tid, "status"), ParseStatus)
}

// Limits reads and parses /proc/PID/limits.
func Limits(pid int) (Rlimits, error) {
	return readParse(procPath(pid, "limits"), ParseLimits)
}

// Auxv reads and parses /proc/PID/auxv.
func Auxv(pid int) ([]AuxvEntry, error) {
	return readParse(procPath(pid, "auxv"), ParseAuxv)
}
