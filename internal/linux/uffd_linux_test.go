//go:build linux

package linux

import (
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
	base, size := sliceAddr(m), uint64(len(m))
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
