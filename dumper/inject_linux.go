package dumper

import (
	"encoding/binary"
	"fmt"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/ptrace"
	"golang.org/x/sys/unix"
)

// The state only the process itself can tell is read by injected
// system calls, all in one ptrace.Batch: one stop for some 80 calls (one
// by one they cost 20-80 ms of the freeze on a loaded 2-core VM). The
// calls answer into the batch's data area, read back in one piece.

// Layout of the data area.
const (
	ldtOff      = 0
	ldtSize     = 8192 * 8 // a full LDT: 8192 descriptors
	answersOff  = ldtOff + ldtSize
	answersSize = 4 << 10
	scratchSize = answersOff + answersSize
	maxQueries  = 96
)

// query is one injected call of the state read and what to make of its
// result (raw: see ptrace.Errno) and answer (the bytes its pointer
// argument got, nil without one).
type query struct {
	what   string
	call   ptrace.Call
	off    uint64 // of its answer in the answer area
	answer uint64 // bytes written at the pointer argument
	decode func(ret uint64, answer []byte) error
}

// queries builds the state read's calls with their answers at increasing
// offsets of the answer area.
type queries struct {
	data uint64 // the batch's data area
	off  uint64 // next free byte of the answer area
	list []query
}

// add appends a call; a call whose answer has n > 0 bytes gets a pointer
// to them as argument ptrArg.
func (q *queries) add(what string, nr uint64, args []uint64, ptrArg int, n uint64, decode func(ret uint64, answer []byte) error) {
	q.addCall(what, n, func(ans uint64) ptrace.Call {
		c := ptrace.Call{Nr: nr}
		copy(c.Args[:], args)
		if n > 0 {
			c.Args[ptrArg] = ans
		}
		return c
	}, decode)
}

// addCall appends the call made by call from the address of its n bytes
// of answer.
func (q *queries) addCall(what string, n uint64, call func(ans uint64) ptrace.Call, decode func(ret uint64, answer []byte) error) {
	c := call(q.data + answersOff + q.off)
	q.list = append(q.list, query{what: what, call: c, off: q.off, answer: n, decode: decode})
	q.off += (n + 7) &^ 7
}

// collectInjected reads the per-process and per-thread state that only
// the process itself can read, by injected system calls.
func collectInjected(p *image.Process, t *image.Thread, pid int, b *ptrace.Batch) error {
	q := &queries{data: b.Data()}
	addSigactions(q, p)
	addThreadQueries(q, t)
	addProcessQueries(q, p)
	if q.off > answersSize || len(q.list) > maxQueries {
		return fmt.Errorf("state read of pid %d: %d calls, %d bytes of answers: too many", pid, len(q.list), q.off)
	}
	calls := make([]ptrace.Call, len(q.list))
	for i, x := range q.list {
		calls[i] = x.call
	}
	ret, err := b.Run(calls)
	if err != nil {
		return fmt.Errorf("read the state of pid %d: %w", pid, err)
	}
	answers := make([]byte, q.off)
	if err := linux.ReadMem(pid, b.Data()+answersOff, answers); err != nil {
		return fmt.Errorf("read the state of pid %d: answers: %w", pid, err)
	}
	for i, x := range q.list {
		ans := answers[x.off : x.off+x.answer]
		if err := ptrace.Errno(ret[i]); err != nil {
			return fmt.Errorf("read %s of pid %d: %w", x.what, pid, err)
		}
		if err := x.decode(ret[i], ans); err != nil {
			return fmt.Errorf("read %s of pid %d: %w", x.what, pid, err)
		}
	}
	return readLDT(p, pid, b)
}

// words decodes little-endian 64-bit words.
func words(b []byte) []uint64 {
	w := make([]uint64, len(b)/8)
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[i*8:])
	}
	return w
}

func addSigactions(q *queries, p *image.Process) {
	p.SigActions = make([]image.SigAction, image.MaxSignals)
	for sig := 1; sig <= image.MaxSignals; sig++ {
		q.add(fmt.Sprintf("signal %d action", sig), unix.SYS_RT_SIGACTION, []uint64{uint64(sig), 0, 0, 8}, 2, ptrace.SigactionSize,
			func(_ uint64, a []byte) error {
				w := words(a)
				p.SigActions[sig-1] = image.SigAction{Handler: w[0], Flags: w[1], Restorer: w[2], Mask: w[3]}
				return nil
			})
	}
}

