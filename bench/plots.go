package main

import (
	"fmt"
	"math"
	"slices"
)

// charts returns the plots the results allow: frozen time against memory
// size (a line per dirty rate), throughput against streams (a line per
// compression) and total time against dirty rate (a line per size). The
// axes a plot does not show are held at one value each: basePoint's when
// the results have it, else the most common one.
func charts(res *Results) []Chart {
	var done []Point
	for _, pr := range res.Points {
		if pr.Skipped == "" && pr.Summary != nil {
			done = append(done, pr.Point)
		}
	}
	base := pickBase(done)
	specs := []struct {
		chart  Chart
		metric string
		x      func(Point) float64
		series func(Point) string
		keep   func(p, base Point) bool
	}{
		{Chart{File: "frozen-vs-size.svg", Title: "Frozen time vs memory size", XLabel: "memory size (MiB)", YLabel: "frozen time (ms, median)", LogX: true},
			"frozen_ms", func(p Point) float64 { return float64(p.SizeMiB) },
			func(p Point) string { return fmt.Sprintf("dirty %d MiB/s", p.RateMiBs) },
			func(p, b Point) bool { return sameBut(p, b, "size", "rate") }},
		{Chart{File: "throughput-vs-streams.svg", Title: "Throughput vs streams", XLabel: "page streams", YLabel: "process memory moved (MiB/s, median)", DataTicks: true},
			"throughput_mib_s", func(p Point) float64 { return float64(p.Streams) },
			func(p Point) string { return p.Compress },
			func(p, b Point) bool { return sameBut(p, b, "streams", "compress") }},
		{Chart{File: "total-vs-rate.svg", Title: "Total time vs dirty rate", XLabel: "dirty rate (MiB/s)", YLabel: "total time (ms, median)"},
			"total_ms", func(p Point) float64 { return float64(p.RateMiBs) },
			func(p Point) string { return fmt.Sprintf("%d MiB", p.SizeMiB) },
			func(p, b Point) bool { return sameBut(p, b, "rate", "size") }},
	}
	var out []Chart
	for _, s := range specs {
		c := s.chart
		c.Title += fmt.Sprintf(" (%s)", fixedDesc(base, c.File))
		c.Series = seriesOf(res.Points, s.metric, s.x, s.series, func(p Point) bool { return s.keep(p, base) })
		if len(c.Series) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// seriesOf groups the points that keep selects into named series of
// (x, median metric).
func seriesOf(prs []PointResult, metric string, x func(Point) float64, name func(Point) string, keep func(Point) bool) []Series {
	var out []Series
	for _, pr := range prs {
		st, ok := pr.Summary[metric]
		if pr.Skipped != "" || !ok || st.N == 0 || math.IsNaN(float64(st.Median)) || !keep(pr.Point) {
			continue
		}
		n := name(pr.Point)
		i := slices.IndexFunc(out, func(s Series) bool { return s.Name == n })
		if i < 0 {
			out = append(out, Series{Name: n})
			i = len(out) - 1
		}
		out[i].X = append(out[i].X, x(pr.Point))
		out[i].Y = append(out[i].Y, float64(st.Median))
	}
	return out
}

// sameBut reports whether p and b agree on every axis but the named ones.
func sameBut(p, b Point, free ...string) bool {
	for _, ax := range []string{"size", "rate", "content", "pattern", "streams", "compress"} {
		if !slices.Contains(free, ax) && axisValue(p, ax) != axisValue(b, ax) {
			return false
		}
	}
	return true
}

func axisValue(p Point, axis string) string {
	switch axis {
	case "size":
		return fmt.Sprint(p.SizeMiB)
	case "rate":
		return fmt.Sprint(p.RateMiBs)
	case "content":
		return p.Content
	case "pattern":
		return p.Pattern
	case "streams":
		return fmt.Sprint(p.Streams)
	}
	return p.Compress
}

// pickBase chooses the value each axis is held at: basePoint's if some
// point has it, else the most common value (the first on a tie).
func pickBase(ps []Point) Point {
	b := basePoint
	if len(ps) == 0 {
		return b
	}
	set := func(axis string, assign func(Point)) {
		want := axisValue(basePoint, axis)
		count := map[string]int{}
		best := ps[0]
		for _, p := range ps {
			v := axisValue(p, axis)
			if v == want {
				return
			}
			count[v]++
			if count[v] > count[axisValue(best, axis)] {
				best = p
			}
		}
		assign(best)
	}
	set("size", func(p Point) { b.SizeMiB = p.SizeMiB })
	set("rate", func(p Point) { b.RateMiBs = p.RateMiBs })
	set("content", func(p Point) { b.Content = p.Content })
	set("pattern", func(p Point) { b.Pattern = p.Pattern })
	set("streams", func(p Point) { b.Streams = p.Streams })
	set("compress", func(p Point) { b.Compress = p.Compress })
	return b
}

// fixedDesc names the values a plot holds fixed.
func fixedDesc(b Point, file string) string {
	switch file {
	case "frozen-vs-size.svg", "total-vs-rate.svg":
		return fmt.Sprintf("%s, %s, %d stream(s), %s", b.Content, b.Pattern, b.Streams, b.Compress)
	}
	return fmt.Sprintf("%d MiB %s, dirty %d MiB/s %s", b.SizeMiB, b.Content, b.RateMiBs, b.Pattern)
}
