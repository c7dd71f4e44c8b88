package precopy

import (
	"slices"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/image"
)

// diffVMAs returns the mappings of cur that are new or changed since prev,
// and those of prev that are gone or changed.
func diffVMAs(prev, cur []image.VMA) (added, removed []image.VMA) {
	same := func(a, b image.VMA) bool {
		return a.Start == b.Start && a.End == b.End && a.Prot == b.Prot && a.Flags == b.Flags &&
			a.Kind == b.Kind && a.Offset == b.Offset && a.Name == b.Name
	}
	for _, v := range cur {
		if !slices.ContainsFunc(prev, func(p image.VMA) bool { return same(p, v) }) {
			added = append(added, v)
		}
	}
	for _, v := range prev {
		if !slices.ContainsFunc(cur, func(c image.VMA) bool { return same(c, v) }) {
			removed = append(removed, v)
		}
	}
	return added, removed
}

// canTrack: private, writable, ordinary memory (uffd-wp registers private
// anonymous and private file mappings).
func canTrack(v image.VMA) bool {
	return v.Flags&image.MapPrivate != 0 && v.Prot&image.ProtWrite != 0 &&
		v.Kind != image.VMAVDSO && v.Kind != image.VMAVVar && v.Kind != image.VMAVVarVClock
}

func trackable(vmas []image.VMA) []Range {
	var out []Range
	for _, v := range vmas {
		if canTrack(v) {
			out = append(out, Range{Start: v.Start, End: v.End})
		}
	}
	return out
}

// untracked lists writable mappings whose writes are not tracked (shared
// anonymous memory): the final round sends them whole.
func untracked(vmas []image.VMA) []image.VMA {
	var out []image.VMA
	for _, v := range vmas {
		if v.Prot&image.ProtWrite != 0 && !canTrack(v) && v.Kind != image.VMAFile {
			out = append(out, v)
		}
	}
	return out
}

// mergeSpans sorts spans and merges overlapping or adjacent ones.
func mergeSpans(in []dumper.Span) []dumper.Span {
	slices.SortFunc(in, func(a, b dumper.Span) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	var out []dumper.Span
	for _, s := range in {
		if n := len(out); n > 0 && s.Start <= out[n-1].End && s.Readable == out[n-1].Readable {
			out[n-1].End = max(out[n-1].End, s.End)
			continue
		}
		out = append(out, s)
	}
	return out
}

func pagesIn(spans []dumper.Span) uint64 {
	var n uint64
	for _, s := range mergeSpans(slices.Clone(spans)) {
		n += (s.End - s.Start) / image.PageSize
	}
	return n
}
