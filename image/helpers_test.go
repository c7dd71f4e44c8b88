package image

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fill returns n bytes starting at seed and counting up, never all zero.
func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func sigInfo(seed byte) SigInfo {
	var s SigInfo
	copy(s.Raw[:], fill(SigInfoSize, seed))
	return s
}

// testThread returns a thread with every field set.
func testThread(tid int32) Thread {
	return Thread{
		TID:           tid,
		Comm:          "worker",
		Regs:          fill(RegsSize, byte(tid)),
		XState:        fill(832, 7),
		SigBlocked:    1<<9 | 1<<14,
		Pending:       []SigInfo{sigInfo(1), sigInfo(2)},
		Rseq:          &Rseq{Addr: 0x7f0000001000, Len: 32, Sig: 0x53053053, Flags: 1},
		RobustList:    0x7f0000002000,
		RobustListLen: 24,
		ClearChildTID: 0x7f0000003000,
		Altstack:      Altstack{SP: 0x7f0000100000, Flags: 2, Size: 8192},
		Nice:          -5,
	}
}

// testVMAs returns a valid, sorted layout with every VMA field used.
func testVMAs() []VMA {
	exe := &FileID{Path: "/usr/bin/cat", Size: 35000, Mode: 0o100755, BuildID: fill(20, 3), SHA256: fill(32, 4), Deleted: true}
	return []VMA{
		{Start: 0x400000, End: 0x402000, Prot: ProtRead | ProtExec, Flags: MapPrivate, Kind: VMAFile, Offset: 0x1000, File: exe, Name: "/usr/bin/cat"},
		{Start: 0x402000, End: 0x404000, Prot: ProtRead | ProtWrite, Flags: MapPrivate | MapAnonymous, Kind: VMAHeap, Offset: 0, Name: "[heap]"},
		{Start: 0x7f0000000000, End: 0x7f0000010000, Prot: ProtRead | ProtWrite, Flags: MapPrivate | MapAnonymous, Kind: VMAAnon, Name: "[anon:foo]", Advice: AdviseDontDump | AdviseHugePage},
		{Start: 0x7ffd00000000, End: 0x7ffd00021000, Prot: ProtRead | ProtWrite, Flags: MapPrivate | MapAnonymous | MapGrowsdown, Kind: VMAStack, Name: "[stack]"},
	}
}

// testProcess returns a process with every field set.
func testProcess(pid, ppid int32, nthreads int) Process {
	p := Process{
		PID: pid, PPID: ppid, PGID: pid, SID: 7, Comm: "cat",
		Exe: FileID{Path: "/usr/bin/cat", Size: 35000, Mode: 0o100755, BuildID: fill(20, 9), SHA256: fill(32, 5), Deleted: true},
		Creds: Creds{
			UID: 1000, EUID: 1001, SUID: 1002, FSUID: 1003,
			GID: 100, EGID: 101, SGID: 102, FSGID: 103, Groups: []uint32{4, 24, 27},
			CapInh: 1, CapPrm: 2, CapEff: 3, CapBnd: 1<<41 - 1, CapAmb: 4, Securebits: 0x2f,
		},
		MM: MM{
			StartCode: 0x400000, EndCode: 0x401000, StartData: 0x401000, EndData: 0x402000,
			StartBrk: 0x402000, Brk: 0x403000, StartStack: 0x7ffd00020000,
			ArgStart: 0x7ffd00020100, ArgEnd: 0x7ffd00020200, EnvStart: 0x7ffd00020200, EnvEnd: 0x7ffd00020300,
			Auxv: []uint64{6, 4096, 33, 0x7ffd00000000, 0, 0},
			VMAs: testVMAs(),
		},
		SigActions:    []SigAction{{Handler: 1, Flags: 0x04000000, Restorer: 0x401234, Mask: 1 << 3}, {Handler: 0x401000, Flags: 2, Restorer: 3, Mask: 4}},
		SharedPending: []SigInfo{sigInfo(9)},
		Rlimits:       []Rlimit{{Cur: 1 << 20, Max: ^uint64(0)}, {Cur: 8 << 20, Max: 16 << 20}},
		FDs: []FD{
			{Num: 1, Kind: FDFile, Path: "/dev/null", Flags: 2, Pos: 1, CloExec: true, File: &FileID{Path: "/dev/null", Mode: 0o20666, Size: 1, BuildID: []byte{1}, SHA256: []byte{2}, Deleted: true}},
			{Num: 3, Kind: FDPipe, Path: "pipe:[1234]", Flags: 1, Pos: 2, CloExec: true, File: &FileID{Path: "p", Size: 2, Mode: 3, BuildID: []byte{4}, SHA256: []byte{5}, Deleted: true}, DupOf: 2},
		},
		Cwd: "/tmp", Root: "/", Umask: 0o22, Personality: 0x0040000,
		ITimers:    [3]ITimer{{IntervalNS: 1, ValueNS: 2}, {IntervalNS: 3, ValueNS: 4}, {IntervalNS: 5, ValueNS: 6}},
		NoNewPrivs: true, TimerSlackNS: 50000, ChildSubreaper: true, PdeathSig: 9, Dumpable: 1, THPDisabled: true,
		LDT: fill(16, 1),
	}
	for i := range nthreads {
		p.Threads = append(p.Threads, testThread(pid+int32(i)))
	}
	return p
}

