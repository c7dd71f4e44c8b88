package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/precopy"
	"github.com/migrate-dev/migrate/restorer"
	"github.com/migrate-dev/migrate/transport"
	"golang.org/x/sys/unix"
)

// serveMigrations accepts migrations from other nodes until ctx ends.
func (d *Daemon) serveMigrations(ctx context.Context, ln *transport.Listener) {
	for {
		conn, err := ln.Accept(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("accept migration", "error", err)
			}
			return
		}
		go func() {
			if err := d.receive(ctx, conn); err != nil {
				d.log.Warn("incoming migration failed", "from", conn.PeerName(), "error", err)
			}
			conn.Close()
		}()
	}
}

// receive is the destination side: pages into a store, the final state,
// a stopped restore, and the process runs only when the source says so.
// Any failure kills what was built; the source then resumes its copy.
func (d *Daemon) receive(ctx context.Context, conn *transport.Conn) error {
	ctl, err := conn.AcceptControl(ctx)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = ctl.Send(sctx, precopy.MsgError, precopy.Encode(precopy.Error{Error: err.Error()}))
		return err
	}
	var hello precopy.Hello
	if err := recvInto(ctx, ctl, precopy.MsgHello, &hello); err != nil {
		return fail(err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", hello.PID)); err == nil {
		return fail(fmt.Errorf("pid %d is in use on %s", hello.PID, d.cfg.Name))
	}
	d.log.Info("incoming migration", "from", conn.PeerName(), "pid", hello.PID, "comm", hello.Comm)
	if err := ctl.Send(ctx, precopy.MsgAccept, nil); err != nil {
		return err
	}
	store := restorer.NewPageStore()
	pagesDone := make(chan error, 1)
	go func() { pagesDone <- receivePages(ctx, conn, store) }()
	typ, body, err := ctl.Recv(ctx)
	if err != nil {
		return err
	}
	if typ != precopy.MsgFinal {
		return fmt.Errorf("source: %s", messageError(typ, body))
	}
	d.fault("final")
	if err := <-pagesDone; err != nil {
		return fail(fmt.Errorf("pages: %w", err))
	}
	c, err := image.Unmarshal(body)
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		return fail(fmt.Errorf("final state: %w", err))
	}
	return d.restoreAndCommit(ctx, ctl, c, store, fail)
}

func (d *Daemon) restoreAndCommit(ctx context.Context, ctl *transport.Control, c *image.Checkpoint, store *restorer.PageStore, fail func(error) error) error {
	store.Keep(c.Processes[0].MM.VMAs)
	r, err := restorer.RestoreImage(ctx, c, store.Seal(), restorer.Options{Stopped: true})
	if err != nil {
		return fail(err)
	}
	d.fault("restored")
	ready := precopy.Ready{RestoreMS: float64(r.Duration.Microseconds()) / 1e3}
	if err := ctl.Send(ctx, precopy.MsgReady, precopy.Encode(ready)); err != nil {
		r.Abort()
		return err
	}
	gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	typ, body, err := ctl.Recv(gctx)
	cancel()
	if err != nil || typ != precopy.MsgGo {
		r.Abort()
		if err == nil {
			err = errors.New(messageError(typ, body))
		}
		return fmt.Errorf("source did not confirm: %w", err)
	}
	d.fault("go")
	if err := r.Commit(); err != nil {
		return fail(err)
	}
	d.procs.Add(1)
	go d.reap(r.PID)
	d.log.Info("migrated process runs here", "pid", r.PID, "restore", r.Duration)
	if err := ctl.Send(ctx, precopy.MsgRunning, nil); err != nil {
		return err
	}
	// Closing the connection now could drop Running before the source
	// read it: wait for the source's last word.
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if typ, _, err := ctl.Recv(dctx); err != nil || typ != precopy.MsgDone {
		d.log.Warn("source did not acknowledge the handover", "pid", r.PID, "error", err)
	}
	return nil
}

// receivePages stores every batch until the sender closes the stream.
func receivePages(ctx context.Context, conn *transport.Conn, store *restorer.PageStore) error {
	pr, err := conn.AcceptPages(ctx)
	if err != nil {
		return err
	}
	for {
		b, err := pr.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		err = b.Each(func(addr uint64, data []byte, zero bool, npages uint64) error {
			if zero {
				return store.AddZero(addr, npages)
			}
			return store.AddData(addr, data)
		})
		if err != nil {
			return err
		}
	}
}

func recvInto(ctx context.Context, ctl *transport.Control, want uint16, v any) error {
	typ, body, err := ctl.Recv(ctx)
	if err != nil {
		return err
	}
	if typ != want {
		return errors.New(messageError(typ, body))
	}
	return precopy.Decode(body, v)
}

func messageError(typ uint16, body []byte) string {
	if typ == precopy.MsgError {
		var e precopy.Error
		if precopy.Decode(body, &e) == nil {
			return e.Error
		}
	}
	return fmt.Sprintf("unexpected message %d", typ)
}

// reap waits for a restored process (our child: the restorer clones it
// with CLONE_PARENT) so that it does not stay a zombie.
func (d *Daemon) reap(pid int) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	d.procs.Add(-1)
	d.log.Info("migrated process ended", "pid", pid, "status", ws.ExitStatus(), "signal", ws.Signal())
}

// fault crashes the daemon at point when so configured (tests only).
func (d *Daemon) fault(point string) {
	if d.cfg.Fault == point {
		d.log.Warn("fault injection: crashing", "point", point)
		_ = unix.Kill(os.Getpid(), unix.SIGKILL)
		select {}
	}
}