func addThreadQueries(q *queries, t *image.Thread) {
	q.add("sigaltstack", unix.SYS_SIGALTSTACK, nil, 1, 24, func(_ uint64, a []byte) error {
		w := words(a)
		t.Altstack = image.Altstack{SP: w[0], Flags: uint32(w[1]), Size: w[2]}
		return nil
	})
	// get_robust_list(0, &head, &len): two answers, head first.
	robust := func(ans uint64) ptrace.Call {
		return ptrace.Call{Nr: unix.SYS_GET_ROBUST_LIST, Args: [6]uint64{0, ans, ans + 8}}
	}
	q.addCall("robust list", 16, robust, func(_ uint64, a []byte) error {
		w := words(a)
		t.RobustList, t.RobustListLen = w[0], w[1]
		return nil
	})
	q.add("clear_child_tid", unix.SYS_PRCTL, []uint64{unix.PR_GET_TID_ADDRESS}, 1, 8, func(_ uint64, a []byte) error {
		t.ClearChildTID = words(a)[0]
		return nil
	})
}

func addProcessQueries(q *queries, p *image.Process) {
	for which := range 3 {
		// struct itimerval: interval{sec,usec}, value{sec,usec}
		q.add(fmt.Sprintf("itimer %d", which), unix.SYS_GETITIMER, []uint64{uint64(which)}, 1, 32, func(_ uint64, a []byte) error {
			w := words(a)
			p.ITimers[which] = image.ITimer{
				IntervalNS: int64(w[0])*1e9 + int64(w[1])*1e3,
				ValueNS:    int64(w[2])*1e9 + int64(w[3])*1e3,
			}
			return nil
		})
	}
	// The exact program break: the [heap] mapping ends at the next page
	// boundary, but malloc remembers the byte.
	q.add("brk", unix.SYS_BRK, []uint64{0}, 0, 0, func(ret uint64, _ []byte) error {
		p.MM.Brk = ret
		return nil
	})
	get := func(what string, opt uint64, set func(v uint64)) {
		q.add(what, unix.SYS_PRCTL, []uint64{opt, 0, 0, 0, 0}, 0, 0, func(ret uint64, _ []byte) error {
			set(ret)
			return nil
		})
	}
	getInto := func(what string, opt uint64, set func(v uint32)) {
		q.add(what, unix.SYS_PRCTL, []uint64{opt, 0, 0, 0, 0}, 1, 4, func(_ uint64, a []byte) error {
			set(binary.LittleEndian.Uint32(a))
			return nil
		})
	}
	get("securebits", unix.PR_GET_SECUREBITS, func(v uint64) { p.Creds.Securebits = uint32(v) })
	get("timer slack", unix.PR_GET_TIMERSLACK, func(v uint64) { p.TimerSlackNS = v })
	get("dumpable", unix.PR_GET_DUMPABLE, func(v uint64) { p.Dumpable = uint32(v) })
	get("THP disable", unix.PR_GET_THP_DISABLE, func(v uint64) { p.THPDisabled = v != 0 })
	getInto("parent death signal", unix.PR_GET_PDEATHSIG, func(v uint32) { p.PdeathSig = v })
	getInto("child subreaper", unix.PR_GET_CHILD_SUBREAPER, func(v uint32) { p.ChildSubreaper = v != 0 })
	q.add("LDT", unix.SYS_MODIFY_LDT, []uint64{0, q.data + ldtOff, ldtSize}, 0, 0, func(ret uint64, _ []byte) error {
		if ret > ldtSize {
			return fmt.Errorf("%d bytes, at most %d", ret, ldtSize)
		}
		p.LDT = make([]byte, ret) // filled by readLDT
		return nil
	})
}

// readLDT reads the LDT the batch copied into the data area.
func readLDT(p *image.Process, pid int, b *ptrace.Batch) error {
	if len(p.LDT) == 0 {
		p.LDT = nil
		return nil
	}
	if err := linux.ReadMem(pid, b.Data()+ldtOff, p.LDT); err != nil {
		return fmt.Errorf("read LDT of pid %d: %w", pid, err)
	}
	return nil
}
