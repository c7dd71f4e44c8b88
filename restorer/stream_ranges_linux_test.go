package restorer

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/ranges"
)

// randomLayout returns n sorted, disjoint mappings with gaps between some.
func randomLayout(r *rand.Rand, n int) []image.VMA {
	var vs []image.VMA
	at := uint64(0x10000)
	for range n {
		at += uint64(r.IntN(3)) * image.PageSize
		end := at + uint64(1+r.IntN(4))*image.PageSize
		vs = append(vs, image.VMA{Start: at, End: end, Prot: uint32(r.IntN(2)), Kind: image.VMAAnon})
		at = end
	}
	return vs
}

// The sorted lookups of apply answer as the plain scans they replace.
func TestRangeLookups(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for iter := range 300 {
		old, cur := randomLayout(r, 1+r.IntN(30)), randomLayout(r, 1+r.IntN(30))
		var fresh []Range
		for range r.IntN(6) {
			s := uint64(0x10000 + r.IntN(200)*image.PageSize)
			fresh = append(fresh, Range{Start: s, End: s + uint64(1+r.IntN(8))*image.PageSize})
		}
		merged := ranges.Normalize(fresh)
		for _, v := range append(slices.Clone(old), cur...) {
			naive := slices.ContainsFunc(fresh, func(f Range) bool { return f.Start < v.End && v.Start < f.End })
			if got := overlapsAny(merged, v); got != naive {
				t.Fatalf("#%d: overlapsAny(%v, %#x-%#x) = %v, want %v", iter, fresh, v.Start, v.End, got, naive)
			}
			if got, want := sameIn(old, v), slices.IndexFunc(old, v.Same); got != want {
				t.Fatalf("#%d: sameIn %#x-%#x = %d, want %d", iter, v.Start, v.End, got, want)
			}
			if got, want := uncovered(v, cur), uncoveredNaive(v, cur); !slices.Equal(got, want) {
				t.Fatalf("#%d: uncovered %#x-%#x = %v, want %v", iter, v.Start, v.End, got, want)
			}
		}
	}
}

// uncoveredNaive is uncovered page by page.
func uncoveredNaive(v image.VMA, vmas []image.VMA) []Range {
	var out []Range
	for a := v.Start; a < v.End; a += image.PageSize {
		if slices.ContainsFunc(vmas, func(w image.VMA) bool { return w.Start <= a && a < w.End }) {
			continue
		}
		if k := len(out); k > 0 && out[k-1].End == a {
			out[k-1].End += image.PageSize
			continue
		}
		out = append(out, Range{Start: a, End: a + image.PageSize})
	}
	return out
}

// BenchmarkApplyLookups is apply's matching of a 10,000-mapping layout
// against the previous one, unchanged, with 100 fresh ranges.
func BenchmarkApplyLookups(b *testing.B) {
	r := rand.New(rand.NewPCG(8, 8))
	vs := randomLayout(r, 10000)
	var fresh []Range
	for i := range 100 {
		v := vs[i*97]
		fresh = append(fresh, Range{Start: v.Start, End: v.End})
	}
	for b.Loop() {
		merged := ranges.Normalize(fresh)
		for _, v := range vs {
			if !overlapsAny(merged, v) && sameIn(vs, v) < 0 {
				b.Fatal("not found")
			}
			if len(uncovered(v, vs)) != 0 {
				b.Fatal("uncovered")
			}
		}
	}
}
