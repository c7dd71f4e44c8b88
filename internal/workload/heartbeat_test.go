package workload

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// beatFile writes lines "count ns" for the given counts and times in ms.
func beatFile(counts []int64, ms []float64) []byte {
	var b strings.Builder
	for i := range counts {
		fmt.Fprintf(&b, "%d %d\n", counts[i], int64(ms[i]*1e6)+1_700_000_000_000_000_000)
	}
	return []byte(b.String())
}

func TestParseBeats(t *testing.T) {
	const t0 = 1_700_000_000_000_000_000
	for _, tc := range []struct {
		name   string
		counts []int64
		ms     []float64
		fromMS float64
		want   Beats
	}{
		{"steady", []int64{1, 2, 3, 4}, []float64{0, 1, 2, 3}, 0, Beats{N: 4, MaxGapMS: 1}},
		{"jitter is not a miss", []int64{1, 2, 3}, []float64{0, 1.9, 2.9}, 0, Beats{N: 3, MaxGapMS: 1.9}},
		{"freeze", []int64{1, 2, 3, 4}, []float64{0, 1, 51.5, 52.5}, 0, Beats{N: 4, MaxGapMS: 50.5, Missed: 49}},
		{"lost count", []int64{1, 2, 4}, []float64{0, 1, 2}, 0, Beats{N: 3, MaxGapMS: 1, CountErrors: 1, Lost: 1}},
		{"ran twice", []int64{1, 2, 3, 3, 4}, []float64{0, 1, 2, 3, 4}, 0, Beats{N: 5, MaxGapMS: 1, CountErrors: 1}},
		{"window", []int64{1, 2, 3, 4}, []float64{0, 100, 101, 102}, 100, Beats{N: 3, MaxGapMS: 100, Missed: 99}},
		{"window after the gap", []int64{1, 2, 3, 4}, []float64{0, 100, 101, 102}, 100.5, Beats{N: 2, MaxGapMS: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := int64(0)
			if tc.fromMS > 0 {
				from = int64(tc.fromMS*1e6) + t0
			}
			got := ParseBeats(beatFile(tc.counts, tc.ms), 1, from)
			if got.N != tc.want.N || got.Missed != tc.want.Missed || got.CountErrors != tc.want.CountErrors || got.Lost != tc.want.Lost ||
				math.Abs(got.MaxGapMS-tc.want.MaxGapMS) > 1e-6 {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseBeatsSkipsJunk(t *testing.T) {
	data := []byte("READY pid=1\n1 1000000\n\n2 2000000\nx y\n3 3000000\n4 40")
	got := ParseBeats(data, 1, 0)
	if got.N != 3 || got.MaxGapMS != 1 || got.CountErrors != 0 {
		t.Fatalf("got %+v, want 3 beats 1 ms apart (torn last line skipped)", got)
	}
	if got := ParseBeats(nil, 1, 0); got != (Beats{}) {
		t.Fatalf("empty file: %+v", got)
	}
}

func TestParseBeatsGapStart(t *testing.T) {
	got := ParseBeats(beatFile([]int64{1, 2, 3}, []float64{0, 1, 31}), 1, 0)
	if want := int64(1e6) + 1_700_000_000_000_000_000; got.MaxGapAtNS != want {
		t.Fatalf("longest gap began at %d, want %d", got.MaxGapAtNS, want)
	}
}

func TestGaps(t *testing.T) {
	// Beats at 1, 2, 3 ms, then 15 ms (a 12 ms wait before the freeze),
	// 16, then 40 (the freeze, 20-30 ms), 41.
	var data []byte
	for i, ms := range []int64{1, 2, 3, 15, 16, 40, 41} {
		data = fmt.Appendf(data, "%d %d\n", i+1, ms*1e6)
	}
	in, out := Gaps(data, 0, 20e6, 30e6)
	if in != 24 || out != 12 {
		t.Errorf("Gaps = %v in the freeze, %v outside; want 24, 12", in, out)
	}
	// Intervals ending before fromNS are left out.
	if in, out = Gaps(data, 16e6, 20e6, 30e6); in != 24 || out != 1 {
		t.Errorf("Gaps from 16 ms = %v, %v; want 24, 1", in, out)
	}
}

func TestLastBeat(t *testing.T) {
	for _, tc := range []struct {
		in        string
		count, ns int64
		ok        bool
	}{
		{"", 0, 0, false},
		{"1 100", 0, 0, false}, // no whole line yet
		{"1 100\n", 1, 100, true},
		{"1 100\n2 200\n", 2, 200, true},
		{"1 100\n2 200\n3 3", 2, 200, true}, // torn last line
		{"00\n2 200\n", 2, 200, true},       // torn first line of a tail
		{"garbage\n", 0, 0, false},
	} {
		if c, ns, ok := LastBeat([]byte(tc.in)); c != tc.count || ns != tc.ns || ok != tc.ok {
			t.Errorf("LastBeat(%q) = %d, %d, %v, want %d, %d, %v", tc.in, c, ns, ok, tc.count, tc.ns, tc.ok)
		}
	}
}
