//go:build linux

package ptrace

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// Call is one system call of a batch: its number and arguments.
type Call struct {
	Nr   uint64
	Args [6]uint64
}

// Errno returns the error of a raw system call result: nil unless ret is
// -4095..-1.
func Errno(ret uint64) error {
	if r := int64(ret); r < 0 && r >= -4095 {
		return unix.Errno(-r)
	}
	return nil
}

// batchCode runs the table of calls between rbx and r12 (64 bytes each:
// nr, six arguments, result) and stops with int3:
//
//	loop: cmp rbx, r12; jae done
//	      mov rax, [rbx]; mov rdi, [rbx+8]; mov rsi, [rbx+16]
//	      mov rdx, [rbx+24]; mov r10, [rbx+32]; mov r8, [rbx+40]
//	      mov r9, [rbx+48]; syscall; mov [rbx+56], rax
//	      add rbx, 64; jmp loop
//	done: int3
//
// The kernel keeps rbx and r12 across syscall (it clobbers rcx and r11).
var batchCode = []byte{
	0x4c, 0x39, 0xe3, 0x73, 0x27,
	0x48, 0x8b, 0x03, 0x48, 0x8b, 0x7b, 0x08, 0x48, 0x8b, 0x73, 0x10,
	0x48, 0x8b, 0x53, 0x18, 0x4c, 0x8b, 0x53, 0x20, 0x4c, 0x8b, 0x43, 0x28,
	0x4c, 0x8b, 0x4b, 0x30, 0x0f, 0x05, 0x48, 0x89, 0x43, 0x38,
	0x48, 0x83, 0xc3, 0x40, 0xeb, 0xd4,
	0xcc,
}

const (
	callSize = 64 // bytes of one call in the table
	sigIgn   = 1  // SIG_IGN
)

// SigactionSize is the size of struct kernel_sigaction (8-byte mask), what
// rt_sigaction reads and writes with sigsetsize 8.
const SigactionSize = 32

// Batch is an area mapped in a stopped tracee that runs many injected
// system calls in one stop: reading a process's state takes some 80
// calls, and each injected call is four ptrace requests and two stops
// (0.1-1 ms each on a loaded machine, inside the freeze). The area is a
// data part for the calls' answers, the call table and a code page.
//
// Running code in the tracee needs an executable page; where the system
// refuses one (a W^X policy), the calls are injected one by one.
type Batch struct {
	r        *Remote
	data     uint64 // the caller's part, where MapBatch's mapping starts
	size     uint64 // of MapBatch's mapping; 0 for BatchAt
	table    uint64
	code     uint64 // 0: no code page, calls go one by one
	maxCalls int
}

// MapBatch maps a Batch in the thread: dataSize bytes for the caller (see
// Data) and room for maxCalls calls.
func (r *Remote) MapBatch(dataSize uint64, maxCalls int) (*Batch, error) {
	dataSize = pageAlign(dataSize)
	tableSize := pageAlign(TableSize(maxCalls))
	size := dataSize + tableSize + linux.PageSize
	addr, err := r.Syscall(unix.SYS_MMAP, 0, size, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return nil, fmt.Errorf("map batch area in tid %d: %w", r.tid, err)
	}
	b := &Batch{r: r, data: addr, size: size, table: addr + dataSize, maxCalls: maxCalls}
	code := b.table + tableSize
	if err := linux.WriteMem(r.tid, code, batchCode); err != nil {
		return nil, errors.Join(fmt.Errorf("write batch code in tid %d at %#x: %w", r.tid, code, err), b.Unmap())
	}
	if _, err := r.Syscall(unix.SYS_MPROTECT, code, linux.PageSize, gadgetProt); err == nil {
		b.code = code
	}
	return b, nil
}

func pageAlign(n uint64) uint64 { return (n + linux.PageSize - 1) &^ (linux.PageSize - 1) }

// Data is the address of the caller's part of the area.
func (b *Batch) Data() uint64 { return b.data }

// TableSize is the bytes of table a Batch of maxCalls calls needs.
func TableSize(maxCalls int) uint64 { return uint64(maxCalls+1)*callSize + SigactionSize }

// BatchAt returns a Batch that runs the code of the gadget page (see
// MapGadget) over a table at addr, TableSize(maxCalls) bytes of writable
// memory of the caller's.
func (r *Remote) BatchAt(table uint64, maxCalls int) (*Batch, error) {
	if r.gadget == 0 {
		return nil, errors.New("BatchAt needs a gadget page: call MapGadget first")
	}
	return &Batch{r: r, table: table, code: r.gadget + gadgetBatchOff, maxCalls: maxCalls}, nil
}

// Unmap removes the area of MapBatch (nothing for BatchAt); the process
// must not run before it is gone.
func (b *Batch) Unmap() error {
	if b.size == 0 {
		return nil
	}
	if _, err := b.r.Syscall(unix.SYS_MUNMAP, b.data, b.size); err != nil {
		return fmt.Errorf("unmap batch area in tid %d: %w", b.r.tid, err)
	}
	return nil
}

