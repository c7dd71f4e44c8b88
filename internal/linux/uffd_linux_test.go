//go:build linux

package linux

import (
	"errors"
	"os"
	"testing"

	"github.com/migrate-dev/migrate/internal/testutil"
	"golang.org/x/sys/unix"
)

// writtenPages scans [base, base+size) with WP_MATCHING and returns the
// page indexes reported written.
func writtenPages(t *testing.T, pm *os.File, base, size uint64) []uint64 {
	t.Helper()
	var pages []uint64
	vec := make([]PageRegion, 1) // small, to exercise WalkEnd
	for start := base; start < base+size; {
		arg := PmScanArg{
			Flags: PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			Start: start, End: base + size,
			CategoryMask: PAGE_IS_WRITTEN, ReturnMask: PAGE_IS_WRITTEN,
		}
		n, err := PagemapScan(int(pm.Fd()), &arg, vec)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range vec[:n] {
			for a := r.Start; a < r.End; a += PageSize {
				pages = append(pages, (a-base)/PageSize)
			}
		}
		if arg.WalkEnd <= start {
			t.Fatalf("PAGEMAP_SCAN made no progress at %#x", start)
		}
		start = arg.WalkEnd
	}
	return pages
}

func TestUffdWPAsyncSelf(t *testing.T) {
	if err := HaveUffdWPAsync(); err != nil {
		t.Skip(err)
	}
	const npages = 16
	m := testutil.MapPages(t, npages)
	for i := 0; i < len(m); i += PageSize {
		m[i] = 1
	}
	base, size := SliceAddr(m), uint64(len(m))
	fd, err := Userfaultfd(unix.O_CLOEXEC | unix.O_NONBLOCK | UFFD_USER_MODE_ONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := UffdAPI(fd, UFFD_FEATURE_WP_ASYNC|UFFD_FEATURE_WP_UNPOPULATED); err != nil {
		t.Fatal(err)
	}
	if _, err := UffdRegisterWP(fd, base, size); err != nil {
		t.Fatal(err)
	}
	if err := UffdWriteProtect(fd, base, size, true); err != nil {
		t.Fatal(err)
	}
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	if got := writtenPages(t, pm, base, size); len(got) != 0 {
		t.Fatalf("after write-protect: written pages %v, want none", got)
	}
	m[3*PageSize+5], m[9*PageSize], m[10*PageSize+100] = 7, 7, 7
	got := writtenPages(t, pm, base, size)
	if len(got) != 3 || got[0] != 3 || got[1] != 9 || got[2] != 10 {
		t.Fatalf("written pages %v, want [3 9 10]", got)
	}
	if got := writtenPages(t, pm, base, size); len(got) != 0 {
		t.Fatalf("second scan: written pages %v, want none (re-protected)", got)
	}
	if err := UffdWriteProtect(fd, base, size, false); err != nil {
		t.Fatal(err)
	}
	if got := writtenPages(t, pm, base, size); len(got) != npages {
		t.Fatalf("after un-protecting: %d pages written, want %d", len(got), npages)
	}
	if err := UffdUnregister(fd, base, size); err != nil {
		t.Fatal(err)
	}
}

// TestUffdCopy fills missing pages of a registered mapping of our own:
// the contents arrive, a present page stops the copy with EEXIST after the
// pages before it, and SIGBUS mode makes a kernel read of a missing page
// fail with EFAULT instead of waiting for a handler.
func TestUffdCopy(t *testing.T) {
	testutil.RequireRoot(t) // userfaultfd without UFFD_USER_MODE_ONLY
	const npages = 8
	m := testutil.MapPages(t, npages)
	base := SliceAddr(m)
	fd, err := UffdMissing(base, npages*PageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	src := make([]byte, 4*PageSize)
	for i := range src {
		src[i] = byte(i/PageSize + 1)
	}
	// Missing: a kernel read (process_vm_readv of ourselves) must not wait.
	if _, err := ProcessVMReadv(os.Getpid(), [][]byte{src[:PageSize]}, []RemoteRange{{base + 5*PageSize, PageSize}}); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("reading a missing registered page: %v, want EFAULT", err)
	}
	if n, err := UffdCopy(fd, base+3*PageSize, src[:PageSize]); err != nil || n != PageSize {
		t.Fatalf("copy of page 3: %d bytes, %v", n, err)
	}
	// Pages 1-4: 1 and 2 are missing, 3 is present.
	n, err := UffdCopy(fd, base+PageSize, src)
	if !errors.Is(err, unix.EEXIST) || n != 2*PageSize {
		t.Fatalf("copy over a present page: %d bytes, %v; want %d bytes and EEXIST", n, err, 2*PageSize)
	}
	for _, c := range []struct{ page, want int }{{1, 1}, {2, 2}, {3, 1}} {
		if got := m[c.page*PageSize+100]; got != byte(c.want) {
			t.Errorf("page %d holds %d, want %d", c.page, got, c.want)
		}
	}
	// Closing the userfaultfd unregisters: the rest fault in as zero.
	unix.Close(fd)
	fd = -1
	if m[7*PageSize] != 0 || m[0] != 0 {
		t.Error("untouched pages are not zero")
	}
}
