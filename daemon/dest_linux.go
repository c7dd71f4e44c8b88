package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/linux"
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
				conn.Linger(time.Second) // the source reads why, then closes
			}
			conn.Close()
		}()
	}
}

// receive is the destination side: the process is built while the source
// still runs (a stopped task with the source's PID and mappings from the
// first round's layout; every page batch written into it as it arrives;
// each round's layout applied before its pages), then the final state is
// applied and the process runs only when the source says so. Any failure
// kills what was built; the source then resumes its copy.
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
	typ, body, err := ctl.Recv(ctx)
	if err != nil {
		return err
	}
	if typ == precopy.MsgQuery {
		return d.answerQuery(ctx, ctl, body)
	}
	var hello precopy.Hello
	if typ != precopy.MsgHello {
		return fail(errors.New(messageError(typ, body)))
	}
	if err := precopy.Decode(body, &hello); err != nil {
		return fail(err)
	}
	if !validID(hello.ID) {
		return fail(fmt.Errorf("migration id %q: want 1-200 letters, digits, '-', '_' or '.', not starting with '.'", hello.ID))
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", hello.PID)); err == nil {
		return fail(fmt.Errorf("pid %d is in use on %s", hello.PID, d.cfg.Name))
	}
	d.log.Info("incoming migration", "from", conn.PeerName(), "pid", hello.PID, "comm", hello.Comm)
	if err := ctl.Send(ctx, precopy.MsgAccept, nil); err != nil {
		return err
	}
	bctx, stop := context.WithCancel(ctx)
	defer stop()
	// A failed builder ends the wait for the final state at once: the
	// source may be waiting for a RoundDone that will not come.
	wctx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	var started uint64 // the process's start time, set by the builder
	b := &builder{pid: hello.PID, ctl: ctl, layouts: make(chan precopy.Layout, 64), failAt: d.failAt,
		began: func() (err error) {
			started, err = d.recordOutcome(hello.ID, hello.PID, 0, false)
			return err
		}}
	// A migration that does not end with the process running here leaves
	// no record (a daemon that dies leaves it, and the dead process says
	// what became of it).
	defer func() {
		if d.outcome(hello.ID) != precopy.OutcomeCommitted {
			d.forgetOutcome(hello.ID)
		}
	}()
	built := make(chan error, 1)
	go func() {
		err := b.run(bctx, conn)
		if err != nil {
			stopWait()
		}
		built <- err
	}()
	defer func() {
		if b.stream != nil {
			b.stream.Abort() // after a Finish, the Restored owns the process and this does nothing
		}
	}()
	body, err = d.awaitFinal(wctx, ctl, b)
	if err != nil {
		waitStopped := wctx.Err() != nil && ctx.Err() == nil
		stop()
		if berr := <-built; waitStopped && berr != nil {
			err = berr // the builder's failure ended the wait: it is the cause
		}
		return fail(err)
	}
	d.fault("final")
	if err := <-built; err != nil {
		return fail(err)
	}
	c, err := image.Unmarshal(body) // Finish validates it
	if err != nil {
		return fail(fmt.Errorf("final state: %w", err))
	}
	if b.stream == nil {
		return fail(errors.New("final state before any layout"))
	}
	r, err := b.stream.Finish(ctx, c)
	if err != nil {
		return fail(err)
	}
	d.setOutcome(hello.ID, precopy.OutcomePending)
	err = d.commit(ctx, ctl, hello.ID, started, r, fail)
	if d.outcome(hello.ID) == precopy.OutcomePending {
		d.setOutcome(hello.ID, precopy.OutcomeAborted)
	}
	return err
}

// answerQuery tells a source whose handover broke after Go what became of
// its migration: what this daemon holds in memory or, when it restarted
// since, what its outcome record says (see outcomeRecord).
func (d *Daemon) answerQuery(ctx context.Context, ctl *transport.Control, body []byte) error {
	var q precopy.Query
	if err := precopy.Decode(body, &q); err != nil {
		return err
	}
	state := d.outcome(q.ID)
	if state == "" { // restarted since: the record says
		state = d.storedOutcome(q.ID)
	}
	d.log.Info("outcome query", "id", q.ID, "pid", q.PID, "state", state)
	if err := ctl.Send(ctx, precopy.MsgOutcome, precopy.Encode(precopy.Outcome{State: state})); err != nil {
		return err
	}
	// Closing now could drop the answer: wait until the source hangs up.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, _, _ = ctl.Recv(wctx)
	return nil
}

