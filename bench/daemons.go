package main

import (
	"context"
	"fmt"
	"time"

	"github.com/migrate-dev/migrate/lab"
	"golang.org/x/sys/unix"
)

// restartDaemons gives every run fresh daemons, so that a run's peak RSS
// is its own (the Go runtime keeps freed heap for a while, and the next
// run's peak would include the last one's page store) and no state
// carries over. One host at a time: a daemon joins the other at start.
func (h *harness) restartDaemons(ctx context.Context) error {
	for _, host := range []*lab.Host{h.h1, h.h2} {
		pid := host.DaemonPID()
		if err := host.KillDaemon(unix.SIGKILL); err != nil {
			return fmt.Errorf("stop migrated of %s: %w", host.Name, err)
		}
		if !host.WaitGone(pid, 5*time.Second, 10*time.Millisecond) {
			return fmt.Errorf("migrated of %s (pid %d there) does not exit", host.Name, pid)
		}
		if err := host.StartDaemon(ctx); err != nil {
			return fmt.Errorf("restart migrated of %s: %w", host.Name, err)
		}
	}
	if err := h.waitPeers(ctx, 15*time.Second); err != nil {
		return err
	}
	return h.findDaemons()
}

// findDaemons finds both daemons' PIDs in this namespace.
func (h *harness) findDaemons() error {
	var err error
	if h.d1, err = findDaemon("h1", h.h1.InitPID(), h.h1.DaemonPID()); err != nil {
		return err
	}
	h.d2, err = findDaemon("h2", h.h2.InitPID(), h.h2.DaemonPID())
	return err
}

// waitPeers waits until each daemon sees the other alive with a
// migration address.
func (h *harness) waitPeers(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, pair := range [][2]*lab.Host{{h.h1, h.h2}, {h.h2, h.h1}} {
		for !sees(ctx, pair[0], pair[1].Name) {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s does not see %s alive %v after a daemon restart", pair[0].Name, pair[1].Name, d)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

func sees(ctx context.Context, from *lab.Host, name string) bool {
	ns, err := from.Client().Nodes(ctx)
	if err != nil {
		return false
	}
	for _, n := range ns {
		if n.Name == name {
			return n.State == "alive" && n.QUICAddr != ""
		}
	}
	return false
}
