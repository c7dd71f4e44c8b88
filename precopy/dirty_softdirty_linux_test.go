//go:build linux

package precopy

import (
	"errors"
	"maps"
	"slices"
	"testing"
)

func TestSoftDirty(t *testing.T) {
	h := startHelper(t)
	s, err := NewSoftDirtyTracker(h.pid)
	if err != nil {
		if !errors.Is(err, ErrNoTracking) {
			t.Fatalf("NewSoftDirtyTracker: %v, want an error matching ErrNoTracking or success", err)
		}
		t.Skipf("as expected on kernels without CONFIG_MEM_SOFT_DIRTY: %v", err)
	}
	defer s.Close()
	testExact(t, h, s)
}

// fakeSoftDirty is a softDirtySource over a set of written pages.
type fakeSoftDirty struct{ written map[uint64]bool }

func (f *fakeSoftDirty) dirty(r Range, out []Range) ([]Range, error) {
	for _, p := range slices.Sorted(maps.Keys(f.written)) {
		if p >= r.Start && p < r.End {
			out = appendMerged(out, Range{Start: p, End: p + trackPageSize})
		}
	}
	return out, nil
}

func (f *fakeSoftDirty) clear() error { clear(f.written); return nil }
func (f *fakeSoftDirty) close() error { return nil }

// TestSoftDirtyBookkeeping checks that Track keeps what a clear of the
// whole process would lose, and that Untrack drops it.
func TestSoftDirtyBookkeeping(t *testing.T) {
	src := &fakeSoftDirty{written: map[uint64]bool{}}
	s := &SoftDirtyTracker{src: src}
	a, b, c := Range{Start: 0x10000, End: 0x20000}, Range{Start: 0x40000, End: 0x50000}, Range{Start: 0x80000, End: 0x90000}
	write := func(pages ...uint64) {
		for _, p := range pages {
			src.written[p] = true
		}
	}
	collect := func(want ...Range) {
		t.Helper()
		got, err := s.Collect()
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("collected %v, %v; want %v", got, err, want)
		}
	}
	write(0x10000, b.Start) // before tracking: forgotten by Track's clear
	if err := s.Track([]Range{a}); err != nil {
		t.Fatal(err)
	}
	write(0x11000)
	if err := s.Track([]Range{b}); err != nil {
		t.Fatal(err)
	}
	write(0x41000)
	collect(Range{Start: 0x11000, End: 0x12000}, Range{Start: 0x41000, End: 0x42000})
	collect()
	write(0x12000, 0x13000, 0x42000, 0x100000)
	if err := s.Track([]Range{c}); err != nil {
		t.Fatal(err)
	}
	if err := s.Untrack([]Range{a}); err != nil {
		t.Fatal(err)
	}
	collect(Range{Start: 0x42000, End: 0x43000})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Collect(); err == nil {
		t.Fatal("Collect after Close did not fail")
	}
}
