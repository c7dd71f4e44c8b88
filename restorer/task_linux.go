package restorer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/ptrace"
	"golang.org/x/sys/unix"
)

// Each task being built has, at an address the image does not use, a
// scratch area for the arguments of injected calls followed by a one-page
// gadget ("syscall; int3") that survives the unmapping of everything else.
const (
	scratchSize = 64 << 10
	areaSize    = scratchSize + linux.PageSize
)

// task is a process being built: stopped, traced, driven by injected
// system calls. Precondition for all methods: the task is in a ptrace-stop.
type task struct {
	pid     int
	tr      *ptrace.Tracer
	r       *ptrace.Remote
	scratch uint64
	gadget  uint64
	used    uint64 // bytes of scratch handed out since the last reset

	queuing bool     // inside batched: do queues
	queue   []queued // calls of do waiting for flush
}

// queued is a call of do waiting for the batch, named for its error;
// with check, its answer must be want (see doWant).
type queued struct {
	what  string
	call  ptrace.Call
	want  uint64
	check bool
}

// maxQueued bounds a batch (its table takes 64 bytes a call of scratch).
const maxQueued = 256

// call runs one system call in the task, after the queued ones.
func (t *task) call(nr uintptr, args ...uint64) (uint64, error) {
	if err := t.flush(); err != nil {
		return 0, err
	}
	return t.r.Syscall(nr, args...)
}

