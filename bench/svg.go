package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Chart is a line plot: one polyline with markers per series.
type Chart struct {
	File, Title, XLabel, YLabel string
	LogX                        bool // log2 x axis, ticks at the data's x values
	DataTicks                   bool // linear x axis, ticks at the data's x values
	Series                      []Series
}

// Series is one line; points are drawn in x order.
type Series struct {
	Name string
	X, Y []float64
}

// Plot geometry, in SVG user units.
const (
	svgW, svgH                 = 760, 440
	padL, padR, padT, padB     = 72, 190, 44, 56
	plotW, plotH               = svgW - padL - padR, svgH - padT - padB
	legendX                    = svgW - padR + 16
	fontFamily                 = "sans-serif"
	axisColor, gridColor, text = "#333", "#ddd", "#111"
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// SVG renders the chart as a standalone SVG document.
func (c Chart) SVG() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s" font-size="12">`+"\n",
		svgW, svgH, svgW, svgH, fontFamily)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	textAt(&b, svgW/2-padR/2+padL/2, 24, "middle", 15, c.Title)
	xs, ys := c.scales()
	c.axes(&b, xs, ys)
	for i, s := range c.Series {
		c.line(&b, i, s, xs, ys)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// scale maps data values to pixels along one axis.
type scale struct {
	lo, hi   float64 // in transformed units
	log      bool
	from, to float64 // pixels
	ticks    []float64
}

func (s scale) pos(v float64) float64 {
	if s.log {
		v = math.Log2(v)
	}
	if s.hi == s.lo {
		return (s.from + s.to) / 2
	}
	return s.from + (v-s.lo)/(s.hi-s.lo)*(s.to-s.from)
}

func (c Chart) scales() (scale, scale) {
	var allX, allY []float64
	for _, s := range c.Series {
		allX = append(allX, s.X...)
		allY = append(allY, s.Y...)
	}
	x := scale{from: padL, to: padL + plotW, log: c.LogX}
	if c.LogX {
		x.ticks = uniq(allX)
		if len(x.ticks) > 0 {
			x.lo, x.hi = math.Log2(x.ticks[0]), math.Log2(x.ticks[len(x.ticks)-1])
			pad := max((x.hi-x.lo)*0.05, 0.25)
			x.lo, x.hi = x.lo-pad, x.hi+pad
		}
	} else if c.DataTicks {
		x.ticks = uniq(allX)
		lo, hi := minMax(allX)
		pad := max((hi-lo)*0.05, 0.5)
		x.lo, x.hi = lo-pad, hi+pad
	} else {
		lo, hi := minMax(allX)
		if lo == hi {
			lo, hi = lo-1, hi+1
		}
		x.ticks = niceTicks(lo, hi)
		x.lo, x.hi = x.ticks[0], x.ticks[len(x.ticks)-1]
	}
	_, top := minMax(allY)
	y := scale{from: padT + plotH, to: padT, ticks: niceTicks(0, max(top, 1e-9))}
	y.lo, y.hi = y.ticks[0], y.ticks[len(y.ticks)-1]
	return x, y
}

func (c Chart) axes(b *bytes.Buffer, xs, ys scale) {
	for _, t := range ys.ticks {
		y := ys.pos(t)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", padL, y, padL+plotW, y, gridColor)
		textAt(b, padL-6, y+4, "end", 11, label(t))
	}
	for _, t := range xs.ticks {
		x := xs.pos(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x, padT+plotH, x, padT+plotH+5, axisColor)
		textAt(b, x, padT+plotH+19, "middle", 11, label(t))
	}
	fmt.Fprintf(b, `<polyline points="%d,%d %d,%d %d,%d" fill="none" stroke="%s"/>`+"\n",
		padL, padT, padL, padT+plotH, padL+plotW, padT+plotH, axisColor)
	textAt(b, padL+plotW/2, svgH-14, "middle", 13, c.XLabel)
	fmt.Fprintf(b, `<text x="18" y="%d" text-anchor="middle" font-size="13" fill="%s" transform="rotate(-90 18 %d)">%s</text>`+"\n",
		padT+plotH/2, text, padT+plotH/2, esc(c.YLabel))
}

func (c Chart) line(b *bytes.Buffer, i int, s Series, xs, ys scale) {
	color := palette[i%len(palette)]
	idx := make([]int, len(s.X))
	for k := range idx {
		idx[k] = k
	}
	slices.SortFunc(idx, func(a, b int) int { return cmpFloat(s.X[a], s.X[b]) })
	var pts bytes.Buffer
	for _, k := range idx {
		fmt.Fprintf(&pts, "%.1f,%.1f ", xs.pos(s.X[k]), ys.pos(s.Y[k]))
	}
	fmt.Fprintf(b, `<g class="series" data-name="%s">`+"\n", esc(s.Name))
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", bytes.TrimSpace(pts.Bytes()), color)
	for _, k := range idx {
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s, %s</title></circle>`+"\n",
			xs.pos(s.X[k]), ys.pos(s.Y[k]), color, esc(s.Name), label(s.X[k]), label(s.Y[k]))
	}
	ly := padT + 10 + 20*i
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", legendX, ly, legendX+22, ly, color)
	textAt(b, float64(legendX+28), float64(ly+4), "start", 12, s.Name)
	b.WriteString("</g>\n")
}

func textAt[T int | float64](b *bytes.Buffer, x, y T, anchor string, size int, s string) {
	fmt.Fprintf(b, `<text x="%v" y="%v" text-anchor="%s" font-size="%d" fill="%s">%s</text>`+"\n",
		round1(float64(x)), round1(float64(y)), anchor, size, text, esc(s))
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// label formats a tick or data value briefly.
func label(v float64) string {
	switch a := math.Abs(v); {
	case v == math.Trunc(v) && a < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// niceTicks returns about five round ticks covering [lo, hi].
func niceTicks(lo, hi float64) []float64 {
	span := hi - lo
	step := math.Pow(10, math.Floor(math.Log10(span/5)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if span/(step*m) <= 6 {
			step *= m
			break
		}
	}
	start := math.Floor(lo/step) * step
	var ts []float64
	for v := start; v < hi+step*0.999; v += step {
		ts = append(ts, math.Round(v/step)*step)
	}
	if len(ts) < 2 {
		ts = append(ts, start+step)
	}
	return ts
}

func minMax(vs []float64) (float64, float64) {
	if len(vs) == 0 {
		return 0, 1
	}
	return slices.Min(vs), slices.Max(vs)
}

func uniq(vs []float64) []float64 {
	out := slices.Clone(vs)
	slices.Sort(out)
	return slices.Compact(out)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