// testCheckpoint returns a valid two-process tree with every field set.
func testCheckpoint() *Checkpoint {
	return &Checkpoint{
		Arch:            ArchX86_64,
		KernelRelease:   "6.18.0-test",
		CreatedUnixNano: 1_790_000_000_123_456_789,
		Root:            42,
		Processes:       []Process{testProcess(42, 1, 2), testProcess(50, 42, 1)},
	}
}

// smallCheckpoint returns a valid one-process, one-thread checkpoint whose
// encoding is small enough to corrupt byte by byte.
func smallCheckpoint() *Checkpoint {
	p := Process{PID: 7, PPID: 1, PGID: 7, SID: 7, Comm: "x",
		Threads: []Thread{{TID: 7, Regs: fill(RegsSize, 1)}},
		MM:      MM{VMAs: []VMA{{Start: 0x1000, End: 0x3000, Prot: ProtRead, Flags: MapPrivate | MapAnonymous, Kind: VMAAnon}}},
	}
	return &Checkpoint{Arch: ArchX86_64, KernelRelease: "6.18", Root: 7, Processes: []Process{p}}
}

// checkAllSet fails if any field reachable from v is zero, so that the
// round-trip test covers every field. For slices it looks at the first
// element only; arrays are checked whole.
func checkAllSet(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Errorf("%s is nil", path)
			return
		}
		checkAllSet(t, v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			checkAllSet(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Slice, reflect.Array:
		if v.Len() == 0 {
			t.Errorf("%s is empty", path)
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if bytes.Count(v.Bytes(), []byte{0}) == v.Len() {
				t.Errorf("%s is all zero", path)
			}
			return
		}
		n := v.Len()
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct && n > 1 {
			// A field may be set in any element (a descriptor can only
			// share the description of an earlier one, say).
			for f := range v.Type().Elem().NumField() {
				i := 0
				for i < n-1 && v.Index(i).Field(f).IsZero() {
					i++
				}
				checkAllSet(t, v.Index(i).Field(f), fmt.Sprintf("%s[%d].%s", path, i, v.Type().Elem().Field(f).Name))
			}
			return
		}
		if v.Kind() == reflect.Slice {
			n = min(n, 1)
		}
		for i := range n {
			checkAllSet(t, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		if v.IsZero() {
			t.Errorf("%s is zero", path)
		}
	}
}

// wantErr fails unless err wraps target and its text contains substr.
func wantErr(t *testing.T, err, target error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v containing %q", target, substr)
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("error %q does not wrap %v", err, target)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
}
