package precopy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
)

// Control is the control stream to the destination.
type Control interface {
	Send(ctx context.Context, typ uint16, payload []byte) error
	Recv(ctx context.Context) (uint16, []byte, error)
}

// PageStream carries pages to the destination in rounds. CloseSend ends
// the stream; Wait returns once the destination has every page. Between
// the two the final state goes out: the destination's Ready already says
// every page arrived (it finishes only after the last page is written).
type PageStream interface {
	dumper.PageSink
	EndRound(round uint32) error
	CloseSend() error
	Wait() error
}

// Options tune a migration; zero values mean the defaults.
type Options struct {
	ID             string
	MaxDowntime    time.Duration // target freeze time; default 50ms
	MaxRounds      int           // pre-copy rounds before the final one; default 10
	ConfirmTimeout time.Duration // waiting for the destination's answers; default 60s
	Progress       func(Progress)
	// Resolve asks the destination, over a new connection, for the
	// outcome of the migration (an Outcome state) when the handover broke
	// after Go was sent: whether the process runs there is then unknown,
	// and the source copy stays frozen until Resolve answers committed
	// (it is killed) or aborted (it resumes). Errors are retried until ctx
	// ends. Without Resolve the source resumes (the old behaviour, which
	// can leave two copies running).
	Resolve        func(ctx context.Context) (string, error)
	ResolveTimeout time.Duration // default 5 minutes
	// NoThrottle: never slow the process down to make pre-copy converge;
	// a process writing faster than the link then has a long freeze.
	NoThrottle bool
	// Hold, when set, is called before the freeze: the caller records the
	// handover durably (to settle it after a crash of its own). Once the
	// destination is Ready, before Go, Migrate queues a SIGSTOP
	// (Session.Hold), so that if the caller dies from then on the process
	// stays stopped instead of running beside the destination's copy. Settled is called once the
	// handover is settled either way (the record may go).
	Hold    func() error
	Settled func()
	// Fault, when set, is called at "before-go" and "after-go" (tests).
	Fault func(point string)
}

func (o *Options) fill() {
	if o.MaxDowntime <= 0 {
		o.MaxDowntime = 50 * time.Millisecond
	}
	if o.MaxRounds <= 0 {
		o.MaxRounds = 10
	}
	if o.ConfirmTimeout <= 0 {
		o.ConfirmTimeout = 60 * time.Second
	}
	if o.ResolveTimeout <= 0 {
		o.ResolveTimeout = 5 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = func(Progress) {}
	}
}

// Progress is reported after every round.
type Progress struct {
	Round      int           `json:"round"`
	Phase      string        `json:"phase"` // "precopy", "restore", "resolving", "done"
	PagesSent  uint64        `json:"pages_sent"`
	DirtyPages uint64        `json:"dirty_pages"` // left for the next round
	DirtyRate  float64       `json:"dirty_rate"`  // pages per second written by the process
	LinkRate   float64       `json:"link_rate"`   // pages per second sent
	Remaining  time.Duration `json:"remaining"`   // predicted time of the next round
	Throttle   float64       `json:"throttle"`    // share of the round the process was kept stopped
}

// Report sums up a finished migration.
type Report struct {
	Rounds    int           `json:"rounds"`
	PagesSent uint64        `json:"pages_sent"` // data pages, all rounds
	ZeroPages uint64        `json:"zero_pages"`
	Tracker   string        `json:"tracker"`
	Frozen    time.Duration `json:"frozen"`
	// FrozenAt is when the freeze began (the process may stop from then on).
	FrozenAt time.Time `json:"frozen_at"`
	// Streaming is the time pages were on their way: every round from its
	// start to the destination's RoundDone, and the frozen round's last
	// pages (what the wire rate of the page stream is measured over).
	Streaming time.Duration `json:"streaming"`
	Total     time.Duration `json:"total"`
	RestoreMS float64       `json:"restore_ms"`
	WireBytes uint64        `json:"wire_bytes"` // filled in by the caller, who owns the transport
	// Freeze is where the frozen time went on the source's side: the
	// steps from the stop to the destination's Running.
	Freeze []Step `json:"freeze,omitempty"`
	// RestoreSteps are the destination's restore steps in the freeze.
	RestoreSteps []Step `json:"restore_steps,omitempty"`
	// Resolved says how a handover that broke after Go was settled.
	Resolved string `json:"resolved,omitempty"`
	// Throttle is the largest share of a round the process was kept
	// stopped to make pre-copy converge (0: never throttled).
	Throttle float64 `json:"throttle,omitempty"`
}

