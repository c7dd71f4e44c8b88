package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/migrate-dev/migrate/cluster"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/precopy"
	"golang.org/x/sys/unix"
)

// A handover record is written to STATE_DIR/handover/ID.json before the
// source sends Go, and removed once the handover is settled. From the
// record on, the source process carries a pending SIGSTOP (see
// dumper.Session.Hold): if this daemon dies before settling, the kernel
// detaches the process and it stops. The next daemon finds the record,
// asks the destination what became of the migration, and kills the
// stopped process (the destination runs it) or lets it continue (it does
// not).
type handoverRecord struct {
	ID        string    `json:"id"`
	PID       int       `json:"pid"`
	StartTime uint64    `json:"start_time"` // /proc/PID/stat field 22: tells a reused PID apart
	Target    string    `json:"target"`     // node name (TLS peer name)
	QUICAddr  string    `json:"quic_addr"`
	At        time.Time `json:"at"`
}

func (d *Daemon) handoverDir() string { return filepath.Join(d.cfg.StateDir, "handover") }

// recordHandover writes the record durably (file and directory synced).
func (d *Daemon) recordHandover(r handoverRecord) error {
	st, err := procfs.Stat(r.PID)
	if err != nil {
		return err
	}
	r.StartTime, r.At = st.StartTime, time.Now()
	return writeRecord(d.handoverDir(), r.ID, r)
}

func (d *Daemon) forgetHandover(id string) { d.removeRecord(d.handoverDir(), id) }

// settleHandovers settles the handovers a previous daemon left, each on
// its own goroutine, until ctx ends.
func (d *Daemon) settleHandovers(ctx context.Context) {
	entries, _ := os.ReadDir(d.handoverDir())
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		var r handoverRecord
		if err := readRecord(d.handoverDir(), id, &r); err != nil || r.ID != id {
			d.log.Warn("unreadable handover record", "file", e.Name(), "error", err)
			continue
		}
		go d.settleHandover(ctx, r)
	}
}

func (d *Daemon) settleHandover(ctx context.Context, r handoverRecord) {
	log := d.log.With("id", r.ID, "pid", r.PID, "to", r.Target)
	// A pidfd taken after the start-time check names this process for
	// good: the PID may be reused while the destination is asked.
	pidfd, err := linux.PidfdOpen(r.PID, 0)
	if err == nil {
		defer unix.Close(pidfd)
	}
	if st, serr := procfs.Stat(r.PID); err != nil || serr != nil || st.StartTime != r.StartTime {
		log.Info("handover record of a process that is gone")
		d.forgetHandover(r.ID)
		return
	}
	target := cluster.Member{Name: r.Target, Meta: cluster.Meta{QUICAddr: r.QUICAddr}}
	// No deadline but the daemon's own: resuming while in doubt could
	// leave two copies; the process stays stopped until the destination
	// answers.
	state, err := precopy.AwaitOutcome(ctx, func(ctx context.Context) (string, error) {
		return d.queryOutcome(ctx, target, r.ID, r.PID)
	})
	switch {
	case err != nil:
		return // this daemon stops; the next one asks again
	case state == precopy.OutcomeCommitted:
		log.Warn("an earlier daemon died during this handover; the destination runs the process: removing the copy here")
		_ = linux.PidfdSendSignal(pidfd, unix.SIGKILL)
	default:
		log.Warn("an earlier daemon died during this handover; the destination does not run the process: it continues here")
		_ = linux.PidfdSendSignal(pidfd, unix.SIGCONT)
	}
	d.forgetHandover(r.ID)
}
