package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeResults is a small result set: sizes x rates at the base, a streams
// sweep, a failed run and a skipped point.
func fakeResults() *Results {
	res := &Results{Repeat: 2, Machine: Machine{Kernel: "6.18", CPUs: 2}}
	res.Limit = &Limit{MiB: 256, GiBps: summarize([]float64{0.1, 0.12})}
	add := func(p Point, frozen ...float64) {
		pr := PointResult{Point: p}
		for i, f := range frozen {
			r := Run{Rep: i + 1, OK: true, TotalMS: 100 * f, FrozenMS: f, GapMS: f + 1, Rounds: 2,
				WireBytes: 1 << 20, Ratio: 1.5, ThroughputMiBs: Float(float64(p.Streams) * 100), LimitPct: 80,
				SrcCPUPerGiB: 5, DstCPUPerGiB: 6}
			if f < 0 {
				r = Run{Rep: i + 1, Error: "migrate: it broke, badly"}
			}
			pr.Runs = append(pr.Runs, r)
		}
		pr.Summary = summarizeRuns(pr.Runs)
		res.Points = append(res.Points, pr)
	}
	for _, size := range []int{64, 256} {
		for _, rate := range []int{0, 20} {
			add(Point{size, rate, "mixed", "spread", 1, "lz4"}, float64(size/4+rate), float64(size/4+rate+2))
		}
	}
	add(Point{256, 0, "mixed", "spread", 2, "lz4"}, 60, -1)
	add(Point{256, 0, "mixed", "spread", 1, "none"}, 70)
	res.Points = append(res.Points, PointResult{Point: Point{4096, 0, "mixed", "spread", 1, "lz4"}, Skipped: "needs memory"})
	return res
}

func TestSummarizeRunsSkipsFailures(t *testing.T) {
	res := fakeResults()
	s := res.Points[4].Summary["frozen_ms"]
	if s.N != 1 || s.Median != 60 {
		t.Fatalf("frozen of a point with one failed run: %+v", s)
	}
	if got := res.Points[0].Summary["frozen_ms"]; got.Median != 17 || got.Min != 16 || got.Max != 18 {
		t.Fatalf("frozen: %+v", got)
	}
}