// Migrate moves the seized process to the destination behind ctl and
// pages. It owns s: on success the source process is killed (after the
// destination runs it); on any error it is released exactly as it was.
func Migrate(ctx context.Context, s *dumper.Session, ctl Control, pages PageStream, opt Options) (rep Report, err error) {
	opt.fill()
	start := time.Now()
	m := &migration{s: s, ctl: ctl, pages: pages, opt: opt}
	defer func() {
		if err != nil {
			if exited(s.PID(), err) {
				err = fmt.Errorf("pid %d exited during the migration: %w: %w", s.PID(), ErrExited, err)
			}
			m.abort(err)
		}
		rep = m.rep
		rep.Total = time.Since(start)
	}()
	if err := m.hello(ctx); err != nil {
		return rep, err
	}
	if err := m.startTracking(); err != nil {
		return rep, err
	}
	if err := m.precopy(ctx); err != nil {
		return rep, err
	}
	return rep, m.final(ctx)
}

type migration struct {
	s     *dumper.Session
	ctl   Control
	pages PageStream
	opt   Options
	rep   Report

	tracker  Tracker
	mem      *dumper.MemReader
	vmas     []image.VMA
	pending  []dumper.Span // pages to send in the next round
	fresh    []Range       // mappings new or changed since the last layout sent
	held     bool          // Options.Hold recorded the handover
	linkRate float64       // pages per second, the best round so far
	// retrack are ranges of mappings that changed between their listing
	// and Track: the next collect takes whatever is there as new.
	retrack []Range
	// fileSent are the pages of private file mappings sent since the
	// destination made the mapping: there they are copies of their own.
	fileSent []Range
	frozen   time.Time
}

func (m *migration) hello(ctx context.Context) error {
	comm, _ := procfs.Comm(m.s.PID())
	err := m.ctl.Send(ctx, MsgHello, encode(Hello{ID: m.opt.ID, PID: m.s.PID(), Comm: comm}))
	if err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	return m.expect(ctx, MsgAccept, nil)
}

// expect waits for one message type; a MsgError becomes the error.
func (m *migration) expect(ctx context.Context, want uint16, v any) error {
	ctx, cancel := context.WithTimeout(ctx, m.opt.ConfirmTimeout)
	defer cancel()
	typ, body, err := m.ctl.Recv(ctx)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	switch typ {
	case want:
		if v != nil {
			return Decode(body, v)
		}
		return nil
	case MsgError:
		var e Error
		if err := Decode(body, &e); err != nil {
			return err
		}
		return fmt.Errorf("destination: %s", e.Error)
	}
	return fmt.Errorf("destination: unexpected message %d (want %d)", typ, want)
}

// startTracking sets up dirty tracking while the process is stopped, then
// lets it run.
func (m *migration) startTracking() error {
	r, err := m.s.Remote()
	if err != nil {
		return err
	}
	t, note, err := NewTracker(m.s.Tracer(), m.s.PID(), r)
	if err != nil {
		return err
	}
	m.tracker, m.rep.Tracker = t, note
	if m.mem, err = dumper.NewMemReader(m.s.PID()); err != nil {
		return err
	}
	m.mem.SetTolerant(true) // until the final round
	return m.s.Resume()
}

