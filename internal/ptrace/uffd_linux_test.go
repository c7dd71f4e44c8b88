//go:build linux

package ptrace

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// TestUffdWPAcrossProcesses mirrors p9_inject_uffd.c: a userfaultfd is
// created inside an uncooperative tracee by an injected system call, taken
// out with pidfd_getfd, set up for async write-protection by us, and closed
// in the tracee; PAGEMAP_SCAN then reports exactly the pages it writes.
func TestUffdWPAcrossProcesses(t *testing.T) {
	requireRoot(t)
	if err := linux.HaveUffdWPAsync(); err != nil {
		t.Skip(err)
	}
	const npages = 64
	h := startHelper(t, "uffd")
	base, err := strconv.ParseUint(h.readLine(t), 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	size := uint64(npages * linux.PageSize)
	waitInSyscall(t, h.pid, h.pid, unix.SYS_READ)
	tr := newTracer(t)
	seizeAndInterrupt(t, tr, h.pid)
	uffd := stealUffd(t, tr, h.pid, base, size)
	if err := tr.Detach(h.pid, 0); err != nil {
		t.Fatal(err)
	}
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", h.pid))
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	if got := scanWritten(t, pm, base, size); len(got) != 0 {
		t.Fatalf("written before the helper wrote: %v", got)
	}
	for round := range 2 {
		h.stdin.Write([]byte{'w'})
		if got := h.readLine(t); got != "ok" {
			t.Fatalf("helper answered %q", got)
		}
		if got := scanWritten(t, pm, base, size); !slices.Equal(got, []uint64{3, 17}) {
			t.Fatalf("round %d: written pages %v, want [3 17]", round, got)
		}
	}
	// Our copy of the uffd is the only one: the tracee's was closed.
	if err := linux.UffdUnregister(uffd, base, size); err != nil {
		t.Fatal(err)
	}
}

// stealUffd makes a userfaultfd in the stopped tid with TakeNewFD,
// registers and write-protects [base, base+size) and restores the tracee,
// whose descriptor table must be as before. Cleanup closes our fd.
func stealUffd(t *testing.T, tr *Tracer, tid int, base, size uint64) int {
	t.Helper()
	r, err := tr.NewRemote(tid, 0)
	if err != nil {
		t.Fatal(err)
	}
	before := fdNames(t, tid)
	uffd, err := TakeNewFD(tid, r.Syscall, "userfaultfd", unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|linux.UFFD_USER_MODE_ONLY)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(uffd) })
	if after := fdNames(t, tid); !slices.Equal(after, before) {
		t.Fatalf("tracee's descriptors %v after TakeNewFD, %v before", after, before)
	}
	if _, err := linux.UffdAPI(uffd, linux.UFFD_FEATURE_WP_ASYNC|linux.UFFD_FEATURE_WP_UNPOPULATED); err != nil {
		t.Fatal(err)
	}
	if _, err := linux.UffdRegisterWP(uffd, base, size); err != nil {
		t.Fatal(err)
	}
	if err := linux.UffdWriteProtect(uffd, base, size, true); err != nil {
		t.Fatal(err)
	}
	// A call that fails makes no descriptor, and leaves none.
	if _, err := TakeNewFD(tid, r.Syscall, "eventfd2", unix.SYS_EVENTFD2, 0, ^uint64(0)); !errors.Is(err, unix.EINVAL) || errors.Is(err, ErrLeftInTracee) {
		t.Fatalf("eventfd2 with bad flags: %v, want EINVAL and nothing left", err)
	}
	if err := r.Restore(); err != nil {
		t.Fatal(err)
	}
	return uffd
}

// fdNames lists /proc/PID/fd.
func fdNames(t *testing.T, pid int) []string {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names
}

// scanWritten returns the indexes of the written pages of [base,
// base+size) and write-protects them again.
func scanWritten(t *testing.T, pm *os.File, base, size uint64) []uint64 {
	t.Helper()
	var pages []uint64
	vec := make([]linux.PageRegion, 8)
	for start := base; start < base+size; {
		arg := linux.PmScanArg{
			Flags: linux.PM_SCAN_WP_MATCHING | linux.PM_SCAN_CHECK_WPASYNC,
			Start: start, End: base + size,
			CategoryMask: linux.PAGE_IS_WRITTEN, ReturnMask: linux.PAGE_IS_WRITTEN,
		}
		n, err := linux.PagemapScan(int(pm.Fd()), &arg, vec)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range vec[:n] {
			for a := r.Start; a < r.End; a += linux.PageSize {
				pages = append(pages, (a-base)/linux.PageSize)
			}
		}
		if arg.WalkEnd <= start {
			t.Fatalf("PAGEMAP_SCAN made no progress at %#x", start)
		}
		start = arg.WalkEnd
	}
	return pages
}
