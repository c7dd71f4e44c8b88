//go:build linux

package linux

import (
	"encoding/binary"
	"testing"
	"unsafe"
)

func TestStructSizes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"clone_args", unsafe.Sizeof(CloneArgs{}), SizeofCloneArgs},
		{"prctl_mm_map", unsafe.Sizeof(PrctlMMMap{}), SizeofPrctlMMMap},
		{"ptrace_rseq_configuration", unsafe.Sizeof(PtraceRseqConfiguration{}), SizeofPtraceRseqConfiguration},
		{"ptrace_syscall_info", unsafe.Sizeof(PtraceSyscallInfo{}), SizeofPtraceSyscallInfo},
		{"ptrace_peeksiginfo_args", unsafe.Sizeof(PtracePeekSiginfoArgs{}), 16},
		{"pm_scan_arg", unsafe.Sizeof(PmScanArg{}), SizeofPmScanArg},
		{"page_region", unsafe.Sizeof(PageRegion{}), SizeofPageRegion},
		{"uffdio_api", unsafe.Sizeof(UffdioAPI{}), SizeofUffdioAPI},
		{"uffdio_range", unsafe.Sizeof(UffdioRange{}), SizeofUffdioRange},
		{"uffdio_register", unsafe.Sizeof(UffdioRegister{}), SizeofUffdioRegister},
		{"uffdio_writeprotect", unsafe.Sizeof(UffdioWriteprotect{}), SizeofUffdioWriteprotect},
		{"uffdio_copy", unsafe.Sizeof(UffdioCopy{}), SizeofUffdioCopy},
		{"user_desc", unsafe.Sizeof(UserDesc{}), SizeofUserDesc},
	} {
		if tc.got != tc.want {
			t.Errorf("sizeof(struct %s) = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	// Literal kernel sizes, so that a wrong Sizeof constant cannot hide a
	// wrong struct.
	for name, pair := range map[string][2]uintptr{
		"clone_args":   {SizeofCloneArgs, 88},
		"prctl_mm_map": {SizeofPrctlMMMap, 104},
		"rseq_config":  {SizeofPtraceRseqConfiguration, 24},
		"pm_scan_arg":  {SizeofPmScanArg, 96},
		"page_region":  {SizeofPageRegion, 24},
		"user_desc":    {SizeofUserDesc, 16},
	} {
		if pair[0] != pair[1] {
			t.Errorf("Sizeof constant for %s = %d, kernel says %d", name, pair[0], pair[1])
		}
	}
}

func TestFieldOffsets(t *testing.T) {
	var ca CloneArgs
	var mm PrctlMMMap
	var rc PtraceRseqConfiguration
	var si PtraceSyscallInfo
	var pm PmScanArg
	var reg UffdioRegister
	var cp UffdioCopy
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"clone_args.set_tid", unsafe.Offsetof(ca.SetTid), 64},
		{"clone_args.cgroup", unsafe.Offsetof(ca.Cgroup), 80},
		{"prctl_mm_map.auxv", unsafe.Offsetof(mm.Auxv), 88},
		{"prctl_mm_map.auxv_size", unsafe.Offsetof(mm.AuxvSize), 96},
		{"prctl_mm_map.exe_fd", unsafe.Offsetof(mm.ExeFd), 100},
		{"rseq.flags", unsafe.Offsetof(rc.Flags), 16},
		{"syscall_info.arch", unsafe.Offsetof(si.Arch), 4},
		{"syscall_info.union", unsafe.Offsetof(si.data), 24},
		{"pm_scan_arg.walk_end", unsafe.Offsetof(pm.WalkEnd), 32},
		{"pm_scan_arg.return_mask", unsafe.Offsetof(pm.ReturnMask), 88},
		{"uffdio_copy.copy", unsafe.Offsetof(cp.Copy), 32},
		{"uffdio_register.mode", unsafe.Offsetof(reg.Mode), 16},
	} {
		if tc.got != tc.want {
			t.Errorf("offsetof(%s) = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

func TestAppendMatchesMemoryLayout(t *testing.T) {
	ca := CloneArgs{Flags: 1, Pidfd: 2, ChildTid: 3, ParentTid: 4, ExitSignal: 17, Stack: 6,
		StackSize: 7, TLS: 8, SetTid: 0x7fff1234, SetTidSize: 1, Cgroup: 11}
	mm := PrctlMMMap{StartCode: 1, EnvEnd: 11, Auxv: 0xdead000, AuxvSize: 368, ExeFd: ^uint32(0)}
	ud := UserDesc{EntryNumber: 3, BaseAddr: 0x12345000, Limit: 0xfff, Flags: 0x51}
	check := func(name string, got []byte, p unsafe.Pointer, size uintptr) {
		t.Helper()
		want := unsafe.Slice((*byte)(p), size)
		if string(got) != string(want) {
			t.Errorf("%s.Append = %x, memory holds %x", name, got, want)
		}
	}
	check("CloneArgs", ca.Append(nil), unsafe.Pointer(&ca), unsafe.Sizeof(ca))
	check("PrctlMMMap", mm.Append(nil), unsafe.Pointer(&mm), unsafe.Sizeof(mm))
	check("UserDesc", ud.Append(nil), unsafe.Pointer(&ud), unsafe.Sizeof(ud))

	b := AppendSetTid([]byte{0xff}, []int32{42, 7})
	if len(b) != 9 || b[0] != 0xff || binary.LittleEndian.Uint32(b[1:]) != 42 || binary.LittleEndian.Uint32(b[5:]) != 7 {
		t.Errorf("AppendSetTid = %x", b)
	}
}

func TestPtraceSyscallInfoUnion(t *testing.T) {
	var si PtraceSyscallInfo
	si.data = [8]uint64{59, 1, 2, 3, 4, 5, 6, 0}
	if si.Nr() != 59 || si.Args() != [6]uint64{1, 2, 3, 4, 5, 6} {
		t.Errorf("Nr/Args = %d %v", si.Nr(), si.Args())
	}
	si.data[0], si.data[1] = ^uint64(1), 1 // -2, is_error
	if rval, isErr := si.Rval(); rval != -2 || !isErr {
		t.Errorf("Rval = %d %t", rval, isErr)
	}
}