// precopy sends everything once, then what was written, round after round,
// until the next round is predicted to fit well in the downtime target or
// stops shrinking.
func (m *migration) precopy(ctx context.Context) error {
	var last uint64 = ^uint64(0)
	throttle := 0.0
	budget := pagesBudget(m.opt.MaxDowntime)
	for round := 1; round <= m.opt.MaxRounds; round++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := m.round(ctx, round, throttle)
		if err != nil {
			return err
		}
		stuck := round > 1 && p.DirtyPages >= last
		fast := round > 1 && p.DirtyRate >= 0.5*p.LinkRate
		// Within half the budget: freeze. Within the budget: freeze too
		// when another round would not shrink it; while rounds shrink,
		// one more is cheap, and the prediction (from the link rate of
		// big sequential rounds) was seen 15-40% short for the frozen
		// round's scattered pages on a loaded machine.
		if p.Remaining <= budget/2 || (p.Remaining <= budget && (stuck || fast)) {
			return nil
		}
		// Not there yet. Rounds that stop shrinking, or a process that
		// writes nearly as fast as the link moves, call for throttling
		// (unless refused). Rounds that stop shrinking with throttling at
		// its maximum (or refused) end pre-copy; otherwise it goes on, up
		// to --max-rounds.
		if stuck || fast {
			if m.opt.NoThrottle || throttle >= throttleMax {
				if stuck {
					return nil
				}
			} else {
				throttle = nextThrottle(throttle, p.DirtyRate, p.LinkRate)
			}
		}
		last = p.DirtyPages
	}
	return nil
}

// freezeFixed is what a freeze costs besides its pages: stopping, the
// dirty scan, reading and restoring the rest of the state, the handover
// (10-15 ms on the development VM, see the report's Freeze steps).
const freezeFixed = 15 * time.Millisecond

// pagesBudget is how long the frozen round's pages may take for the whole
// freeze to fit maxDowntime: what is left after freezeFixed, and at least
// half of it.
func pagesBudget(maxDowntime time.Duration) time.Duration {
	return max(maxDowntime-freezeFixed, maxDowntime/2)
}

// round sends one pre-copy round, with the process throttled to share of
// its time stopped when share > 0, and returns its figures.
func (m *migration) round(ctx context.Context, round int, share float64) (Progress, error) {
	t0 := time.Now()
	var th *throttler
	if share > 0 {
		th = startThrottle(m.s, share)
		m.rep.Throttle = max(m.rep.Throttle, share)
	}
	p, err := m.sendRound(ctx, round, t0)
	if th != nil {
		if terr := th.end(); err == nil && terr != nil {
			err = fmt.Errorf("throttle: %w", terr)
		}
	}
	if err != nil {
		return p, err
	}
	p.Throttle = share
	m.opt.Progress(p)
	return p, nil
}

func (m *migration) sendRound(ctx context.Context, round int, t0 time.Time) (Progress, error) {
	if err := m.collect(false); err != nil {
		return Progress{}, err
	}
	n, err := m.send(ctx, uint32(round))
	if err != nil {
		return Progress{}, err
	}
	var done RoundDone
	if err := m.expect(ctx, MsgRoundDone, &done); err != nil {
		return Progress{}, err
	}
	if done.Round != uint32(round) {
		return Progress{}, fmt.Errorf("destination: round %d acknowledged during round %d", done.Round, round)
	}
	took := time.Since(t0)
	m.rep.Rounds = round
	m.rep.Streaming += took
	// The link rate is the best a round has shown: a small round is mostly
	// fixed costs (round trips, scans) and would make the link look slow.
	m.linkRate = max(m.linkRate, float64(n)/took.Seconds())
	p := Progress{Round: round, Phase: "precopy", PagesSent: m.rep.PagesSent, LinkRate: m.linkRate}
	// What the process dirtied while this round was sent is what the
	// next round will carry.
	if err := m.collect(false); err != nil {
		return p, err
	}
	dirty := pagesIn(m.pending)
	p.DirtyPages, p.DirtyRate = dirty, float64(dirty)/took.Seconds()
	if p.LinkRate > 0 {
		p.Remaining = time.Duration(float64(dirty) / p.LinkRate * float64(time.Second))
	}
	return p, nil
}

// collect adds to pending the pages written since the last call and the
// pages of mappings that appeared or changed; while the process runs, it
// tracks the new ones. frozen is the last call: the process is stopped
// and runs here no more, so nothing is tracked or untracked (registering
// and unregistering merge and split mappings, and the mappings read now
// must stay those of the frozen state), and the written pages are
// collected before the mappings are read, since the tracker registers the
// tracked ranges it finds replaced by new mappings.
func (m *migration) collect(frozen bool) error {
	if frozen {
		if err := m.collectDirty(); err != nil {
			return err
		}
	}
	vmas, err := m.s.Mappings()
	if err != nil {
		return err
	}
	added, removed := diffVMAs(m.vmas, vmas)
	added = retracked(added, vmas, m.retrack)
	m.vmas, m.retrack = vmas, nil
	if len(removed) > 0 && !frozen {
		if err := m.tracker.Untrack(trackable(removed)); err != nil {
			return err
		}
	}
	for _, v := range added {
		m.fresh = append(m.fresh, Range{Start: v.Start, End: v.End})
	}
	if len(added) > 0 {
		if !frozen {
			if err := m.track(added); err != nil {
				return err
			}
		}
		spans, err := m.mem.Present(added)
		if err != nil {
			return err
		}
		m.pending = append(m.pending, spans...)
	}
	if frozen {
		return nil
	}
	return m.collectDirty()
}

