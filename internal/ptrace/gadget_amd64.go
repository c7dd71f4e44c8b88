//go:build linux

package ptrace

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// syscallInsn is the x86-64 "syscall" instruction.
var syscallInsn = []byte{0x0f, 0x05}

// gadgetCode is what MapGadget writes: syscall; int3, and at
// gadgetBatchOff the code of a Batch.
var gadgetCode = append(append([]byte{0x0f, 0x05, 0xcc}, make([]byte, gadgetBatchOff-3)...), batchCode...)

const gadgetBatchOff = 16

// errNoSyscallInsn is wrapped when no mapping holds a syscall instruction.
var errNoSyscallInsn = errors.New("no syscall instruction in any executable mapping")

// execMapping is an executable range from /proc/PID/maps.
type execMapping struct {
	start, end uint64
	name       string
}

// FindSyscallInsn returns the address of a "syscall" instruction (0f 05)
// in process pid: in its [vdso] if it has one, else in any other executable
// mapping. It reads /proc/PID/maps and the memory with process_vm_readv, so
// it needs no ptrace stop.
func FindSyscallInsn(pid int) (uint64, error) {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, fmt.Errorf("finding syscall instruction: %w", err)
	}
	ms := parseExecMappings(maps)
	// [vdso] first: it is always there and small.
	for i, m := range ms {
		if m.name == "[vdso]" {
			ms[0], ms[i] = ms[i], ms[0]
			break
		}
	}
	for _, m := range ms {
		if addr, ok := scanMapping(pid, m); ok {
			return addr, nil
		}
	}
	return 0, fmt.Errorf("pid %d: %w", pid, errNoSyscallInsn)
}

// SyscallInsnIn returns the address of a "syscall" instruction in
// [start, end) of process pid (a mapping the caller knows to be
// executable, such as its [vdso]), or false when there is none or the
// memory cannot be read: for callers that have the process's mappings at
// hand, where FindSyscallInsn would read /proc/PID/maps again (several
// milliseconds for a process with thousands of mappings).
func SyscallInsnIn(pid int, start, end uint64) (uint64, bool) {
	if end <= start {
		return 0, false
	}
	return scanMapping(pid, execMapping{start: start, end: end})
}

// parseExecMappings returns the executable mappings listed in a
// /proc/PID/maps text, except [vsyscall], which cannot be read.
func parseExecMappings(maps []byte) []execMapping {
	var out []execMapping
	for line := range strings.Lines(string(maps)) {
		f := strings.Fields(line)
		if len(f) < 5 || len(f[1]) < 3 || f[1][2] != 'x' {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		m := execMapping{start: start, end: end}
		if len(f) >= 6 {
			m.name = f[5]
		}
		if m.name != "[vsyscall]" {
			out = append(out, m)
		}
	}
	return out
}

// scanMapping looks for a syscall instruction in m, reading it in chunks.
func scanMapping(pid int, m execMapping) (uint64, bool) {
	const chunk = 64 << 10
	buf := make([]byte, chunk+1) // +1: an instruction may straddle chunks
	for addr := m.start; addr < m.end; addr += chunk {
		n := min(uint64(len(buf)), m.end-addr)
		if err := linux.ReadMem(pid, addr, buf[:n]); err != nil {
			return 0, false
		}
		if i := bytes.Index(buf[:n], syscallInsn); i >= 0 {
			return addr + uint64(i), true
		}
	}
	return 0, false
}

// gadgetProt is the protection of a mapped gadget page.
const gadgetProt = unix.PROT_READ | unix.PROT_EXEC
