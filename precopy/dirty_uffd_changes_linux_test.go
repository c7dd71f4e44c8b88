//go:build linux

package precopy

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestUffdCollectRacesWrites collects in a loop while the helper writes
// pages of a permutation: every page written is reported, and no other.
func TestUffdCollectRacesWrites(t *testing.T) {
	h := startHelper(t)
	u := newUffdTracker(t, h)
	const npages, seed = 8192, 7
	region := h.mmap(t, npages)
	if err := u.Track([]Range{region}); err != nil {
		t.Fatal(err)
	}
	seen := make(map[uint64]int)
	collect := func() error {
		rs, err := u.Collect()
		for _, r := range rs {
			for p := r.Start; p < r.End; p += trackPageSize {
				seen[p]++
			}
		}
		return err
	}
	stop, done := make(chan struct{}), make(chan error)
	collects := 0
	go func() {
		for {
			if err := collect(); err != nil {
				done <- err
				return
			}
			collects++
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
		}
	}()
	const written = 8000
	for lo := 0; lo < written; lo += 1000 {
		if got := h.do(t, "p %#x %d %d %d %d", region.Start, npages, seed, lo, lo+1000); got != "ok" {
			t.Fatalf("helper answered %q", got)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d collects during the writes", collects)
	var want []uint64
	for _, i := range helperPerm(npages, seed)[:written] {
		want = append(want, region.Start+uint64(i)*trackPageSize)
	}
	if err := collect(); err != nil { // writes that raced with the loop's last Collect
		t.Fatal(err)
	}
	twice := 0
	for _, p := range want {
		switch n := seen[p]; {
		case n == 0:
			t.Errorf("page %#x was written and never reported", p)
		case n > 1:
			twice++
		}
		delete(seen, p)
	}
	// A page can be reported twice: the write fault lifts the protection
	// before the store retires, a Collect reports and re-protects the
	// page in between, and the store faults again.
	t.Logf("%d pages written once were reported twice", twice)
	if len(seen) != 0 {
		t.Errorf("%d pages reported that were not written", len(seen))
	}
}

// TestUffdManyRegions writes every other page of a region, so that Collect
// needs several PAGEMAP_SCAN calls.
func TestUffdManyRegions(t *testing.T) {
	h := startHelper(t)
	u := newUffdTracker(t, h)
	const npages = 4*scanVecLen + 100
	region := h.mmap(t, npages)
	if err := u.Track([]Range{region}); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		if got := h.do(t, "s %#x %d 2", region.Start, npages); got != "ok" {
			t.Fatal(got)
		}
		var want []uint64
		for i := uint64(0); i < npages; i += 2 {
			want = append(want, region.Start+i*trackPageSize)
		}
		collectWant(t, u, want, fmt.Sprintf("round %d", round))
	}
}

// TestUffdKernelWrites checks that writes by the kernel (read(2) into a
// tracked buffer, populated or not) succeed and are reported: the
// userfaultfd is UFFD_USER_MODE_ONLY, but async write-protect faults are
// resolved without it.
func TestUffdKernelWrites(t *testing.T) {
	h := startHelper(t)
	u := newUffdTracker(t, h)
	if err := u.Track([]Range{h.anon, h.file}); err != nil {
		t.Fatal(err)
	}
	// Even anonymous pages are populated, odd ones are not.
	pages := []uint64{h.anon.Start + 2*trackPageSize, h.anon.Start + 3*trackPageSize, h.file.Start + 5*trackPageSize}
	for _, p := range pages {
		if got := h.do(t, "k %#x", p+100); got != "ok" {
			t.Fatal(got)
		}
	}
	collectWant(t, u, pages, "after read(2) into tracked pages")
}

// TestUffdDontneed: an anonymous page emptied by MADV_DONTNEED is reported
// (its contents changed to zeros); a private file page is not (see
// UffdTracker).
func TestUffdDontneed(t *testing.T) {
	h := startHelper(t)
	u := newUffdTracker(t, h)
	if err := u.Track([]Range{h.anon, h.file}); err != nil {
		t.Fatal(err)
	}
	pages := []uint64{h.anon.Start + 4*trackPageSize, h.file.Start + 2*trackPageSize}
	h.write(t, pages)
	collectWant(t, u, pages, "after writes")
	for _, p := range pages {
		if got := h.do(t, "d %#x", p); got != "ok" {
			t.Fatal(got)
		}
	}
	got, err := u.Collect()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, Range{Start: pages[0], End: pages[0] + trackPageSize}) {
		t.Errorf("anonymous page emptied by MADV_DONTNEED not reported: %v", got)
	}
	t.Logf("after MADV_DONTNEED of an anonymous and a private file page: %v", got)
}