// collectDirty adds the pages the tracker found written to pending.
func (m *migration) collectDirty() error {
	dirty, err := m.tracker.Collect()
	if err != nil {
		return err
	}
	for _, r := range dirty {
		m.pending = append(m.pending, dumper.Span{Start: r.Start, End: r.End, Readable: true})
	}
	return nil
}

// track starts tracking the added mappings, one by one. While the process
// runs, a mapping may be gone or changed since it was listed, and then
// cannot be registered (EINVAL): that is no error, but whatever is there
// now must not pass for the listed mapping, whose writes nobody tracks:
// the next collect takes it as new (retrack). A mapping that is still
// there as listed and cannot be tracked fails the migration.
func (m *migration) track(added []image.VMA) error {
	for _, v := range added {
		if !canTrack(v) {
			continue
		}
		r := []Range{{Start: v.Start, End: v.End}}
		err := m.tracker.Track(r)
		if err != nil && m.unchanged(v) {
			// It may have changed and come back: once more.
			if err = m.tracker.Track(r); err != nil && m.unchanged(v) {
				return err
			}
		}
		if err != nil {
			m.retrack = append(m.retrack, r[0])
		}
	}
	return nil
}

// unchanged reports whether v is still one of the process's mappings (or
// the mappings cannot be read).
func (m *migration) unchanged(v image.VMA) bool {
	vmas, err := m.s.Mappings()
	return err != nil || slices.ContainsFunc(vmas, func(c image.VMA) bool { return c.Same(v) })
}

// reverted returns the pages of private file mappings that the destination
// holds copies of and that are no longer the process's own copies: it
// dropped them (MADV_DONTNEED), and they read the file again. Trackers do
// not see this (see Tracker); the process is frozen now. They are sent
// with their contents now, the file's.
func (m *migration) reverted() ([]dumper.Span, error) {
	var sent []image.VMA
	for _, v := range m.vmas {
		if !isPrivateFile(v) {
			continue
		}
		for _, r := range intersectRanges(m.fileSent, []Range{{Start: v.Start, End: v.End}}) {
			c := v
			c.Start, c.End = r.Start, r.End
			sent = append(sent, c)
		}
	}
	if len(sent) == 0 {
		return nil, nil
	}
	own, err := m.mem.Present(sent)
	if err != nil {
		return nil, err
	}
	ownRanges := make([]Range, len(own))
	for i, sp := range own {
		ownRanges[i] = Range{Start: sp.Start, End: sp.End}
	}
	var out []dumper.Span
	for _, v := range sent {
		for _, r := range subtractRanges([]Range{{Start: v.Start, End: v.End}}, normalizeRanges(ownRanges)) {
			out = append(out, dumper.Span{Start: r.Start, End: r.End, Readable: v.Prot&image.ProtRead != 0})
		}
	}
	return out, nil
}

// send sends the round's layout, copies the pending pages and ends the
// round; it returns the pages sent.
func (m *migration) send(ctx context.Context, round uint32) (uint64, error) {
	if err := m.sendLayout(ctx, round, false); err != nil {
		return 0, err
	}
	return m.copyRound(round)
}

