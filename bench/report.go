package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
)

// tableMetrics are the summary columns of the terminal table; the first
// three show their range.
var tableMetrics = []string{"total_ms", "frozen_ms", "freeze_gap_ms", "gap_ms", "missed_beats", "rounds", "wire_mib", "ratio",
	"throughput_mib_s", "limit_pct", "stream_pct", "paired_pct", "src_cpu_s_per_gib", "dst_cpu_s_per_gib", "src_peak_rss_mib", "dst_peak_rss_mib"}

const rangedMetrics = 3

func metricByKey(key string) metric {
	for _, m := range metrics {
		if m.Key == key {
			return m
		}
	}
	panic("no metric " + key)
}

// printTable writes the summary: one row per point, median [min-max] of
// the successful runs.
func printTable(w io.Writer, res *Results) {
	fmt.Fprintf(w, "\nMachine: %s, %d CPUs, %d MiB, %s\n", res.Machine.Kernel, res.Machine.CPUs, res.Machine.MemTotalMiB, res.Machine.Go)
	if res.Machine.Pinned != "" {
		fmt.Fprintf(w, "Hosts pinned (--pin): %s\n", res.Machine.Pinned)
	}
	if l := res.Limit; l != nil && l.GiBps.N > 0 {
		fmt.Fprintf(w, "Physical limit (bare quic-go h1 -> h2, 1 MiB writes): %.3f GiB/s [%.3f-%.3f], cpu s/GiB source %.2f, sink %.2f\n",
			l.GiBps.Median, l.GiBps.Min, l.GiBps.Max, l.SrcCPUPerGiB.Median, l.SinkCPUPerGiB.Median)
	}
	fmt.Fprintf(w, "Each cell: median of %d runs, [min-max] for times.\n\n", res.Repeat)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"MiB", "dirty", "content", "pattern", "st", "comp", "ok"}
	for _, k := range tableMetrics {
		head = append(head, metricByKey(k).Head)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, pr := range res.Points {
		fmt.Fprintln(tw, strings.Join(tableRow(pr), "\t")+"\t")
	}
	tw.Flush()
	for _, pr := range res.Points {
		if pr.Skipped != "" {
			fmt.Fprintf(w, "skipped %s: %s\n", pr.Point, pr.Skipped)
		}
		for _, r := range pr.Runs {
			if !r.OK {
				fmt.Fprintf(w, "failed %s #%d: %s\n", pr.Point, r.Rep, r.Error)
			}
		}
	}
	printCRIU(w, res.CRIU)
	fmt.Fprintf(w, "Wall time: %.0f s\n", res.WallS)
}

func tableRow(pr PointResult) []string {
	ok := 0
	for _, r := range pr.Runs {
		if r.OK {
			ok++
		}
	}
	row := []string{strconv.Itoa(pr.SizeMiB), strconv.Itoa(pr.RateMiBs), pr.Content, pr.Pattern,
		strconv.Itoa(pr.Streams), pr.Compress, fmt.Sprintf("%d/%d", ok, len(pr.Runs))}
	if pr.Skipped != "" {
		row[len(row)-1] = "skip"
	}
	for i, k := range tableMetrics {
		m := metricByKey(k)
		s, have := pr.Summary[k]
		row = append(row, formatStat(s, have, m.Fmt, i < rangedMetrics))
	}
	return row
}

func formatStat(s Stat, have bool, format string, ranged bool) string {
	if !have || s.N == 0 || math.IsNaN(float64(s.Median)) {
		return "-"
	}
	out := fmt.Sprintf(format, s.Median)
	if ranged && s.N > 1 {
		out += fmt.Sprintf(" ["+format+"-"+format+"]", s.Min, s.Max)
	}
	return out
}

// writeResults writes results.json, runs.csv, summary.csv, criu.csv and
// the plots into dir.
func writeResults(dir string, res *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	errs := []error{os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644)}
	errs = append(errs,
		writeCSV(filepath.Join(dir, "runs.csv"), runsCSV(res)),
		writeCSV(filepath.Join(dir, "summary.csv"), summaryCSV(res)))
	if res.CRIU != nil && len(res.CRIU.Points) > 0 {
		errs = append(errs, writeCSV(filepath.Join(dir, "criu.csv"), criuCSV(res.CRIU)))
	}
	for _, c := range charts(res) {
		errs = append(errs, os.WriteFile(filepath.Join(dir, c.File), c.SVG(), 0o644))
	}
	return errors.Join(errs...)
}

func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.WriteAll(rows)
	return errors.Join(w.Error(), f.Close())
}

var pointHead = []string{"size_mib", "rate_mib_s", "content", "pattern", "streams", "compress"}

func pointCols(p Point) []string {
	return []string{strconv.Itoa(p.SizeMiB), strconv.Itoa(p.RateMiBs), p.Content, p.Pattern, strconv.Itoa(p.Streams), p.Compress}
}

func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// runsCSV has one row per run: the point, the outcome and every figure.
func runsCSV(res *Results) [][]string {
	extra := []string{"restore_ms", "beats", "count_errors", "pages_sent", "zero_pages", "wire_bytes",
		"pretouch_ms", "daemon_restart_ms", "src_cpu_s", "dst_cpu_s", "src_rss_before_mib", "dst_rss_before_mib", "tracker"}
	head := append(append(append([]string{}, pointHead...), "rep", "ok", "error"), metricKeys()...)
	rows := [][]string{append(head, extra...)}
	for _, pr := range res.Points {
		for i := range pr.Runs {
			r := &pr.Runs[i]
			row := append(pointCols(pr.Point), strconv.Itoa(r.Rep), strconv.FormatBool(r.OK), r.Error)
			for _, m := range metrics {
				row = append(row, num(m.Get(r)))
			}
			row = append(row, num(r.RestoreMS), strconv.Itoa(r.Beats), strconv.Itoa(r.CountErrors),
				strconv.FormatUint(r.PagesSent, 10), strconv.FormatUint(r.ZeroPages, 10), strconv.FormatUint(r.WireBytes, 10),
				num(r.PreTouchMS), num(r.RestartMS), num(r.SrcCPUS), num(r.DstCPUS), num(r.SrcRSSMiB), num(r.DstRSSMiB), r.Tracker)
			rows = append(rows, row)
		}
	}
	return rows
}

func metricKeys() []string {
	var ks []string
	for _, m := range metrics {
		ks = append(ks, m.Key)
	}
	return ks
}

// summaryCSV has one row per point: runs, failures, and median, min and
// max of every figure.
func summaryCSV(res *Results) [][]string {
	head := append(append([]string{}, pointHead...), "runs", "ok", "skipped")
	for _, k := range metricKeys() {
		head = append(head, k+"_median", k+"_min", k+"_max")
	}
	rows := [][]string{head}
	for _, pr := range res.Points {
		ok := 0
		for _, r := range pr.Runs {
			if r.OK {
				ok++
			}
		}
		row := append(pointCols(pr.Point), strconv.Itoa(len(pr.Runs)), strconv.Itoa(ok), pr.Skipped)
		for _, k := range metricKeys() {
			s, have := pr.Summary[k]
			if !have {
				s = summarize(nil)
			}
			row = append(row, num(float64(s.Median)), num(float64(s.Min)), num(float64(s.Max)))
		}
		rows = append(rows, row)
	}
	return rows
}
