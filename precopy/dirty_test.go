package precopy

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestNoneTracker(t *testing.T) {
	n := NewNoneTracker()
	if n.Name() != "none" {
		t.Fatal(n.Name())
	}
	if err := n.Track([]Range{{Start: 0x3000, End: 0x5000}, {Start: 0x1000, End: 0x2000}, {Start: 0x2000, End: 0x3000}, {Start: 0x8000, End: 0x9000}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := n.Collect()
		if want := []Range{{Start: 0x1000, End: 0x5000}, {Start: 0x8000, End: 0x9000}}; err != nil || !slices.Equal(got, want) {
			t.Fatalf("collected %v, %v; want %v", got, err, want)
		}
	}
	if err := n.Untrack([]Range{{Start: 0x2000, End: 0x3000}, {Start: 0x20000, End: 0x30000}}); err != nil {
		t.Fatal(err)
	}
	got, _ := n.Collect()
	if want := []Range{{Start: 0x1000, End: 0x2000}, {Start: 0x3000, End: 0x5000}, {Start: 0x8000, End: 0x9000}}; !slices.Equal(got, want) {
		t.Fatalf("after Untrack: collected %v, want %v", got, want)
	}
	for _, bad := range []Range{{Start: 0x1000, End: 0x1000}, {Start: 0x2000, End: 0x1000}, {Start: 0x1001, End: 0x2000}, {Start: 0x1000, End: 0x2fff}} {
		if err := n.Track([]Range{bad}); err == nil {
			t.Errorf("Track(%v) did not fail", bad)
		}
	}
	n.Close()
	if got, _ := n.Collect(); len(got) != 0 {
		t.Fatalf("after Close: %v", got)
	}
}

// TestRangeSets compares the range-set operations with a bitmap model.
func TestRangeSets(t *testing.T) {
	const pages = 64
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() ([]Range, [pages]bool) {
		var rs []Range
		var bits [pages]bool
		for range rng.IntN(6) {
			lo := rng.IntN(pages)
			hi := lo + 1 + rng.IntN(pages-lo)
			rs = append(rs, Range{Start: uint64(lo) * trackPageSize, End: uint64(hi) * trackPageSize})
			for i := lo; i < hi; i++ {
				bits[i] = true
			}
		}
		return rs, bits
	}
	fromBits := func(bits [pages]bool) []Range {
		var rs []Range
		for i, b := range bits {
			if b {
				rs = appendMerged(rs, Range{Start: uint64(i) * trackPageSize, End: uint64(i+1) * trackPageSize})
			}
		}
		return rs
	}
	for i := range 2000 {
		a, ab := random()
		b, bb := random()
		var union, diff, inter [pages]bool
		for p := range pages {
			union[p], diff[p], inter[p] = ab[p] || bb[p], ab[p] && !bb[p], ab[p] && bb[p]
		}
		na, nb := normalizeRanges(a), normalizeRanges(b)
		check := func(op string, got []Range, want [pages]bool) {
			if w := fromBits(want); !slices.Equal(got, w) {
				t.Fatalf("case %d: %s(%v, %v) = %v, want %v", i, op, a, b, got, w)
			}
		}
		check("normalize", na, ab)
		check("union", unionRanges(a, b), union)
		check("subtract", subtractRanges(na, nb), diff)
		check("intersect", intersectRanges(na, nb), inter)
		// bridge(na, avoid, maxGap): the gaps of na up to maxGap long
		// filled unless avoid has a page there.
		avoid := subtractRanges(nb, na)
		maxGap := uint64(rng.IntN(8)) * trackPageSize
		bridged := ab
		for k := 1; k < len(na); k++ {
			lo, hi := na[k-1].End/trackPageSize, na[k].Start/trackPageSize
			if (hi-lo)*trackPageSize <= maxGap && !slices.Contains(diffBits(bb, ab)[lo:hi], true) {
				for p := lo; p < hi; p++ {
					bridged[p] = true
				}
			}
		}
		if got, w := bridge(na, avoid, maxGap), fromBits(bridged); !slices.Equal(got, w) {
			t.Fatalf("case %d: bridge(%v, %v, %#x) = %v, want %v", i, na, avoid, maxGap, got, w)
		}
	}
}

func diffBits(a, b [64]bool) []bool {
	out := make([]bool, len(a))
	for i := range a {
		out[i] = a[i] && !b[i]
	}
	return out
}

func TestGranules(t *testing.T) {
	const g = armGranule
	in := []Range{{Start: 4096, End: 8192}, {Start: g - 4096, End: g + 4096}, {Start: 3*g + 4096, End: 3*g + 8192}, {Start: 5 * g, End: 6 * g}}
	want := []Range{{Start: 0, End: 2 * g}, {Start: 3 * g, End: 4 * g}, {Start: 5 * g, End: 6 * g}}
	if got := granules(in); !slices.Equal(got, want) {
		t.Fatalf("granules(%v) = %v, want %v", in, got, want)
	}
}

func TestNextThrottle(t *testing.T) {
	for _, c := range []struct{ cur, dirty, link, want float64 }{
		{0, 100, 1000, throttleFirst}, // slow writer: the first step
		{0, 400, 200, 0.75},           // twice the link: down to half of it
		{0.5, 200, 200, 0.75},         // 400 unthrottled: same target
		{0.7, 10, 1000, 0.9},          // a step at least
		{0.9, 1000, 10, throttleMax},  // never all the time
	} {
		if got := nextThrottle(c.cur, c.dirty, c.link); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("nextThrottle(%v, %v, %v) = %v, want %v", c.cur, c.dirty, c.link, got, c.want)
		}
	}
}

func TestPagesBudget(t *testing.T) {
	for _, c := range []struct{ max, want time.Duration }{
		{50 * time.Millisecond, 35 * time.Millisecond},
		{20 * time.Millisecond, 10 * time.Millisecond},
		{time.Second, time.Second - freezeFixed},
	} {
		if got := pagesBudget(c.max); got != c.want {
			t.Errorf("pagesBudget(%v) = %v, want %v", c.max, got, c.want)
		}
	}
}
