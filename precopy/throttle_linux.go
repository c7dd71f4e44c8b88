package precopy

import (
	"time"

	"github.com/migrate-dev/migrate/dumper"
)

// A process that writes memory faster than the link moves it never
// converges: each round carries as much as the one before, and the frozen
// last round carries all of it (seconds for a large process). Throttling
// slows it down instead, during pre-copy: it is kept stopped, with
// PTRACE_INTERRUPT (invisible to it and to its parent, unlike SIGSTOP, but
// for the lost time), for a share of every throttlePeriod, and the share
// grows round by round until the rounds shrink again.
const (
	throttlePeriod = 20 * time.Millisecond
	throttleFirst  = 0.3  // share of the time stopped when throttling starts
	throttleStep   = 0.2  // added after each round that still does not converge
	throttleMax    = 0.95 // never stop it entirely before the freeze
)

// nextThrottle returns the share after cur for a round that did not
// converge: a step up, or at once what would bring the dirty rate (pages
// per second, measured at share cur) to half the link rate.
func nextThrottle(cur, dirtyRate, linkRate float64) float64 {
	next := throttleFirst
	if cur > 0 {
		next = cur + throttleStep
	}
	if full := dirtyRate / (1 - cur); full > 0 {
		next = max(next, 1-0.5*linkRate/full)
	}
	return min(next, throttleMax)
}

// throttler keeps a process stopped for share of every period until end.
type throttler struct {
	stop chan struct{}
	done chan error
}

func startThrottle(s *dumper.Session, share float64) *throttler {
	t := &throttler{stop: make(chan struct{}), done: make(chan error, 1)}
	off := time.Duration(share * float64(throttlePeriod))
	go func() {
		for {
			if err := s.Interrupt(); err != nil {
				t.done <- err
				return
			}
			stopped := false
			select {
			case <-t.stop:
				stopped = true
			case <-time.After(off):
			}
			if err := s.Resume(); err != nil {
				t.done <- err
				return
			}
			if stopped {
				t.done <- nil
				return
			}
			select {
			case <-t.stop:
				t.done <- nil
				return
			case <-time.After(throttlePeriod - off):
			}
		}
	}()
	return t
}

// end stops throttling and leaves the process running; it returns the
// first error of stopping or resuming it.
func (t *throttler) end() error {
	close(t.stop)
	return <-t.done
}