// setOutcome records the outcome of migration id, and forgets those older
// than outcomeTTL.
func (d *Daemon) setOutcome(id, state string) {
	d.outcomesMu.Lock()
	defer d.outcomesMu.Unlock()
	if d.outcomes == nil {
		d.outcomes = make(map[string]outcomeEntry)
	}
	now := time.Now()
	for k, e := range d.outcomes {
		if now.Sub(e.at) > outcomeTTL {
			delete(d.outcomes, k)
		}
	}
	d.outcomes[id] = outcomeEntry{state, now}
}

func (d *Daemon) outcome(id string) string {
	d.outcomesMu.Lock()
	defer d.outcomesMu.Unlock()
	return d.outcomes[id].state
}

// awaitFinal passes the layouts to the builder until the final state
// arrives, and returns it.
func (d *Daemon) awaitFinal(ctx context.Context, ctl *transport.Control, b *builder) ([]byte, error) {
	for {
		typ, body, err := ctl.Recv(ctx)
		if err != nil {
			return nil, err
		}
		switch typ {
		case precopy.MsgFinal:
			return body, nil
		case precopy.MsgLayout:
			var l precopy.Layout
			if err := precopy.Decode(body, &l); err != nil {
				return nil, err
			}
			if l.Final {
				d.fault("final-round")
			}
			select {
			case b.layouts <- l:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		default:
			return nil, fmt.Errorf("source: %s", messageError(typ, body))
		}
	}
}

// builder writes the page stream into the process being built, applying
// each round's layout before the round's pages.
type builder struct {
	pid     int
	ctl     *transport.Control // for RoundDone only
	layouts chan precopy.Layout
	stream  *restorer.Stream // set by run; valid once run returned
	applied uint32           // rounds whose layout is in place
	final   bool             // the frozen round's layout is in place
	failAt  func(point string) error
	began   func() error // once the process exists: its outcome record
}

// run receives batches on this goroutine and writes them on another, so
// that receiving and decompressing the next batch overlaps writing this
// one (mostly page faults in fresh memory).
func (b *builder) run(ctx context.Context, conn *transport.Conn) error {
	pr, err := conn.AcceptPages(ctx)
	if err != nil {
		return err
	}
	defer pr.Close()
	// The writer holds batch n while Next receives n+1; Next is called for
	// n+2 only once the writer took n+1 (work is unbuffered).
	pr.SetDepth(2)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan transport.Batch)
	wrote := make(chan error, 1)
	go func() {
		err := b.write(ctx, work)
		if err != nil {
			cancel()
		}
		wrote <- err
	}()
	for {
		batch, err := pr.Next(ctx)
		if err != nil {
			close(work)
			if werr := <-wrote; werr != nil {
				return werr
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("pages: %w", err)
		}
		select {
		case work <- batch:
		case err := <-wrote:
			return err
		}
	}
}

// write applies the batches in order, each round's layout before its
// first batch, and acknowledges each round.
func (b *builder) write(ctx context.Context, work <-chan transport.Batch) error {
	for batch := range work {
		// Data batches carry the round in progress, 0 before the first
		// round marker; the source numbers its rounds from 1.
		for b.applied < max(batch.Round, 1) {
			if err := b.nextLayout(ctx); err != nil {
				return err
			}
		}
		if batch.IsRoundEnd {
			if b.final {
				continue // the page stream's close acknowledges the frozen round
			}
			if err := b.failAt("round-done"); err != nil {
				return err
			}
			// Before the source hears of it: the freeze may follow.
			if err := b.stream.RoundDone(); err != nil {
				return err
			}
			done := precopy.Encode(precopy.RoundDone{Round: batch.Round})
			if err := b.ctl.Send(ctx, precopy.MsgRoundDone, done); err != nil {
				return err
			}
			continue
		}
		if err := b.stream.WriteBatch(batch.Each); err != nil {
			return fmt.Errorf("round %d: %w", batch.Round, err)
		}
	}
	return nil
}

// nextLayout waits for the layout of the next round and applies it.
func (b *builder) nextLayout(ctx context.Context) error {
	var l precopy.Layout
	select {
	case l = <-b.layouts:
	case <-ctx.Done():
		return ctx.Err()
	}
	if l.Round != b.applied+1 {
		return fmt.Errorf("layout of round %d where round %d was due", l.Round, b.applied+1)
	}
	c, err := image.Unmarshal(l.Image)
	if err != nil {
		return fmt.Errorf("round %d layout: %w", l.Round, err)
	}
	if len(c.Processes) > 0 && int(c.Processes[0].PID) != b.pid {
		return fmt.Errorf("round %d layout is of pid %d, not %d", l.Round, c.Processes[0].PID, b.pid)
	}
	if b.stream == nil {
		if b.stream, err = restorer.BeginStream(ctx, c); err != nil {
			return err
		}
		if err := b.began(); err != nil {
			return err
		}
	} else {
		if err := b.stream.Update(c, l.Fresh); err != nil {
			return err
		}
	}
	b.applied, b.final = l.Round, l.Final
	return nil
}

// commit hands over: Ready, wait for Go, let the process run, Running.
func (d *Daemon) commit(ctx context.Context, ctl *transport.Control, id string, started uint64, r *restorer.Restored, fail func(error) error) error {
	d.fault("restored")
	ready := precopy.Ready{RestoreMS: ms(r.Duration)}
	for _, st := range r.Steps {
		ready.Steps = append(ready.Steps, precopy.Step{What: st.What, MS: ms(st.Took)})
	}
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
	d.setOutcome(id, precopy.OutcomeCommitted)
	d.fault("committed")
	d.procs.Add(1)
	go d.reap(r.PID)
	d.log.Info("migrated process runs here", "pid", r.PID, "restore", r.Duration)
	if err := ctl.Send(ctx, precopy.MsgRunning, nil); err != nil {
		return err
	}
	// After Running, outside the source's freeze (a synced write costs
	// milliseconds): the record then answers for a process that exited.
	if _, err := d.recordOutcome(id, r.PID, started, true); err != nil {
		d.log.Warn("outcome record", "id", id, "error", err)
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
// with CLONE_PARENT) to end and reaps it, so that it does not stay a
// zombie. It must not wait4 for it while it lives: this daemon may trace
// it later (to migrate it on), and a waiter in the tracer's thread group
// takes the ptrace stops meant for the tracer. So it polls a pidfd, which
// becomes readable when the process has exited, and reaps it only then.
func (d *Daemon) reap(pid int) {
	defer d.procs.Add(-1)
	fd, err := linux.PidfdOpen(pid, 0)
	if err != nil {
		d.log.Warn("migrated process", "error", err)
		return
	}
	defer unix.Close(fd)
	err = linux.PidfdWait(fd)
	// ECHILD: a tracer of ours (migrating it on) reaped it first.
	d.log.Info("migrated process ended", "pid", pid, "error", err)
}

// fault crashes the daemon at point when so configured (tests only):
// --fault POINT SIGKILLs it there; --fault stall:POINT logs "fault
// injection: stalling" and holds that migration for faultStall, so that a
// test can cut the link at that very point.
func (d *Daemon) fault(point string) {
	switch d.cfg.Fault {
	case point:
		if point == "after-go" {
			// Sent is not delivered: give Go the time to arrive.
			time.Sleep(300 * time.Millisecond)
		}
		d.log.Warn("fault injection: crashing", "point", point)
		_ = unix.Kill(os.Getpid(), unix.SIGKILL)
		select {}
	case "stall:" + point:
		d.log.Warn("fault injection: stalling", "point", point, "for", faultStall)
		time.Sleep(faultStall)
	}
}

const faultStall = 8 * time.Second

// failAt returns an injected error at point when the daemon was started
// with --fault fail:POINT (tests: a failure the daemon itself detects).
func (d *Daemon) failAt(point string) error {
	if d.cfg.Fault != "fail:"+point {
		return nil
	}
	d.log.Warn("fault injection: failing", "point", point)
	return fmt.Errorf("fault injection: %s failed", point)
}