// do runs a system call whose only answer is its success. Inside batched,
// the call is queued, and its error comes from the flush.
func (t *task) do(what string, nr uintptr, args ...uint64) error {
	if !t.queuing {
		if _, err := t.call(nr, args...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	return t.enqueue(queued{what: what}, nr, args)
}

// doWant is do for a call whose answer is known beforehand (the
// descriptor an open gets: the lowest free one): the answer is checked,
// and the calls after it, queued with it, may already use it.
func (t *task) doWant(what string, want uint64, nr uintptr, args ...uint64) error {
	if !t.queuing {
		got, err := t.call(nr, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return checkAnswer(what, got, want)
	}
	return t.enqueue(queued{what: what, want: want, check: true}, nr, args)
}

// checkAnswer is the error of a call that did not answer what was
// foreseen.
func checkAnswer(what string, got, want uint64) error {
	if got != want {
		return fmt.Errorf("%s: answered %d, expected %d", what, got, want)
	}
	return nil
}

func (t *task) enqueue(q queued, nr uintptr, args []uint64) error {
	q.call.Nr = uint64(nr)
	copy(q.call.Args[:], args)
	t.queue = append(t.queue, q)
	if len(t.queue) == maxQueued {
		return t.flush()
	}
	return nil
}

// batched runs fn with the calls it makes through do queued and run in
// batches (one ptrace stop for all instead of two each, see
// ptrace.Batch), in order with any other call. The scratch data of queued
// calls stays until they ran.
func (t *task) batched(fn func() error) error {
	if t.queuing { // inside another batched: its flush runs these too
		return fn()
	}
	t.queuing = true
	err := fn()
	if err == nil {
		err = t.flush()
	}
	t.queuing, t.queue, t.used = false, t.queue[:0], 0
	return err
}

// flush runs the queued calls in one batch, and fails with the first that
// failed (the others ran all the same: a failed restore kills the task).
func (t *task) flush() error {
	if len(t.queue) == 0 {
		return nil
	}
	q := t.queue
	t.queue = t.queue[:0]
	n := ptrace.TableSize(len(q))
	if t.used+n > scratchSize {
		return fmt.Errorf("scratch area full (%d bytes of call table wanted)", n)
	}
	b, err := t.r.BatchAt(t.scratch+t.used, len(q))
	if err != nil {
		return err
	}
	calls := make([]ptrace.Call, len(q))
	for i, c := range q {
		calls[i] = c.call
	}
	ret, err := b.Run(calls)
	if err != nil {
		return err
	}
	t.used = 0 // every queued call has used its data
	for i, r := range ret {
		if err := ptrace.Errno(r); err != nil {
			return fmt.Errorf("%s: %w", q[i].what, err)
		}
		if q[i].check {
			if err := checkAnswer(q[i].what, r, q[i].want); err != nil {
				return err
			}
		}
	}
	return nil
}

// put copies b into the scratch area and returns its address in the task.
// Areas stay valid until reset (or, inside batched, until the call that
// uses them ran). A call takes all its data from one put: inside
// batched, a put may run the queue and reuse the area.
func (t *task) put(b []byte) (uint64, error) {
	addr, err := t.reserve(uint64(len(b)))
	if err != nil {
		return 0, err
	}
	if err := linux.WriteMem(t.pid, addr, b); err != nil {
		return 0, err
	}
	return addr, nil
}

// reserve hands out size bytes of the scratch area (see put).
func (t *task) reserve(size uint64) (uint64, error) {
	n := (size + 15) &^ 15
	// Room for the data and for the table with the call that will use it.
	if t.queuing && t.used+n+ptrace.TableSize(len(t.queue)+1) > scratchSize {
		if err := t.flush(); err != nil { // makes room
			return 0, err
		}
	}
	if t.used+n > scratchSize {
		return 0, fmt.Errorf("scratch area full (%d bytes wanted)", size)
	}
	addr := t.scratch + t.used
	t.used += n
	return addr, nil
}

// putString copies s with a terminating NUL.
func (t *task) putString(s string) (uint64, error) { return t.put(append([]byte(s), 0)) }

// putWords copies little-endian 64-bit words.
func (t *task) putWords(w ...uint64) (uint64, error) {
	b := make([]byte, 8*len(w))
	for i, v := range w {
		binary.LittleEndian.PutUint64(b[i*8:], v)
	}
	return t.put(b)
}

// reset frees the scratch area (inside batched, flush does).
func (t *task) reset() {
	if !t.queuing {
		t.used = 0
	}
}

// kill ends a task that will not be completed, and reaps it.
func (t *task) kill() {
	_ = unix.Kill(t.pid, unix.SIGKILL)
	for {
		if _, err := t.tr.Wait(t.pid); err != nil {
			return
		}
		_ = t.tr.Cont(t.pid, 0)
	}
}

// startStub starts a process stopped at its exec under ptrace and maps the
// scratch area and the gadget into it at area.
func startStub(tr *ptrace.Tracer, area uint64) (*task, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	pid, err := tr.StartStub(exe, []string{"migrate-restore-stub"}, &os.ProcAttr{Env: []string{}})
	if err != nil {
		return nil, fmt.Errorf("start restore stub: %w", err)
	}
	t := &task{pid: pid, tr: tr, scratch: area, gadget: area + scratchSize}
	if t.r, err = tr.NewRemote(pid, 0); err == nil {
		err = t.mapArea()
	}
	if err != nil {
		t.kill()
		return nil, fmt.Errorf("prepare restore stub: %w", err)
	}
	return t, nil
}

func (t *task) mapArea() error {
	got, err := t.call(unix.SYS_MMAP, t.scratch, scratchSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE, ^uint64(0), 0)
	if err != nil {
		return fmt.Errorf("map scratch at %#x: %w", t.scratch, err)
	}
	if got != t.scratch {
		return fmt.Errorf("map scratch at %#x: got %#x", t.scratch, got)
	}
	return t.r.MapGadget(t.gadget)
}

// cloneWithPID makes the stub fork a child with the given PID (clone3
// set_tid, CLONE_PARENT so that the child is ours, not the stub's), which
// starts traced and stopped. The child shares nothing with the stub but a
// copy of its memory, so it has the scratch area and the gadget too.
func (t *task) cloneWithPID(pid int) (*task, error) {
	args := linux.CloneArgs{Flags: unix.CLONE_PARENT, // exit_signal must be 0 with CLONE_PARENT: the stub's is inherited
		SetTid: t.scratch + 128, SetTidSize: 1}
	b := args.Append(nil)
	b = append(b, make([]byte, 128-len(b))...)
	b = linux.AppendSetTid(b, []int32{int32(pid)})
	if err := linux.WriteMem(t.pid, t.scratch, b); err != nil {
		return nil, err
	}
	var child int
	err := t.tr.Do(func() error {
		var err error
		child, err = t.clone3(uint64(len(args.Append(nil))))
		return err
	})
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("pid %d is in use", pid)
		}
		return nil, fmt.Errorf("create task with pid %d: %w", pid, err)
	}
	c := &task{pid: child, tr: t.tr, scratch: t.scratch, gadget: t.gadget}
	if child != pid {
		c.kill()
		return nil, fmt.Errorf("create task with pid %d: got pid %d", pid, child)
	}
	if c.r, err = t.tr.NewRemote(child, t.gadget); err != nil {
		c.kill()
		return nil, err
	}
	c.r.UseGadget(t.gadget)
	return c, nil
}

// clone3 runs clone3 in the stub with fork tracing on, through the fork
// event stop, and waits for the child's first stop.
// Precondition: runs on the tracer thread.
func (t *task) clone3(size uint64) (int, error) {
	// EXITKILL here, not only once the task is built: the new task inherits
	// the stub's options, so it dies with the tracer from its first moment.
	if err := linux.PtraceSetOptions(t.pid, unix.PTRACE_O_TRACEFORK|unix.PTRACE_O_TRACECLONE|unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_EXITKILL); err != nil {
		return 0, err
	}
	saved := t.r.Saved()
	regs := saved
	regs.Rax, regs.Orig_rax, regs.Rip = unix.SYS_CLONE3, ^uint64(0), t.gadget
	regs.Rdi, regs.Rsi = t.scratch, size
	if err := linux.PtraceSetRegs(t.pid, &regs); err != nil {
		return 0, err
	}
	child := 0
	for stops := 0; stops < 2; { // syscall-entry stop, then syscall-exit stop
		if err := linux.PtraceSyscall(t.pid, 0); err != nil {
			return 0, err
		}
		_, ws, err := linux.Wait4(t.pid, unix.WALL)
		if err != nil {
			return 0, err
		}
		switch {
		case !ws.Stopped():
			return 0, fmt.Errorf("stub ended: %v", ws)
		case ws.TrapCause() == unix.PTRACE_EVENT_FORK || ws.TrapCause() == unix.PTRACE_EVENT_CLONE:
			msg, err := linux.PtraceGetEventMsg(t.pid)
			if err != nil {
				return 0, err
			}
			child = int(msg)
		case ws.StopSignal() == unix.SIGTRAP|0x80:
			stops++
		}
	}
	if err := linux.PtraceGetRegs(t.pid, &regs); err != nil {
		return 0, err
	}
	if ret := int64(regs.Rax); ret < 0 {
		return 0, unix.Errno(-ret)
	}
	if child == 0 {
		child = int(regs.Rax)
	}
	if _, _, err := linux.Wait4(child, unix.WALL); err != nil {
		return 0, fmt.Errorf("wait for new task %d: %w", child, err)
	}
	return child, linux.PtraceSetRegs(t.pid, &saved)
}
