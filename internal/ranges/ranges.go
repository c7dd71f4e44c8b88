// Package ranges is the page-aligned address range both ends of a
// migration speak of: the source's dirty tracking and layouts, the
// destination's mappings made anew.
package ranges

import (
	"cmp"
	"fmt"
	"slices"
)

// A Range is a page-aligned [Start, End) address range.
type Range struct{ Start, End uint64 }

// Len returns End - Start in bytes.
func (r Range) Len() uint64 { return r.End - r.Start }

func (r Range) String() string { return fmt.Sprintf("%#x-%#x", r.Start, r.End) }

// Normalize returns rs sorted with overlapping and adjacent ranges
// merged, in a new slice.
func Normalize(rs []Range) []Range { return SortMerge(slices.Clone(rs)) }

// SortMerge sorts rs and merges overlapping and adjacent ranges, in place.
func SortMerge(rs []Range) []Range {
	slices.SortFunc(rs, func(a, b Range) int { return cmp.Compare(a.Start, b.Start) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}
