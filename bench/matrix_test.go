package main

import (
	"errors"
	"slices"
	"testing"

	"github.com/migrate-dev/migrate/internal/cli"
)

func TestDefaultMatrix(t *testing.T) {
	ps := DefaultMatrix()
	if got := len(dedup(ps)); got != len(ps) {
		t.Fatalf("default matrix has duplicates: %d unique of %d", got, len(ps))
	}
	// sizes x rates (16) + contents x compress (8, one shared).
	if len(ps) != 16+7 {
		t.Fatalf("default matrix has %d points, want 23", len(ps))
	}
	has := func(p Point) bool { return slices.Contains(ps, p) }
	for _, p := range []Point{
		{4096, 400, "mixed", "spread", 1, "lz4"},
		{64, 0, "mixed", "spread", 1, "lz4"},
		{256, 0, "text", "spread", 1, "none"},
		{256, 0, "mixed", "spread", 1, "none"},
	} {
		if !has(p) {
			t.Errorf("default matrix lacks %v", p)
		}
	}
	if has(Point{4096, 0, "text", "spread", 1, "lz4"}) {
		t.Error("default matrix crosses every axis")
	}
}

func TestSelectMatrix(t *testing.T) {
	quick := selectMatrix(Axes{}, true)
	want := []Point{
		{64, 0, "mixed", "spread", 1, "lz4"}, {64, 20, "mixed", "spread", 1, "lz4"},
		{256, 0, "mixed", "spread", 1, "lz4"}, {256, 20, "mixed", "spread", 1, "lz4"},
	}
	if !slices.Equal(quick, want) {
		t.Fatalf("quick = %v", quick)
	}
	// Axes given: their cross product, the rest at basePoint, even with --quick.
	got := selectMatrix(Axes{Sizes: []int{64}, Streams: []int{1, 2}, Compress: []string{"none"}}, true)
	want = []Point{{64, 0, "mixed", "spread", 1, "none"}, {64, 0, "mixed", "spread", 2, "none"}}
	if !slices.Equal(got, want) {
		t.Fatalf("axes = %v, want %v", got, want)
	}
	if got := selectMatrix(Axes{Sizes: []int{64, 64}}, false); len(got) != 1 {
		t.Fatalf("repeated axis values are not merged: %v", got)
	}
	if got := selectMatrix(Axes{}, false); len(got) != len(DefaultMatrix()) {
		t.Fatalf("no axes, no quick: %d points", len(got))
	}
}

func TestParseAxes(t *testing.T) {
	if got, err := parseInts("sizes", " 64, 256,", 1, 100000); err != nil || !slices.Equal(got, []int{64, 256}) {
		t.Fatalf("parseInts = %v, %v", got, err)
	}
	for _, bad := range []string{"x", "0", "-5", "1.5"} {
		if _, err := parseInts("sizes", bad, 1, 100); !errors.Is(err, cli.ErrUsage) {
			t.Errorf("parseInts(%q) = %v, want a usage error", bad, err)
		}
	}
	if got, err := parseWords("contents", "zero,text", contents); err != nil || !slices.Equal(got, []string{"zero", "text"}) {
		t.Fatalf("parseWords = %v, %v", got, err)
	}
	if _, err := parseWords("compress", "zstd", compressV); !errors.Is(err, cli.ErrUsage) {
		t.Fatalf("parseWords(zstd) = %v", err)
	}
}

func TestParseFlags(t *testing.T) {
	opt, list, err := parseFlags([]string{"--quick", "--list"})
	if err != nil || !list || opt.Repeat != 3 || len(opt.Points) != 4 || opt.LimitMiB != 256 || opt.LimitRuns != 2 {
		t.Fatalf("--quick: %+v list %v err %v", opt, list, err)
	}
	opt, _, err = parseFlags([]string{"--sizes", "64", "--repeat", "2", "--limit-mib", "-1"})
	if err != nil || opt.Repeat != 2 || len(opt.Points) != 1 || opt.LimitMiB != 0 {
		t.Fatalf("axes: %+v err %v", opt, err)
	}
	opt, _, err = parseFlags(nil)
	if err != nil || opt.Repeat != 5 || opt.LimitMiB != 1024 || len(opt.Points) != len(DefaultMatrix()) || opt.Out == "" {
		t.Fatalf("defaults: %+v err %v", opt, err)
	}
	for _, bad := range [][]string{{"--rates", "fast"}, {"--repeat", "-1"}, {"extra"}} {
		if _, _, err := parseFlags(bad); !errors.Is(err, cli.ErrUsage) {
			t.Errorf("parseFlags(%q) = %v, want a usage error", bad, err)
		}
	}
}
