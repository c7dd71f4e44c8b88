package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/precopy"
)

// An outcome record is what a destination keeps on disk of an incoming
// migration, in STATE_DIR/outcomes/ID.json, for a source that asks what
// became of it after this daemon restarted (the in-memory outcomes are
// gone then).
//
// It is written when the process is created (pre-copy, not in the
// freeze), with the process's start time. The process is traced with
// PTRACE_O_EXITKILL until it is let go, so if this daemon dies before
// that, the process dies with it: after a restart, the recorded process
// alive (same PID, same start time) means it was let go and runs here. A
// second write after Running marks it committed, which also answers for
// a process that has exited since. A migration that fails here removes
// its record.
type outcomeRecord struct {
	ID        string    `json:"id"`
	PID       int       `json:"pid"`
	StartTime uint64    `json:"start_time"` // /proc/PID/stat field 22
	Committed bool      `json:"committed"`
	At        time.Time `json:"at"`
}

func (d *Daemon) outcomesDir() string { return filepath.Join(d.cfg.StateDir, "outcomes") }

// validID tells whether a migration ID from a peer may name a file: the
// source makes them from its node name, the PID and a time.
func validID(id string) bool {
	if id == "" || len(id) > 200 || id[0] == '.' {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// recordOutcome writes migration id's record for process pid durably and
// returns the process's start time; start 0 reads it.
func (d *Daemon) recordOutcome(id string, pid int, start uint64, committed bool) (uint64, error) {
	if start == 0 {
		st, err := procfs.Stat(pid)
		if err != nil {
			return 0, fmt.Errorf("outcome record %s: %w", id, err)
		}
		start = st.StartTime
	}
	return start, writeRecord(d.outcomesDir(), id, outcomeRecord{ID: id, PID: pid, StartTime: start, Committed: committed, At: time.Now()})
}

// forgetOutcome removes migration id's record (the migration failed here).
func (d *Daemon) forgetOutcome(id string) { d.removeRecord(d.outcomesDir(), id) }

// storedOutcome answers for migration id from its record: committed when
// marked so or when its process lives (see outcomeRecord), aborted
// otherwise, and aborted without a record (the process was never made,
// or its migration failed here).
func (d *Daemon) storedOutcome(id string) string {
	if !validID(id) {
		return precopy.OutcomeAborted
	}
	var r outcomeRecord
	if err := readRecord(d.outcomesDir(), id, &r); errors.Is(err, os.ErrNotExist) {
		return precopy.OutcomeAborted
	} else if err != nil || r.ID != id {
		d.log.Warn("unreadable outcome record", "id", id, "error", err)
		return precopy.OutcomeAborted
	}
	if r.Committed {
		return precopy.OutcomeCommitted
	}
	if st, err := procfs.Stat(r.PID); err == nil && st.StartTime == r.StartTime && st.State != 'Z' && st.State != 'X' {
		return precopy.OutcomeCommitted
	}
	return precopy.OutcomeAborted
}

// pruneOutcomes removes the records older than outcomeTTL.
func (d *Daemon) pruneOutcomes() {
	entries, _ := os.ReadDir(d.outcomesDir())
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > outcomeTTL {
			_ = os.Remove(filepath.Join(d.outcomesDir(), e.Name()))
		}
	}
}