// copyRound copies the pending pages that lie in the layout just sent and
// ends the round. The pending pages were listed while the process ran:
// their mapping may be gone or different since (what is there now is
// found by the next collect). Pages the running process unmapped or
// protected under the reader are left out, and pending again for the next
// round: its mapping may be back as it was by then, and nobody would
// report the page again.
func (m *migration) copyRound(round uint32) (uint64, error) {
	spans := layoutSpans(m.pending, m.vmas)
	m.pending = nil
	before := m.mem.Stats()
	m.fileSent = unionRanges(m.fileSent, privateFileParts(spans, m.vmas))
	err := m.mem.Copy(spans, m.pages)
	m.pending = append(m.pending, m.mem.Skipped()...)
	if err != nil {
		return 0, fmt.Errorf("round %d: %w", round, err)
	}
	if err := m.pages.EndRound(round); err != nil {
		return 0, fmt.Errorf("round %d: %w", round, err)
	}
	after := m.mem.Stats()
	sent := after.DataPages - before.DataPages + after.ZeroPages - before.ZeroPages
	m.rep.PagesSent, m.rep.ZeroPages = after.DataPages, after.ZeroPages
	return sent, nil
}

// sendLayout tells the destination the mappings of this round.
func (m *migration) sendLayout(ctx context.Context, round uint32, final bool) error {
	c, err := m.s.Layout(m.vmas)
	if err != nil {
		return err
	}
	if !final { // the frozen state follows the final one at once
		c.Processes[0].FDs = m.s.OpenFiles()
	}
	b, err := image.Marshal(c)
	if err != nil {
		return err
	}
	l := Layout{Round: round, Image: b, Fresh: m.fresh, Final: final}
	m.fileSent = subtractRanges(m.fileSent, normalizeRanges(m.fresh)) // made anew there
	m.fresh = nil
	if err := m.ctl.Send(ctx, MsgLayout, encode(l)); err != nil {
		return fmt.Errorf("round %d: send layout: %w", round, err)
	}
	return nil
}

// final freezes the process, sends the last pages and its state, and
// hands over: the source is killed only once the destination runs it.
func (m *migration) final(ctx context.Context) error {
	// The handover record is written before the freeze (its fsyncs cost
	// milliseconds); a record whose Go was never sent is settled as
	// aborted, which costs nothing.
	if m.opt.Hold != nil {
		if err := m.opt.Hold(); err != nil {
			return fmt.Errorf("record the handover: %w", err)
		}
		m.held = true
	}
	m.frozen = time.Now() // the process may stop any moment from now
	m.rep.FrozenAt = m.frozen
	if err := m.s.Interrupt(); err != nil {
		return err
	}
	last := m.frozen
	mark := func(what string) {
		now := time.Now()
		m.rep.Freeze = append(m.rep.Freeze, Step{What: what, MS: float64(now.Sub(last).Microseconds()) / 1e3})
		last = now
	}
	mark("stop")
	m.mem.SetTolerant(false)
	if err := m.collect(true); err != nil {
		return err
	}
	// Writable mappings the tracker could not watch go again, whole.
	spans, err := m.mem.Present(untracked(m.vmas))
	if err != nil {
		return err
	}
	m.pending = append(m.pending, spans...)
	mark("dirty scan")
	// The rest of the state is read (on the tracer thread) while the last
	// pages go out (process_vm_readv on other goroutines).
	state := make(chan stateResult, 1)
	go func() { state <- m.finalState(ctx) }()
	err = m.sendLast(ctx, mark)
	st := <-state
	if err != nil {
		return err
	}
	if st.err != nil {
		return st.err
	}
	b := st.image
	mark("state")
	m.opt.Progress(Progress{Round: m.rep.Rounds + 1, Phase: "restore", PagesSent: m.rep.PagesSent})
	if err := m.ctl.Send(ctx, MsgFinal, b); err != nil {
		return fmt.Errorf("send final state: %w", err)
	}
	var ready Ready
	if err := m.expect(ctx, MsgReady, &ready); err != nil {
		return err
	}
	m.rep.RestoreMS, m.rep.RestoreSteps = ready.RestoreMS, ready.Steps
	if err := m.pages.Wait(); err != nil { // no wait, normally: the receiver acked before it said Ready
		return fmt.Errorf("final pages: %w", err)
	}
	mark("restore")
	if m.held {
		if err := m.s.Hold(); err != nil {
			return err
		}
	}
	m.fault("before-go")
	err = m.ctl.Send(ctx, MsgGo, nil)
	m.fault("after-go")
	if err == nil {
		err = m.expect(ctx, MsgRunning, nil)
	}
	if err != nil {
		// Go may have arrived: the process may run there.
		if err := m.resolve(ctx, err); err != nil {
			return err
		}
	}
	mark("handover")
	m.rep.Frozen = time.Since(m.frozen)
	m.tracker.Close()
	m.mem.Close()
	if err := m.s.Kill(); err != nil {
		return fmt.Errorf("the process runs on the destination, but killing the source failed: %w", err)
	}
	m.settle()
	_ = m.ctl.Send(ctx, MsgDone, encode(m.rep))
	m.opt.Progress(Progress{Round: m.rep.Rounds + 1, Phase: "done", PagesSent: m.rep.PagesSent})
	return nil
}

