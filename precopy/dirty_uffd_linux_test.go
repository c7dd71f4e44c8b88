//go:build linux

package precopy

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/internal/ptrace"
	"github.com/migrate-dev/migrate/internal/testutil"
)

// newUffdTracker stops h, creates a uffd-wp tracker for it and lets it go
// again. It skips the test when the kernel cannot. Cleanup closes it.
func newUffdTracker(t testing.TB, h *helperProc) *UffdTracker {
	t.Helper()
	testutil.RequireRoot(t)
	var u *UffdTracker
	err := withStopped(t, h.pid, func(tr *ptrace.Tracer, r *ptrace.Remote) error {
		var err error
		u, err = NewUffdTracker(tr, h.pid, r)
		return err
	})
	if errors.Is(err, ErrNoTracking) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// withStopped seizes and interrupts pid, runs fn with a Remote on it, then
// restores and detaches.
func withStopped(t testing.TB, pid int, fn func(*ptrace.Tracer, *ptrace.Remote) error) error {
	t.Helper()
	tr := ptrace.NewTracer()
	defer tr.Close()
	if err := tr.Seize(pid, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Interrupt(pid); err != nil {
		t.Fatal(err)
	}
	r, err := tr.NewRemote(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	ferr := fn(tr, r)
	if err := r.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Detach(pid, 0); err != nil {
		t.Fatal(err)
	}
	return ferr
}

// collectWant collects and compares with the given written pages.
func collectWant(t *testing.T, tk Tracker, pages []uint64, what string) {
	t.Helper()
	got, err := tk.Collect()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var want []Range
	for _, p := range pages {
		want = append(want, Range{Start: p, End: p + trackPageSize})
	}
	if want = normalizeRanges(want); !slices.Equal(got, want) {
		t.Fatalf("%s: collected %v, want %v", what, got, want)
	}
}

// testExact tracks the helper's anonymous and file mappings and checks
// over 5 rounds that Collect reports exactly the pages written.
func testExact(t *testing.T, h *helperProc, tk Tracker) {
	if err := tk.Track([]Range{h.anon, h.file}); err != nil {
		t.Fatal(err)
	}
	collectWant(t, tk, nil, "right after Track")
	var all []uint64
	for p := h.anon.Start; p < h.anon.End; p += trackPageSize {
		all = append(all, p)
	}
	for p := h.file.Start; p < h.file.End; p += trackPageSize {
		all = append(all, p)
	}
	for round := range 5 {
		rng := rand.New(rand.NewPCG(42, uint64(round)))
		var pages []uint64
		for _, i := range rng.Perm(len(all))[:40] {
			pages = append(pages, all[i])
		}
		h.write(t, pages)
		collectWant(t, tk, pages, "after writes")
		collectWant(t, tk, nil, "second Collect")
	}
}

func TestUffdExact(t *testing.T) {
	h := startHelper(t)
	testExact(t, h, newUffdTracker(t, h))
}

// TestUffdClose checks that Close leaves no registration and no
// write-protected page, that the helper still runs and writes, and that a
// new tracker can track it again.
func TestUffdClose(t *testing.T) {
	h := startHelper(t)
	u := newUffdTracker(t, h)
	if err := u.Track([]Range{h.anon, h.file}); err != nil {
		t.Fatal(err)
	}
	h.write(t, []uint64{h.anon.Start, h.file.Start})
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := u.Collect(); err == nil {
		t.Fatal("Collect after Close did not fail")
	}
	requireNoUffd(t, h)
	var all []uint64
	for p := h.anon.Start; p < h.anon.End; p += trackPageSize {
		all = append(all, p)
	}
	h.write(t, all)

	u2 := newUffdTracker(t, h)
	if err := u2.Track([]Range{h.anon}); err != nil {
		t.Fatal(err)
	}
	collectWant(t, u2, nil, "second tracker, right after Track")
	h.write(t, all[10:13])
	collectWant(t, u2, all[10:13], "second tracker")
}

// requireNoUffd fails unless no mapping of h is uffd-registered and no page
// is uffd write-protected.
func requireNoUffd(t *testing.T, h *helperProc) {
	t.Helper()
	smaps, err := procfs.Smaps(h.pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range smaps {
		if e.VMFlags&procfs.VMUffdWP != 0 {
			t.Errorf("mapping %#x-%#x still has the uw flag after Close", e.Start, e.End)
		}
	}
	pm, err := procfs.OpenPagemap(h.pid)
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	entries := make([]procfs.PagemapEntry, helperAnonPages)
	if err := pm.ReadEntries(h.anon.Start, entries); err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if e.UffdWP() {
			t.Fatalf("page %d is still uffd write-protected after Close", i)
		}
	}
}

func TestUffdTrackRefused(t *testing.T) {
	h := startHelper(t)
	u := newUffdTracker(t, h)
	err := u.Track([]Range{h.ro})
	if err == nil || !strings.Contains(err.Error(), h.ro.String()) {
		t.Fatalf("tracking a shared mapping of a read-only file: %v, want an error naming %v", err, h.ro)
	}
	t.Log(err)
	if err := u.Track([]Range{{Start: h.anon.Start + 1, End: h.anon.End}}); err == nil {
		t.Fatal("tracking an unaligned range did not fail")
	}
	// The refused range is not tracked: Collect still works.
	if err := u.Track([]Range{h.anon}); err != nil {
		t.Fatal(err)
	}
	collectWant(t, u, nil, "after a refused Track")
}

func TestNewTracker(t *testing.T) {
	testutil.RequireRoot(t)
	h := startHelper(t)
	var tk Tracker
	var note string
	err := withStopped(t, h.pid, func(tr *ptrace.Tracer, r *ptrace.Remote) error {
		var err error
		tk, note, err = NewTracker(tr, h.pid, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Close()
	t.Logf("%s: %s", tk.Name(), note)
	if uerr := uffdSupport(); uerr == nil && tk.Name() != "uffd-wp" {
		t.Fatalf("kernel has uffd WP_ASYNC but NewTracker chose %s (%s)", tk.Name(), note)
	}
	testExactOrAll(t, h, tk)
}

// uffdSupport reports whether this kernel and process can do uffd-wp.
func uffdSupport() error {
	_, err := uffdFeatures()
	return err
}

// testExactOrAll runs testExact, or for "none" checks that everything
// tracked is reported.
func testExactOrAll(t *testing.T, h *helperProc, tk Tracker) {
	if tk.Name() != "none" {
		testExact(t, h, tk)
		return
	}
	if err := tk.Track([]Range{h.anon}); err != nil {
		t.Fatal(err)
	}
	if got, err := tk.Collect(); err != nil || !slices.Equal(got, []Range{h.anon}) {
		t.Fatalf("none: collected %v, %v", got, err)
	}
}