// TestUffdMappingsChange untracks a mapping that is gone, tracks a new one,
// and finds a tracked mapping replaced behind its back.
func TestUffdMappingsChange(t *testing.T) {
	h := startHelper(t)
	u := newUffdTracker(t, h)
	b := h.mmap(t, 64)
	if err := u.Track([]Range{h.anon, b}); err != nil {
		t.Fatal(err)
	}
	h.write(t, []uint64{b.Start, h.anon.Start})
	collectWant(t, u, []uint64{h.anon.Start, b.Start}, "both tracked")
	if got := h.do(t, "u %#x", b.Start); got != "ok" {
		t.Fatal(got)
	}
	if err := u.Untrack([]Range{b}); err != nil {
		t.Fatalf("untracking an unmapped range: %v", err)
	}
	if err := u.Untrack([]Range{b, {Start: 0x1000, End: 0x3000}}); err != nil {
		t.Fatalf("untracking ranges never tracked: %v", err)
	}
	c := h.mmap(t, 32)
	if err := u.Track([]Range{c}); err != nil {
		t.Fatal(err)
	}
	if err := u.Untrack([]Range{h.anon}); err != nil {
		t.Fatal(err)
	}
	h.write(t, []uint64{h.anon.Start + 3*trackPageSize, c.Start + 5*trackPageSize, c.Start + 6*trackPageSize})
	collectWant(t, u, []uint64{c.Start + 5*trackPageSize, c.Start + 6*trackPageSize}, "new mapping")

	// Replace pages 8-15 of c with a fresh mapping: reported whole, then
	// tracked again.
	replaced := Range{Start: c.Start + 8*trackPageSize, End: c.Start + 16*trackPageSize}
	if got := h.do(t, "f %#x 8", replaced.Start); got != "ok" {
		t.Fatal(got)
	}
	got, err := u.Collect()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []Range{replaced}) {
		t.Fatalf("after replacing %v: collected %v", replaced, got)
	}
	h.write(t, []uint64{c.Start + 10*trackPageSize, c.Start + trackPageSize})
	collectWant(t, u, []uint64{c.Start + trackPageSize, c.Start + 10*trackPageSize}, "after re-registering")
}

// TestUffdSparse tracks a mapping of 1 GiB that is mostly empty, as a
// JVM's heap reservation: tracking must not fill its page tables (2 MiB of
// them if every granule were write-protected), and pages written in
// granules that held nothing are still reported exactly, while a read
// (the shared zero page) is not.
func TestUffdSparse(t *testing.T) {
	h := startHelper(t)
	u := newUffdTracker(t, h)
	const npages = 1 << 18 // 1 GiB
	region := h.mmap(t, npages)
	page := func(i uint64) uint64 { return region.Start + i*trackPageSize }
	// Three pages before tracking: their granules are armed at Track.
	before := []uint64{page(0), page(100_000), page(200_001)}
	h.write(t, before)
	pte0 := vmPTE(t, h.pid)
	if err := u.Track([]Range{region}); err != nil {
		t.Fatal(err)
	}
	if got := len(u.armed); got != 3 {
		t.Errorf("armed after Track: %v, want the 3 granules with pages", u.armed)
	}
	collectWant(t, u, nil, "nothing written")
	// Writes in armed granules and in granules that held nothing; reads
	// elsewhere.
	written := []uint64{page(1), page(100_000), page(150_000), page(150_003), page(262_143)}
	h.write(t, written)
	if got := h.do(t, "r %#x %#x", page(50_000), page(150_001)); got != "ok" {
		t.Fatal(got)
	}
	collectWant(t, u, written, "after writes and reads")
	collectWant(t, u, nil, "nothing written since")
	// A granule armed by Collect is tracked like the others.
	h.write(t, []uint64{page(150_002), page(262_143)})
	collectWant(t, u, []uint64{page(150_002), page(262_143)}, "second writes")
	if grew := vmPTE(t, h.pid) - pte0; grew > 64 {
		t.Errorf("page tables grew by %d KiB tracking a sparse GiB, want a few (5 granules)", grew)
	}
	t.Logf("armed %d granules, page tables +%d KiB", len(u.armed), vmPTE(t, h.pid)-pte0)
}

// vmPTE returns the VmPTE of pid's status (KiB of page tables).
func vmPTE(t *testing.T, pid int) int { return procKiB(t, pid, "status", "VmPTE") }

// anonHugeKiB returns AnonHugePages of pid's smaps_rollup.
func anonHugeKiB(t *testing.T, pid int) int { return procKiB(t, pid, "smaps_rollup", "AnonHugePages") }

// procKiB returns the "FIELD: N kB" line of /proc/PID/FILE.
func procKiB(t *testing.T, pid int, file, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/%s", field, pid, file)
	return 0
}

// TestUffdHugePages tracks a mapping with transparent huge pages: writes
// into an armed huge page are reported page by page; a write into a
// granule that held nothing may make a whole huge page there, which is
// then reported whole (the pages besides the written one are zeros), and
// page by page after that.
func TestUffdHugePages(t *testing.T) {
	h := startHelper(t)
	u := newUffdTracker(t, h)
	const npages = 1024 // two granules
	addr, err := strconv.ParseUint(h.do(t, "h %d", npages), 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	region := Range{Start: addr, End: addr + npages*trackPageSize}
	page := func(i uint64) uint64 { return region.Start + i*trackPageSize }
	h.write(t, []uint64{page(0)})
	huge := anonHugeKiB(t, h.pid)
	t.Logf("AnonHugePages after the first write: %d KiB", huge)
	if err := u.Track([]Range{region}); err != nil {
		t.Fatal(err)
	}
	h.write(t, []uint64{page(5), page(600)})
	got, err := u.Collect()
	if err != nil {
		t.Fatal(err)
	}
	second := Range{Start: page(512), End: page(npages)}
	for _, r := range got {
		if r.Start < second.Start && r != (Range{Start: page(5), End: page(6)}) {
			t.Errorf("armed granule: reported %v, want only page 5 (%#x)", r, page(5))
		}
		if r.End > second.Start && (r.Start < second.Start || r.End > second.End) {
			t.Errorf("reported %v, beyond the second granule %v", r, second)
		}
	}
	if !slices.ContainsFunc(got, func(r Range) bool { return r.Start <= page(600) && page(600) < r.End }) {
		t.Errorf("page 600 (%#x), written in an empty granule, not reported: %v", page(600), got)
	}
	t.Logf("reported %v; AnonHugePages now %d KiB", got, anonHugeKiB(t, h.pid))
	h.write(t, []uint64{page(601), page(7)})
	collectWant(t, u, []uint64{page(7), page(601)}, "writes into both granules once armed")
}
