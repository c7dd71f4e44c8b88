package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/migrate-dev/migrate/internal/cli"
)

// Point is one workload and transport setting of the matrix.
type Point struct {
	SizeMiB  int    `json:"size_mib"`
	RateMiBs int    `json:"rate_mib_s"` // dirty rate; 0 is idle
	Content  string `json:"content"`    // random, zero, text, mixed
	Pattern  string `json:"pattern"`    // spread, hotspot
	Streams  int    `json:"streams"`
	Compress string `json:"compress"` // lz4, none
}

func (p Point) String() string {
	return fmt.Sprintf("%d MiB %s, dirty %d MiB/s %s, %d stream(s), %s",
		p.SizeMiB, p.Content, p.RateMiBs, p.Pattern, p.Streams, p.Compress)
}

// workload is the part of a point that the process sees (not the
// transport): what a CRIU comparison shares with it.
func (p Point) workload() Point {
	p.Streams, p.Compress = 0, ""
	return p
}

// Allowed values of the string axes.
var (
	contents  = []string{"random", "zero", "text", "mixed"}
	patterns  = []string{"spread", "hotspot"}
	compressV = []string{"lz4", "none"}
)

// basePoint gives the axes a flag does not name.
var basePoint = Point{SizeMiB: 256, RateMiBs: 0, Content: "mixed", Pattern: "spread", Streams: 1, Compress: "lz4"}

// Axes are the values to cross; an empty axis takes basePoint's value.
type Axes struct {
	Sizes    []int
	Rates    []int
	Contents []string
	Patterns []string
	Streams  []int
	Compress []string
}

// empty reports whether no axis is set.
func (a Axes) empty() bool {
	return len(a.Sizes)+len(a.Rates)+len(a.Contents)+len(a.Patterns)+len(a.Streams)+len(a.Compress) == 0
}

// Cross returns every combination of the axes, sizes outermost.
func (a Axes) Cross() []Point {
	or := func(v []int, d int) []int {
		if len(v) == 0 {
			return []int{d}
		}
		return v
	}
	ors := func(v []string, d string) []string {
		if len(v) == 0 {
			return []string{d}
		}
		return v
	}
	var out []Point
	for _, size := range or(a.Sizes, basePoint.SizeMiB) {
		for _, rate := range or(a.Rates, basePoint.RateMiBs) {
			for _, content := range ors(a.Contents, basePoint.Content) {
				for _, pattern := range ors(a.Patterns, basePoint.Pattern) {
					for _, streams := range or(a.Streams, basePoint.Streams) {
						for _, comp := range ors(a.Compress, basePoint.Compress) {
							out = append(out, Point{size, rate, content, pattern, streams, comp})
						}
					}
				}
			}
		}
	}
	return out
}

// DefaultMatrix is what a plain run measures: memory size against dirty
// rate (mixed content), then a content and compression sweep at 256 MiB.
// Points shared by the sweeps run once. There is no streams sweep: a
// migration has one page stream (the daemon refuses more; --streams 1,2,4
// measures the refusal).
func DefaultMatrix() []Point {
	sweeps := []Axes{
		{Sizes: []int{64, 256, 1024, 4096}, Rates: []int{0, 20, 100, 400}},
		{Contents: contents, Compress: compressV},
	}
	var out []Point
	for _, s := range sweeps {
		out = append(out, s.Cross()...)
	}
	return dedup(out)
}

// QuickMatrix is --quick: small sizes, idle and a light dirty rate.
func QuickMatrix() []Point {
	return Axes{Sizes: []int{64, 256}, Rates: []int{0, 20}}.Cross()
}

func dedup(ps []Point) []Point {
	seen := make(map[Point]bool)
	var out []Point
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// selectMatrix picks the points: the axes given on the command line
// crossed, else --quick's, else the default matrix.
func selectMatrix(a Axes, quick bool) []Point {
	switch {
	case !a.empty():
		return dedup(a.Cross())
	case quick:
		return QuickMatrix()
	}
	return DefaultMatrix()
}

// parseInts parses a comma-separated list of integers in [lo, hi].
func parseInts(flag, s string, lo, hi int) ([]int, error) {
	var out []int
	for _, f := range cli.SplitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < lo || n > hi {
			return nil, cli.UsageError("--%s: %q: want integers from %d to %d", flag, f, lo, hi)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseWords parses a comma-separated list of allowed words.
func parseWords(flag, s string, allowed []string) ([]string, error) {
	var out []string
	for _, f := range cli.SplitList(s) {
		if !slices.Contains(allowed, f) {
			return nil, cli.UsageError("--%s: %q: want %s", flag, f, strings.Join(allowed, ", "))
		}
		out = append(out, f)
	}
	return out, nil
}
