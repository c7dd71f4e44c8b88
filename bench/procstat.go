package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/migrate-dev/migrate/internal/procfs"
)

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, 100
// on x86-64 whatever the kernel's HZ (sysconf needs cgo).
const userHZ = 100

// daemonProc is a lab host's migrated seen from this process's PID
// namespace, where /proc has its CPU and memory counters.
type daemonProc struct {
	host  string
	pid   int // here
	start uint64
}

// findDaemon returns the process in the PID namespace of initPID (a lab
// host's init, a PID here) whose PID there is nsPID (lab.Host.DaemonPID
// is in the host's namespace).
func findDaemon(host string, initPID, nsPID int) (daemonProc, error) {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", initPID))
	if err != nil {
		return daemonProc{}, fmt.Errorf("%s: pid namespace of its init: %w", host, err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return daemonProc{}, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); l != ns {
			continue
		}
		st, err := procfs.Status(pid)
		if err != nil || len(st.NSpid) < 2 || st.NSpid[len(st.NSpid)-1] != nsPID {
			continue
		}
		s, err := procfs.Stat(pid)
		if err != nil {
			continue
		}
		return daemonProc{host: host, pid: pid, start: s.StartTime}, nil
	}
	return daemonProc{}, fmt.Errorf("%s: no process with pid %d in its namespace", host, nsPID)
}

// cpu returns the daemon's user+system time in seconds, all threads.
func (d daemonProc) cpu() (float64, error) {
	s, err := procfs.Stat(d.pid)
	if err != nil {
		return 0, fmt.Errorf("migrated of %s: %w", d.host, err)
	}
	if s.StartTime != d.start {
		return 0, fmt.Errorf("migrated of %s (pid %d here) restarted", d.host, d.pid)
	}
	return float64(s.UTime+s.STime) / userHZ, nil
}

// resetPeak resets the daemon's peak RSS (VmHWM) to its current RSS.
func (d daemonProc) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", d.pid), []byte("5"), 0)
}

// memory returns the daemon's current and peak RSS in MiB.
func (d daemonProc) memory() (rss, peak float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.pid))
	if err != nil {
		return 0, 0, err
	}
	rssKB, err1 := statusKB(b, "VmRSS")
	peakKB, err2 := statusKB(b, "VmHWM")
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("migrated of %s: %w", d.host, err)
	}
	return float64(rssKB) / 1024, float64(peakKB) / 1024, nil
}

// statusKB returns a "Key:   123 kB" field of /proc/PID/status.
func statusKB(status []byte, key string) (uint64, error) {
	for line := range bytes.Lines(status) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(k) != key {
			continue
		}
		v = bytes.TrimSpace(v)
		v, ok = bytes.CutSuffix(v, []byte(" kB"))
		if !ok {
			break
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			break
		}
		return n, nil
	}
	return 0, fmt.Errorf("no %s in kB in status", key)
}

// memAvailableMiB returns MemAvailable from /proc/meminfo.
func memAvailableMiB() (int, error) {
	b, err := readMeminfo()
	if err != nil {
		return 0, err
	}
	kb, err := statusKB(b, "MemAvailable")
	return int(kb / 1024), err
}

func readMeminfo() ([]byte, error) { return os.ReadFile("/proc/meminfo") }