type stateResult struct {
	image []byte
	err   error
}

// finalState reads and encodes the frozen process's state but its pages.
func (m *migration) finalState(ctx context.Context) stateResult {
	c, err := m.s.Collect(ctx)
	if err != nil {
		return stateResult{err: err}
	}
	b, err := image.Marshal(c)
	return stateResult{image: b, err: err}
}

// sendLast sends the frozen round and waits until the destination has
// every page.
func (m *migration) sendLast(ctx context.Context, mark func(string)) error {
	t0 := time.Now()
	round := uint32(m.rep.Rounds + 1)
	if err := m.sendLayout(ctx, round, true); err != nil {
		return err
	}
	// And private file pages that read the file again (after the layout:
	// mappings it makes anew there read the file anyway).
	reverted, err := m.reverted()
	if err != nil {
		return err
	}
	m.pending = append(m.pending, reverted...)
	if _, err := m.copyRound(round); err != nil {
		return err
	}
	if err := m.pages.CloseSend(); err != nil {
		return fmt.Errorf("final pages: %w", err)
	}
	mark("last pages")
	m.rep.Streaming += time.Since(t0)
	return nil
}

// resolve finds out whether the destination runs the process after the
// handover broke (cause) past Go. It returns nil when it does, and an
// error (the source then resumes) when it certainly does not. Until it
// knows, the source process stays frozen.
func (m *migration) resolve(ctx context.Context, cause error) error {
	if m.opt.Resolve == nil {
		return cause
	}
	m.opt.Progress(Progress{Round: m.rep.Rounds + 1, Phase: "resolving", PagesSent: m.rep.PagesSent})
	// Not the caller's cancellation: resuming while in doubt could leave
	// two copies. Only the (long) resolve timeout ends the wait.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opt.ResolveTimeout)
	defer cancel()
	state, err := AwaitOutcome(ctx, m.opt.Resolve)
	switch {
	case err != nil:
		return fmt.Errorf("%w: the destination gave no outcome for %v (last: %v); the process resumes here and may ALSO run on the destination", cause, m.opt.ResolveTimeout, err)
	case state == OutcomeCommitted:
		m.rep.Resolved = fmt.Sprintf("handover broke (%v); the destination reports it runs the process", cause)
		return nil
	}
	return fmt.Errorf("%w; the destination reports it did not run the process", cause)
}

// abort tells the destination and puts the source back as it was.
func (m *migration) abort(cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = m.ctl.Send(ctx, MsgError, encode(Error{Error: cause.Error()}))
	if m.tracker != nil {
		m.tracker.Close()
	}
	if m.mem != nil {
		m.mem.Close()
	}
	// A process that is gone or cannot be stopped has nothing left to put
	// back; Release still detaches from it.
	_ = m.s.Release()
	m.settle()
}

func (m *migration) settle() {
	if m.held && m.opt.Settled != nil {
		m.opt.Settled()
	}
	m.held = false
}

func (m *migration) fault(point string) {
	if m.opt.Fault != nil {
		m.opt.Fault(point)
	}
}

// ErrExited is wrapped when the process ended during its migration.
var ErrExited = errors.New("process exited")

// exited tells whether the migration failed because the process ended. A
// process being killed loses its memory (ESRCH) a moment before it is a
// zombie, so after ESRCH it is given that moment.
func exited(pid int, err error) bool {
	for i := 0; i < 50; i++ {
		if gone(pid) {
			return true
		}
		if !errors.Is(err, unix.ESRCH) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// gone reports whether pid has ended (a dead tracee stays a zombie until
// its tracer waits for it).
func gone(pid int) bool {
	if unix.Kill(pid, 0) != nil {
		return true
	}
	st, err := procfs.Stat(pid)
	return err != nil || st.State == 'Z' || st.State == 'X'
}
