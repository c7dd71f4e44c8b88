//go:build linux

package ptrace

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("ptrace: tracer closed")

// Handing work to a goroutine locked to its thread, and back, costs two
// futex wake-ups of sleeping threads: about 40-60 µs per round trip on the
// 2-core VM this was measured on, as much as a whole injected system call.
// So both sides poll for a short while before they sleep, which brings an
// empty Do down to about 1 µs when calls come in a row.
const (
	// tracerSpin is how long the tracer thread polls for the next request
	// after finishing one.
	tracerSpin = 50 * time.Microsecond
	// callerSpin is how long Do polls for its result (yielding to other
	// goroutines in between) before it sleeps; it covers a typical injected
	// system call.
	callerSpin = 200 * time.Microsecond
)

// Tracer owns the OS thread that issues every ptrace and wait4 call for its
// tracees. It is safe for concurrent use; calls are served one at a time.
type Tracer struct {
	tid       atomic.Int32 // the tracer thread's TID, once it runs
	reqs      chan request
	quit      chan struct{} // closed by Close
	done      chan struct{} // closed when the tracer thread has exited
	closeOnce sync.Once
}

type request struct {
	fn  func() error
	res chan result
}

type result struct {
	err      error
	panicked bool
	panicVal any
}

// NewTracer starts a tracer thread.
func NewTracer() *Tracer {
	t := &Tracer{
		reqs: make(chan request, 1), // buffered: senders need not wake us
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	go t.loop()
	return t
}

// loop serves requests on a locked thread. It never unlocks it: when loop
// returns, the runtime terminates the thread, and with it every ptrace
// relationship it holds.
func (t *Tracer) loop() {
	runtime.LockOSThread()
	t.tid.Store(int32(unix.Gettid()))
	defer t.tid.Store(0) // the kernel may give the TID to another thread
	defer close(t.done)
	for {
		r, ok := t.next()
		if !ok {
			return
		}
		r.res <- run(r.fn)
	}
}

// next returns the next request, polling for tracerSpin before it sleeps,
// or false once the tracer is closed.
func (t *Tracer) next() (request, bool) {
	for start := time.Now(); time.Since(start) < tracerSpin; {
		select {
		case r := <-t.reqs:
			return r, true
		case <-t.quit:
			return request{}, false
		default:
		}
	}
	select {
	case r := <-t.reqs:
		return r, true
	case <-t.quit:
		return request{}, false
	}
}

// run calls fn, turning a panic into a result so the thread survives it.
func run(fn func() error) (res result) {
	defer func() {
		if p := recover(); p != nil {
			res = result{panicked: true, panicVal: p}
		}
	}()
	return result{err: fn()}
}

// Do runs fn on the tracer thread and returns its error. A panic in fn is
// re-raised in the caller's goroutine. Called from fn (on the tracer
// thread), Do runs its argument directly: a caller with many calls to make
// (injected system calls, each a Do) wraps them in one Do and saves a
// thread handoff per call, which costs 1-130 µs depending on the load.
func (t *Tracer) Do(fn func() error) error {
	if tid := t.tid.Load(); tid != 0 && int32(unix.Gettid()) == tid {
		return fn() // nested: already on the tracer thread, whose goroutine is locked to it
	}
	r := request{fn: fn, res: make(chan result, 1)}
	select {
	case t.reqs <- r:
	case <-t.quit:
		return ErrClosed
	}
	res, ok := t.await(r.res)
	if !ok {
		return ErrClosed
	}
	if res.panicked {
		panic(res.panicVal)
	}
	return res.err
}

// await returns the result sent on ch, polling for callerSpin before it
// sleeps, or false if the tracer exited without serving the request.
func (t *Tracer) await(ch chan result) (result, bool) {
	for start := time.Now(); time.Since(start) < callerSpin; {
		select {
		case res := <-ch:
			return res, true
		default:
			runtime.Gosched()
		}
	}
	select {
	case res := <-ch:
		return res, true
	case <-t.done:
		select { // served just before exiting?
		case res := <-ch:
			return res, true
		default:
			return result{}, false
		}
	}
}

// Close stops the tracer thread and waits for it to exit. The kernel
// detaches tracees that are still attached. Close is idempotent.
func (t *Tracer) Close() error {
	t.closeOnce.Do(func() { close(t.quit) })
	<-t.done
	return nil
}
