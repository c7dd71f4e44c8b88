package precopy

import (
	"slices"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/image"
)

// diffVMAs returns the mappings of cur that are new or changed since prev,
// and those of prev that are gone or changed. Both are layouts as the
// kernel lists them: sorted by start, not overlapping; one walk over both
// (a process may have tens of thousands of mappings, and this runs in
// every round, the frozen one too).
func diffVMAs(prev, cur []image.VMA) (added, removed []image.VMA) {
	i, j := 0, 0
	for i < len(prev) || j < len(cur) {
		switch {
		case j == len(cur) || i < len(prev) && prev[i].Start < cur[j].Start:
			removed = append(removed, prev[i])
			i++
		case i == len(prev) || cur[j].Start < prev[i].Start:
			added = append(added, cur[j])
			j++
		default: // the same start
			if !prev[i].Same(cur[j]) {
				removed, added = append(removed, prev[i]), append(added, cur[j])
			}
			i, j = i+1, j+1
		}
	}
	return added, removed
}

// retracked adds to added the mappings of cur that overlap ranges whose
// tracking failed, as if they were new.
func retracked(added, cur []image.VMA, ranges []Range) []image.VMA {
	for _, v := range cur {
		overlaps := slices.ContainsFunc(ranges, func(r Range) bool { return r.Start < v.End && v.Start < r.End })
		if overlaps && !slices.ContainsFunc(added, func(a image.VMA) bool { return a.Same(v) }) {
			added = append(added, v)
		}
	}
	return added
}

func isPrivateFile(v image.VMA) bool {
	return v.Kind == image.VMAFile && v.Flags&image.MapPrivate != 0
}

// privateFileParts returns the parts of spans (sorted) in private file
// mappings of vmas (sorted), normalized.
func privateFileParts(spans []dumper.Span, vmas []image.VMA) []Range {
	var files []Range
	for _, v := range vmas {
		if isPrivateFile(v) {
			files = append(files, Range{Start: v.Start, End: v.End})
		}
	}
	rs := make([]Range, len(spans))
	for i, s := range spans {
		rs[i] = Range{Start: s.Start, End: s.End}
	}
	return intersectRanges(normalizeRanges(rs), normalizeRanges(files))
}

// layoutSpans returns the pages of pending (in any order, overlapping)
// that lie in mappings of the layout vmas (sorted) that take pages,
// sorted and merged, each readable as its mapping is.
func layoutSpans(pending []dumper.Span, vmas []image.VMA) []dumper.Span {
	rs := make([]Range, len(pending))
	for i, s := range pending {
		rs[i] = Range{Start: s.Start, End: s.End}
	}
	rs = sortMerge(rs)
	var out []dumper.Span
	j := 0
	for _, v := range vmas {
		if !v.CarriesPages() {
			continue
		}
		for j < len(rs) && rs[j].End <= v.Start {
			j++
		}
		for k := j; k < len(rs) && rs[k].Start < v.End; k++ {
			s := dumper.Span{Start: max(rs[k].Start, v.Start), End: min(rs[k].End, v.End), Readable: v.Prot&image.ProtRead != 0}
			if n := len(out); n > 0 && out[n-1].End == s.Start && out[n-1].Readable == s.Readable {
				out[n-1].End = s.End
			} else {
				out = append(out, s)
			}
		}
	}
	return out
}

// canTrack: private, ordinary memory (uffd-wp registers private anonymous
// and private file mappings), writable or not. Read-only and PROT_NONE
// mappings are tracked too: their contents change without their mapping
// changing when the process drops pages (MADV_DONTNEED: an emptied
// anonymous page is reported), and the process may make one writable,
// write and take the write permission back between two looks at its
// mappings (mprotect keeps the write protection of the pages).
func canTrack(v image.VMA) bool {
	return v.Flags&image.MapPrivate != 0 && !v.Kind.Special()
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