// Run executes the calls in order and returns their raw results (see
// Errno). A failing call does not stop the others. The calls must not
// depend on each other's results and must not block.
func (b *Batch) Run(calls []Call) ([]uint64, error) {
	if len(calls) > b.maxCalls {
		return nil, fmt.Errorf("batch of %d calls, room for %d", len(calls), b.maxCalls)
	}
	out := make([]uint64, len(calls))
	var oneByOne bool
	err := b.r.t.Do(func() error {
		var err error
		if oneByOne, err = b.oneByOne(); err != nil || !oneByOne {
			return err
		}
		for i, c := range calls {
			ret, err := b.r.syscall(uintptr(c.Nr), c.Args[:])
			if err != nil && !errors.As(err, new(unix.Errno)) {
				return err
			}
			out[i] = ret
		}
		return nil
	})
	if err != nil || oneByOne {
		if err != nil {
			err = fmt.Errorf("%d injected calls in tid %d: %w", len(calls), b.r.tid, err)
		}
		return out, err
	}
	// The int3 at the end raises SIGTRAP, and the kernel resets the
	// handler of a SIGTRAP the process ignores to SIG_DFL: the last call
	// saves the disposition (the calls may have set it), which is put
	// back after the stop if it was SIG_IGN. Its answer follows the table.
	trapAct := b.table + uint64(len(calls)+1)*callSize
	all := append(calls[:len(calls):len(calls)],
		Call{Nr: unix.SYS_RT_SIGACTION, Args: [6]uint64{uint64(unix.SIGTRAP), 0, trapAct, 8}})
	tab := make([]byte, len(all)*callSize+SigactionSize)
	le := binary.LittleEndian
	for i, c := range all {
		e := tab[i*callSize:]
		le.PutUint64(e, c.Nr)
		for j, a := range c.Args {
			le.PutUint64(e[8+8*j:], a)
		}
	}
	if err := linux.WriteMem(b.r.tid, b.table, tab); err != nil {
		return nil, fmt.Errorf("write batch table in tid %d: %w", b.r.tid, err)
	}
	if err := b.r.t.Do(func() error { return b.run(b.table + uint64(len(all))*callSize) }); err != nil {
		return nil, fmt.Errorf("batch of %d calls in tid %d: %w", len(calls), b.r.tid, err)
	}
	if err := linux.ReadMem(b.r.tid, b.table, tab); err != nil {
		return nil, fmt.Errorf("read batch results in tid %d: %w", b.r.tid, err)
	}
	for i := range calls {
		out[i] = le.Uint64(tab[i*callSize+56:])
	}
	if err := Errno(le.Uint64(tab[len(calls)*callSize+56:])); err != nil {
		return nil, fmt.Errorf("batch in tid %d: read SIGTRAP action: %w", b.r.tid, err)
	}
	if le.Uint64(tab[len(all)*callSize:]) == sigIgn {
		if _, err := b.r.Syscall(unix.SYS_RT_SIGACTION, uint64(unix.SIGTRAP), trapAct, 0, 8); err != nil {
			return nil, fmt.Errorf("batch in tid %d: put back ignored SIGTRAP: %w", b.r.tid, err)
		}
	}
	return out, nil
}

// oneByOne tells whether the calls must go one by one: no code page,
// or a SIGTRAP pending (blocked by the program), which the batch, with
// SIGTRAP unblocked, would take. Precondition: runs on the tracer thread.
func (b *Batch) oneByOne() (bool, error) {
	if b.code == 0 {
		return true, nil
	}
	for _, shared := range []bool{false, true} {
		pending, err := peekSiginfo(b.r.tid, shared)
		if err != nil {
			return false, err
		}
		for _, si := range pending {
			if si.Signo == int32(unix.SIGTRAP) {
				return true, nil
			}
		}
	}
	return false, nil
}

// run lets the thread execute the code over the table up to end and waits
// for its int3. Precondition: runs on the tracer thread.
func (b *Batch) run(end uint64) error {
	if err := b.r.blockSignals(true); err != nil { // the int3 traps
		return err
	}
	regs := b.r.saved
	regs.Rip, regs.Orig_rax = b.code, ^uint64(0)
	regs.Rbx, regs.R12 = b.table, end
	if err := linux.PtraceSetRegs(b.r.tid, &regs); err != nil {
		return err
	}
	if err := b.r.resumeAndWait(linux.PtraceCont); err != nil {
		return err
	}
	if err := linux.PtraceGetRegs(b.r.tid, &regs); err != nil {
		return err
	}
	if want := b.code + uint64(len(batchCode)); regs.Rip != want {
		return fmt.Errorf("stopped at rip %#x, want %#x", regs.Rip, want)
	}
	return nil
}
