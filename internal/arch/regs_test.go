package arch

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestRegsRoundTrip(t *testing.T) {
	r := unix.PtraceRegs{R15: 1, Rip: 0x401000, Fs_base: 0x7f0000001000, Gs_base: 7, Orig_rax: 35}
	b := EncodeRegs(&r)
	if len(b) != RegsSize {
		t.Fatalf("encoded %d bytes", len(b))
	}
	got, err := DecodeRegs(b)
	if err != nil || got != r {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := DecodeRegs(b[:100]); err == nil {
		t.Error("short registers accepted")
	}
}

func TestPrepareResume(t *testing.T) {
	neg := func(e int64) uint64 { return uint64(-e) }
	for _, tc := range []struct {
		name     string
		in       unix.PtraceRegs
		want     Restart
		rax, rip uint64
	}{
		{"read ERESTARTSYS", unix.PtraceRegs{Orig_rax: 0, Rax: neg(512), Rip: 0x1002}, Reissue, 0, 0x1000},
		{"wait ERESTARTNOINTR", unix.PtraceRegs{Orig_rax: 61, Rax: neg(513), Rip: 0x2002}, Reissue, 61, 0x2000},
		{"pause ERESTARTNOHAND", unix.PtraceRegs{Orig_rax: 34, Rax: neg(514), Rip: 0x3002}, Reissue, 34, 0x3000},
		{"nanosleep RESTARTBLOCK", unix.PtraceRegs{Orig_rax: 35, Rax: neg(516), Rip: 0x4002}, Interrupted, neg(4), 0x4002},
		{"user code", unix.PtraceRegs{Orig_rax: ^uint64(0), Rax: 5, Rip: 0x5000}, NotInSyscall, 5, 0x5000},
		{"completed call", unix.PtraceRegs{Orig_rax: 1, Rax: 10, Rip: 0x6002}, NotInSyscall, 10, 0x6002},
	} {
		r := tc.in
		if got := PrepareResume(&r); got != tc.want || r.Rax != tc.rax || r.Rip != tc.rip || int64(r.Orig_rax) != -1 {
			t.Errorf("%s: %v rax=%#x rip=%#x orig=%d", tc.name, got, r.Rax, r.Rip, int64(r.Orig_rax))
		}
	}
}

func TestResumeInPlace(t *testing.T) {
	neg := func(e int64) uint64 { return uint64(-e) }
	r := unix.PtraceRegs{Orig_rax: 230, Rax: neg(516), Rip: 0x4002}
	ResumeInPlace(&r)
	if r.Rax != unix.SYS_RESTART_SYSCALL || r.Rip != 0x4000 || int64(r.Orig_rax) != -1 {
		t.Errorf("restart block: %+v", r)
	}
	r = unix.PtraceRegs{Orig_rax: 0, Rax: neg(512), Rip: 0x1002}
	ResumeInPlace(&r)
	if r.Rax != 0 || r.Rip != 0x1000 {
		t.Errorf("read: %+v", r)
	}
	r = unix.PtraceRegs{Orig_rax: 1, Rax: 5, Rip: 0x6002}
	if ResumeInPlace(&r); r.Rax != 5 || r.Rip != 0x6002 || r.Orig_rax != 1 {
		t.Errorf("completed call changed: %+v", r)
	}
}
