package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/migrate-dev/migrate/internal/atomicfile"
	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
)

// proc identifies a process the lab started: a PID is only trusted while
// the process there has the same start time.
type proc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

type hostState struct {
	Name      string `json:"name"`
	Index     int    `json:"index"`
	Init      proc   `json:"init"`
	DaemonPID int    `json:"daemon_pid,omitempty"` // in the host's PID namespace
}

type state struct {
	Name   string      `json:"name"`
	Hosts  int         `json:"hosts"`
	Switch proc        `json:"switch"`
	Host   []hostState `json:"host"`
}

func identify(pid int) (proc, error) {
	st, err := procfs.Stat(pid)
	if err != nil {
		return proc{}, err
	}
	return proc{PID: pid, Start: st.StartTime}, nil
}

// alive reports whether p still runs (a zombie does not).
func (p proc) alive() bool {
	if p.PID <= 0 {
		return false
	}
	st, err := procfs.Stat(p.PID)
	return err == nil && st.StartTime == p.Start && st.State != 'Z' && st.State != 'X'
}

// stop ends p: SIGTERM, then SIGKILL after grace. It reaps p when this
// process is its parent, and otherwise waits until it is gone or a zombie.
func (p proc) stop(grace time.Duration) {
	if !p.alive() {
		p.reap()
		return
	}
	_ = unix.Kill(p.PID, unix.SIGTERM)
	if p.waitGone(grace) {
		return
	}
	if p.alive() {
		_ = unix.Kill(p.PID, unix.SIGKILL)
	}
	p.waitGone(5 * time.Second)
}

func (p proc) waitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		p.reap()
		if !p.alive() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (p proc) reap() {
	if p.PID > 0 {
		var ws unix.WaitStatus
		_, _ = unix.Wait4(p.PID, &ws, unix.WNOHANG, nil)
	}
}

func (l *Lab) statePath() string { return filepath.Join(l.cfg.dir(), "state.json") }

// save writes the state atomically; called after every process is made.
func (l *Lab) save() error {
	b, err := json.MarshalIndent(l.st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(l.statePath(), b, 0o600); err != nil {
		return fmt.Errorf("save lab state: %w", err)
	}
	return nil
}

func (l *Lab) load() error {
	b, err := os.ReadFile(l.statePath())
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &l.st); err != nil {
		return fmt.Errorf("lab state %s: %w", l.statePath(), err)
	}
	return nil
}

// lock serialises lab operations on one lab name.
func lock(cfg Config) (func(), error) {
	if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	path := filepath.Join(cfg.RunDir, "."+cfg.Name+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lab: lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