func TestPrintTable(t *testing.T) {
	var b bytes.Buffer
	printTable(&b, fakeResults())
	out := b.String()
	for _, want := range []string{
		"0.110 GiB/s",          // the limit
		"17.0 [16.0-18.0]",     // median [min-max] of frozen
		"1/2",                  // one run of two succeeded
		"skip",                 // the skipped point
		"failed 256 MiB mixed", // the failure is listed
		"it broke, badly",
		"skipped 4096 MiB",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteResults(t *testing.T) {
	dir := t.TempDir()
	res := fakeResults()
	res.Points[0].Runs[0].LimitPct = Float(math.NaN()) // not measured: null / empty
	if err := writeResults(dir, res); err != nil {
		t.Fatal(err)
	}
	var back Results
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Points) != len(res.Points) || back.Points[4].Runs[1].Error == "" ||
		!math.IsNaN(float64(back.Points[0].Runs[0].LimitPct)) || back.Points[6].Skipped == "" {
		t.Fatalf("results.json does not round-trip: %s", b)
	}

	runs := readCSV(t, filepath.Join(dir, "runs.csv"))
	if len(runs) != 1+4*2+2+1 {
		t.Fatalf("runs.csv has %d rows", len(runs))
	}
	head := runs[0]
	col := func(name string) int {
		i := slices.Index(head, name)
		if i < 0 {
			t.Fatalf("runs.csv has no column %s: %v", name, head)
		}
		return i
	}
	if runs[1][col("frozen_ms")] != "16" || runs[1][col("limit_pct")] != "" || runs[1][col("size_mib")] != "64" {
		t.Fatalf("runs.csv row 1: %v", runs[1])
	}
	if r := runs[10]; r[col("ok")] != "false" || r[col("error")] != "migrate: it broke, badly" {
		t.Fatalf("failed run row: %v", r)
	}
	sum := readCSV(t, filepath.Join(dir, "summary.csv"))
	if len(sum) != 1+len(res.Points) || !slices.Contains(sum[0], "frozen_ms_median") {
		t.Fatalf("summary.csv: %v", sum)
	}
	for _, f := range []string{"frozen-vs-size.svg", "throughput-vs-streams.svg", "total-vs-rate.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// svgSeries parses an SVG and returns the names of its series and their
// point counts; it fails on XML that does not parse.
func svgSeries(t *testing.T, b []byte) map[string]int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	got := map[string]int{}
	cur, root := "", ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("invalid XML: %v\n%s", err, b)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Local
			}
			for _, a := range e.Attr {
				if e.Name.Local == "g" && a.Name.Local == "data-name" {
					cur = a.Value
					got[cur] = 0
				}
			}
			if e.Name.Local == "circle" && cur != "" {
				got[cur]++
			}
		case xml.EndElement:
			if e.Name.Local == "g" {
				cur = ""
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return got
}

func TestCharts(t *testing.T) {
	cs := charts(fakeResults())
	byFile := map[string]Chart{}
	for _, c := range cs {
		byFile[c.File] = c
	}
	want := map[string]map[string]int{
		"frozen-vs-size.svg":        {"dirty 0 MiB/s": 2, "dirty 20 MiB/s": 2},
		"throughput-vs-streams.svg": {"lz4": 2, "none": 1},
		"total-vs-rate.svg":         {"64 MiB": 2, "256 MiB": 2},
	}
	for file, series := range want {
		c, ok := byFile[file]
		if !ok {
			t.Errorf("no chart %s", file)
			continue
		}
		got := svgSeries(t, c.SVG())
		if len(got) != len(series) {
			t.Errorf("%s: series %v, want %v", file, got, series)
		}
		for name, n := range series {
			if got[name] != n {
				t.Errorf("%s: series %q has %d points, want %d", file, name, got[name], n)
			}
		}
	}
	// The frozen plot holds streams and compression at the base: the
	// 2-stream point is not on it.
	c := byFile["frozen-vs-size.svg"]
	for _, s := range c.Series {
		if s.Name == "dirty 0 MiB/s" && !slices.Equal(s.Y, []float64{17, 65}) {
			t.Errorf("frozen series %v", s)
		}
	}
}

func TestChartEdgeCases(t *testing.T) {
	for _, c := range []Chart{
		{Title: "one point", LogX: true, Series: []Series{{Name: "a", X: []float64{64}, Y: []float64{5}}}},
		{Title: "flat zero", Series: []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{0, 0}}}},
		{Title: "data ticks, one x", DataTicks: true, Series: []Series{{Name: "a", X: []float64{4}, Y: []float64{3}}}},
		{Title: "<escaped & \"quoted\">", Series: []Series{{Name: "a<b", X: []float64{0, 400}, Y: []float64{1e-3, 12345}}}},
	} {
		b := c.SVG()
		if got := svgSeries(t, b); len(got) != len(c.Series) {
			t.Errorf("%s: series %v", c.Title, got)
		}
		if bytes.Contains(b, []byte("NaN")) || bytes.Contains(b, []byte("Inf")) {
			t.Errorf("%s: NaN or Inf in the SVG:\n%s", c.Title, b)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct{ lo, hi float64 }{{0, 1}, {0, 57}, {0, 2634}, {0, 0.003}, {64, 4096}, {-1, 1}} {
		ts := niceTicks(tc.lo, tc.hi)
		if len(ts) < 2 || len(ts) > 8 || ts[0] > tc.lo || ts[len(ts)-1] < tc.hi {
			t.Errorf("niceTicks(%v, %v) = %v", tc.lo, tc.hi, ts)
		}
	}
}

func TestPickBase(t *testing.T) {
	if got := pickBase(nil); got != basePoint {
		t.Fatalf("no points: %v", got)
	}
	ps := []Point{{64, 0, "text", "spread", 2, "none"}, {64, 20, "text", "spread", 2, "none"}, {128, 0, "zero", "spread", 2, "none"}}
	got := pickBase(ps)
	want := Point{64, 0, "text", "spread", 2, "none"} // rate 0 and spread are basePoint's; the rest most common
	if got != want {
		t.Fatalf("pickBase = %v, want %v", got, want)
	}
}

// TestReport rewrites the report of an earlier run from its results.json.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	if err := writeResults(dir, fakeResults()); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "runs.csv"))
	if err := report(dir); err != nil {
		t.Fatal(err)
	}
	if rows := readCSV(t, filepath.Join(dir, "runs.csv")); len(rows) != 1+4*2+2+1 {
		t.Fatalf("rewritten runs.csv has %d rows", len(rows))
	}
	if err := report(t.TempDir()); err == nil {
		t.Fatal("report of a directory without results.json succeeded")
	}
}
