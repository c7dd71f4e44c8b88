package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/cluster"
	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/precopy"
	"github.com/migrate-dev/migrate/transport"
)

// MigrateOut moves process pid to the node named (or addressed) by host.
// Progress is called after every round. The process is never lost: on
// error it runs on here as before.
func (d *Daemon) MigrateOut(ctx context.Context, req api.MigrateRequest, progress func(precopy.Progress)) (precopy.Report, error) {
	var rep precopy.Report
	target, err := d.findNode(req.Host)
	if err != nil {
		return rep, err
	}
	if d.identity == nil {
		return rep, errors.New("this node has no migration identity (TLS)")
	}
	cfg := transport.DefaultConfig()
	cfg.Compress = req.Compress != "none"
	if req.Streams > 1 {
		// One page stream carries a migration: on this 2-core machine one
		// is as fast as four (BenchmarkPages), and several would need the
		// destination to join them per round before each layout.
		return rep, fmt.Errorf("%d page streams: only one is supported", req.Streams)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := transport.Dial(dctx, target.Meta.QUICAddr, d.identity, target.Name, cfg)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return rep, fmt.Errorf("connect to %s at %s: no answer in 10s (is its migrated running?): %w", target.Name, target.Meta.QUICAddr, err)
	}
	if err != nil {
		return rep, fmt.Errorf("connect to %s at %s: %w", target.Name, target.Meta.QUICAddr, err)
	}
	defer conn.Close()
	ctl, err := conn.OpenControl(ctx)
	if err != nil {
		return rep, err
	}
	pages, err := conn.OpenPages(ctx)
	if err != nil {
		return rep, err
	}
	s, err := dumper.Seize(req.PID)
	if err != nil {
		return rep, err
	}
	d.log.Info("migrating", "pid", req.PID, "to", target.Name)
	id := fmt.Sprintf("%s-%d-%d", d.cfg.Name, req.PID, time.Now().UnixNano())
	rep, err = precopy.Migrate(ctx, s, ctl, pages, precopy.Options{
		ID:          id,
		MaxDowntime: time.Duration(req.MaxDowntimeMS * float64(time.Millisecond)),
		MaxRounds:   req.MaxRounds,
		NoThrottle:  req.NoThrottle,
		Progress:    progress,
		Hold: func() error {
			return d.recordHandover(handoverRecord{ID: id, PID: req.PID, Target: target.Name, QUICAddr: target.Meta.QUICAddr})
		},
		Settled: func() { d.forgetHandover(id) },
		Fault:   d.fault,
		Resolve: func(ctx context.Context) (string, error) {
			state, err := d.queryOutcome(ctx, target, id, req.PID)
			d.log.Warn("handover broke after go; asked the destination", "pid", req.PID, "to", target.Name, "outcome", state, "error", err)
			return state, err
		},
	})
	rep.WireBytes = pages.Stats().WireBytes
	if errors.Is(err, precopy.ErrExited) {
		d.log.Warn("process exited during its migration", "pid", req.PID, "to", target.Name, "error", err)
		return rep, fmt.Errorf("migrate pid %d to %s: %w", req.PID, target.Name, err)
	}
	if err != nil {
		d.log.Warn("migration failed; the process runs here as before", "pid", req.PID, "to", target.Name, "error", err)
		return rep, fmt.Errorf("migrate pid %d to %s: %w (the process still runs here)", req.PID, target.Name, err)
	}
	d.log.Info("migrated", "pid", req.PID, "to", target.Name, "frozen", rep.Frozen, "rounds", rep.Rounds)
	return rep, nil
}

// queryOutcome asks target, over a new connection, what became of
// migration id.
func (d *Daemon) queryOutcome(ctx context.Context, target cluster.Member, id string, pid int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, target.Meta.QUICAddr, d.identity, target.Name, transport.DefaultConfig())
	if err != nil {
		return "", err
	}
	defer conn.Close()
	ctl, err := conn.OpenControl(ctx)
	if err != nil {
		return "", err
	}
	if err := ctl.Send(ctx, precopy.MsgQuery, precopy.Encode(precopy.Query{ID: id, PID: pid})); err != nil {
		return "", err
	}
	var out precopy.Outcome
	if err := recvInto(ctx, ctl, precopy.MsgOutcome, &out); err != nil {
		return "", err
	}
	return out.State, nil
}

// findNode resolves a node name, gossip address, migration address or IP
// to a live member other than this node.
func (d *Daemon) findNode(host string) (cluster.Member, error) {
	var names []string
	for _, m := range d.cluster.Members() {
		names = append(names, m.Name)
		ip, _, _ := net.SplitHostPort(m.Address)
		qip, _, _ := net.SplitHostPort(m.Meta.QUICAddr)
		if host != m.Name && host != m.Address && host != m.Meta.QUICAddr && host != ip && host != qip {
			continue
		}
		switch {
		case m.Name == d.cfg.Name:
			return m, fmt.Errorf("%s is this node", host)
		case m.State != cluster.StateAlive:
			return m, fmt.Errorf("node %s is %s", m.Name, m.State)
		case m.Meta.QUICAddr == "":
			return m, fmt.Errorf("node %s advertises no migration address", m.Name)
		}
		return m, nil
	}
	return cluster.Member{}, fmt.Errorf("unknown host %q (cluster: %s)", host, strings.Join(names, ", "))
}
