package precopy

import (
	"fmt"
	"slices"

	"github.com/migrate-dev/migrate/internal/ranges"
)

// trackPageSize is the granularity of dirty tracking (x86-64 base pages).
const trackPageSize = 4096

// checkRanges rejects empty, inverted or unaligned ranges.
func checkRanges(rs []Range) error {
	for _, r := range rs {
		if r.Start >= r.End || r.Start%trackPageSize != 0 || r.End%trackPageSize != 0 {
			return fmt.Errorf("bad range %v: want a non-empty page-aligned [start, end)", r)
		}
	}
	return nil
}

// normalizeRanges returns rs sorted with overlapping and adjacent ranges
// merged, in a new slice.
func normalizeRanges(rs []Range) []Range { return ranges.Normalize(rs) }

// sortMerge sorts rs and merges overlapping and adjacent ranges, in place.
func sortMerge(rs []Range) []Range { return ranges.SortMerge(rs) }

// appendMerged appends r to the sorted, merged rs, merging it with the last
// range when they touch. r must not start below the last range's start.
func appendMerged(rs []Range, r Range) []Range {
	if n := len(rs); n > 0 && r.Start <= rs[n-1].End {
		rs[n-1].End = max(rs[n-1].End, r.End)
		return rs
	}
	return append(rs, r)
}

// unionRanges returns the normalized union of a and b.
func unionRanges(a, b []Range) []Range {
	return normalizeRanges(append(slices.Clone(a), b...))
}

// subtractRanges returns a minus b; both must be normalized, and so is the
// result.
func subtractRanges(a, b []Range) []Range {
	var out []Range
	j := 0
	for _, r := range a {
		for j < len(b) && b[j].End <= r.Start {
			j++
		}
		cur := r.Start
		for k := j; k < len(b) && b[k].Start < r.End; k++ {
			if b[k].Start > cur {
				out = append(out, Range{Start: cur, End: b[k].Start})
			}
			cur = max(cur, b[k].End)
		}
		if cur < r.End {
			out = append(out, Range{Start: cur, End: r.End})
		}
	}
	return out
}

// intersectRanges returns the parts of a that are also in b; both must be
// normalized, and so is the result.
func intersectRanges(a, b []Range) []Range {
	var out []Range
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].Start, b[j].Start), min(a[i].End, b[j].End)
		if lo < hi {
			out = append(out, Range{Start: lo, End: hi})
		}
		if a[i].End < b[j].End {
			i++
		} else {
			j++
		}
	}
	return out
}

// bridge returns rs with the gap between two neighbours closed when it is
// at most maxGap long and no range of avoid lies in it: fewer, longer
// ranges that cover rs and nothing of avoid. rs and avoid must be
// normalized and disjoint.
func bridge(rs, avoid []Range, maxGap uint64) []Range {
	out := make([]Range, 0, len(rs))
	j := 0
	for _, r := range rs {
		if n := len(out); n > 0 && r.Start-out[n-1].End <= maxGap {
			for j < len(avoid) && avoid[j].End <= out[n-1].End {
				j++
			}
			if j == len(avoid) || avoid[j].Start >= r.Start {
				out[n-1].End = r.End
				continue
			}
		}
		out = append(out, r)
	}
	return out
}
