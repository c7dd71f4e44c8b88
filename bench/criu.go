package main

// CRIU side by side: stop-and-copy of the same workloads with CRIU's
// dump, page server and restore between the same lab hosts. Nothing here
// builds or installs CRIU: it runs only when a criu binary is given
// (--criu) or on PATH and `criu check` passes in h1.
//
// One run: benchload starts in h1 as for our runs (same pre-touch and
// settle; its stdio opened inside h1, see criuOnce); `criu page-server -d`
// in h2 returns once it listens; `criu dump -t PID --page-server` in h1
// freezes the process, sends its pages to h2's image directory and kills
// it; the other images are copied from h1's image directory to h2's (the
// hosts share the filesystem); `criu restore -d` in h2 starts it there
// with the same PID (h2's PID namespace has it free). Frozen time is from
// the start of the dump to the end of the restore, so it also counts
// criu's own start before it seizes the process (a few ms once its kdat
// cache is in the host's /run); the heartbeat gap is the freeze as the
// process saw it. No --shell-job (benchload is its own session leader, as
// every command a lab host starts), no --tcp-established or --file-locks
// (it has neither).

import (
	"github.com/migrate-dev/migrate/internal/workload"

	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/migrate-dev/migrate/lab"
)

// CRIUResults are the CRIU runs and their comparison with ours.
type CRIUResults struct {
	Binary  string      `json:"binary,omitempty"`
	Version string      `json:"version,omitempty"`
	Skipped string      `json:"skipped,omitempty"`
	Points  []CRIUPoint `json:"points,omitempty"`
}

// CRIUPoint is one workload run with CRIU, next to our figures for the
// first point of the matrix with the same workload.
type CRIUPoint struct {
	Point
	Runs      []CRIURun `json:"runs"`
	FrozenMS  Stat      `json:"frozen_ms"`
	GapMS     Stat      `json:"gap_ms"`
	OursVs    Point     `json:"ours_point"`
	OursFroze Stat      `json:"ours_frozen_ms"`
	OursGap   Stat      `json:"ours_gap_ms"`
	// FrozenRatio and GapRatio are ours / CRIU (medians): below 1 we win.
	FrozenRatio Float `json:"frozen_ratio"`
	GapRatio    Float `json:"gap_ratio"`
}

// CRIURun is one CRIU stop-and-copy.
type CRIURun struct {
	Rep       int     `json:"rep"`
	OK        bool    `json:"ok"`
	Error     string  `json:"error,omitempty"`
	DumpMS    float64 `json:"dump_ms"`
	CopyMS    float64 `json:"copy_ms"`
	RestoreMS float64 `json:"restore_ms"`
	FrozenMS  float64 `json:"frozen_ms"`
	GapMS     float64 `json:"gap_ms"`
	Missed    int     `json:"missed_beats"`
}

const criuPortBase = 27100

func (h *harness) runCRIU(ctx context.Context, points []PointResult) *CRIUResults {
	cr := h.criuSetup(ctx)
	if cr.Skipped != "" {
		h.opt.Log("== CRIU: skipped: %s", cr.Skipped)
		return cr
	}
	h.opt.Log("== CRIU %s (%s): stop-and-copy of the same workloads", cr.Version, cr.Binary)
	seen := map[Point]bool{}
	for _, pr := range points {
		w := pr.workload()
		if pr.Skipped != "" || seen[w] || ctx.Err() != nil {
			continue
		}
		seen[w] = true
		h.opt.Log("== CRIU point: %d MiB %s, dirty %d MiB/s %s", w.SizeMiB, w.Content, w.RateMiBs, w.Pattern)
		cp := CRIUPoint{Point: w, OursVs: pr.Point, OursFroze: pr.Summary["frozen_ms"], OursGap: pr.Summary["gap_ms"]}
		for rep := 1; rep <= h.opt.Repeat && ctx.Err() == nil; rep++ {
			r := h.criuOnce(ctx, cr.Binary, pr.Point)
			r.Rep = rep
			h.opt.Log("   #%d %s", rep, r.line())
			cp.Runs = append(cp.Runs, r)
		}
		cp.summarize()
		cr.Points = append(cr.Points, cp)
	}
	return cr
}

// criuSetup finds criu and runs `criu check` in h1.
func (h *harness) criuSetup(ctx context.Context) *CRIUResults {
	cr := &CRIUResults{Binary: h.opt.CRIU}
	if cr.Binary == "" {
		p, err := exec.LookPath("criu")
		if err != nil {
			cr.Skipped = "no criu on PATH (give --criu PATH)"
			return cr
		}
		cr.Binary = p
	}
	if out, code, err := h.execOut(ctx, h.h1, cr.Binary, "--version"); err == nil && code == 0 {
		first := strings.SplitN(out, "\n", 2)[0] // "Version: 4.2"
		cr.Version = strings.TrimSpace(strings.TrimPrefix(first, "Version:"))
	}
	out, code, err := h.execOut(ctx, h.h1, cr.Binary, "check")
	switch {
	case err != nil:
		cr.Skipped = fmt.Sprintf("criu check: %v", err)
	case code != 0:
		cr.Skipped = fmt.Sprintf("criu check failed (exit %d): %s", code, oneLine(out))
	}
	return cr
}

// execOut runs argv in host and returns its combined output and status.
func (h *harness) execOut(ctx context.Context, host *lab.Host, argv ...string) (string, int, error) {
	dir, err := h.scratch("exec")
	if err != nil {
		return "", 0, err
	}
	path := filepath.Join(dir, "output")
	f, err := os.Create(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	res, err := host.Exec(ctx, argv, lab.ExecOptions{Stdout: f, Stderr: f, Dir: dir})
	b, _ := os.ReadFile(path)
	return string(b), res.ExitCode, err
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[len(s)-400:]
	}
	return s
}

func (r CRIURun) line() string {
	if !r.OK {
		return "FAILED: " + r.Error
	}
	return fmt.Sprintf("frozen %.0f ms (dump %.0f, copy %.0f, restore %.0f), gap %.1f ms",
		r.FrozenMS, r.DumpMS, r.CopyMS, r.RestoreMS, r.GapMS)
}

func (r CRIURun) fail(err error) CRIURun {
	r.OK, r.Error = false, err.Error()
	return r
}

// criuOnce migrates one benchload from h1 to h2 with CRIU.
func (h *harness) criuOnce(ctx context.Context, bin string, p Point) CRIURun {
	var r CRIURun
	dir, err := h.scratch("criu")
	if err != nil {
		return r.fail(err)
	}
	d1, d2 := filepath.Join(dir, "dump"), filepath.Join(dir, "restore")
	for _, d := range []string{d1, d2} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return r.fail(err)
		}
	}
	// The page images are as large as the workload: gone with the run
	// (the restored process has its pages in memory, not mapped from them).
	defer os.RemoveAll(d2)
	beats := filepath.Join(dir, "beats")
	// The same benchload as ours, but with its stdio opened in h1 (sh
	// redirects, then execs it in place): descriptors the harness passes
	// in are on mounts of the machine's mount namespace, which CRIU cannot
	// find in h1's mountinfo ("Can't lookup mount=N for fd=0 path=/dev/null").
	argv := []string{"/bin/sh", "-c", `exec "$0" "$@" </dev/null >>output 2>&1`,
		h.benchload, strconv.Itoa(p.SizeMiB), p.Content, strconv.Itoa(p.RateMiBs), p.Pattern, beats}
	pid, err := start(ctx, h.h1, dir, argv, "READY", readyTimeout(p.SizeMiB))
	if pid > 0 {
		defer h.stop(pid)
	}
	if err != nil {
		return r.fail(err)
	}
	if _, err := h.pretouch(ctx, p.SizeMiB); err != nil {
		return r.fail(err)
	}
	sleep(ctx, h.opt.Settle)
	port := strconv.Itoa(criuPortBase + h.runs)
	addr := h.h2.Addr.String()
	psPID := filepath.Join(d2, "page-server.pid")
	defer h.stopPageServer(psPID)
	if err := h.criu(ctx, h.h2, d2, bin, "page-server", "--images-dir", d2, "--address", addr, "--port", port,
		"-d", "--pidfile", psPID); err != nil {
		return r.fail(err)
	}
	t0 := time.Now()
	if err := h.criu(ctx, h.h1, d1, bin, "dump", "-t", strconv.Itoa(pid), "--images-dir", d1,
		"--page-server", "--address", addr, "--port", port); err != nil {
		return r.fail(err)
	}
	t1 := time.Now()
	if err := copyImages(d1, d2); err != nil {
		return r.fail(err)
	}
	t2 := time.Now()
	restored := filepath.Join(d2, "restored.pid")
	if err := h.criu(ctx, h.h2, d2, bin, "restore", "-d", "--images-dir", d2, "--pidfile", restored); err != nil {
		return r.fail(err)
	}
	t3 := time.Now()
	// CRIU restores the PID it dumped (h2's PID namespace has it free),
	// so h.stop(pid) ends the restored process; say so if it did not.
	if b, err := os.ReadFile(restored); err != nil {
		return r.fail(err)
	} else if got := strings.TrimSpace(string(b)); got != strconv.Itoa(pid) {
		if other, err := strconv.Atoi(got); err == nil && other > 0 {
			stopIn(h.h2, other) // h.stop(pid) would miss it
		}
		return r.fail(fmt.Errorf("criu restored pid %s in h2, not %d", got, pid))
	}
	if err := h.checkMoved(pid, beats, t3); err != nil {
		return r.fail(err)
	}
	data, err := os.ReadFile(beats)
	if err != nil {
		return r.fail(err)
	}
	b := workload.ParseBeats(data, beatPeriodMS, t0.UnixNano())
	if b.CountErrors > 0 {
		return r.fail(fmt.Errorf("heartbeat counts lost or repeated %d times", b.CountErrors))
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
	r.DumpMS, r.CopyMS, r.RestoreMS, r.FrozenMS = ms(t1.Sub(t0)), ms(t2.Sub(t1)), ms(t3.Sub(t2)), ms(t3.Sub(t0))
	r.GapMS, r.Missed, r.OK = b.MaxGapMS, b.Missed, true
	return r
}

// criu runs `criu CMD ARGS -o CMD.log -v2` in host; on failure the error
// has the errors of that log (in imgDir, criu's working directory). -v2
// (errors and warnings) is CRIU's default: -v4 logs a line per pagemap
// range and adds tens of ms per 256 MiB to the timed dump.
func (h *harness) criu(ctx context.Context, host *lab.Host, imgDir, bin, cmd string, args ...string) error {
	logName := cmd + ".log"
	argv := append(append([]string{bin, cmd}, args...), "-o", logName, "-v2")
	out, code, err := h.execOut(ctx, host, argv...)
	if err == nil && code != 0 {
		b, _ := os.ReadFile(filepath.Join(imgDir, logName))
		err = fmt.Errorf("criu %s in %s: exit %d: %s %s", cmd, host.Name, code, oneLine(out), oneLine(logErrors(string(b), 5)))
	}
	return err
}

// logErrors returns the first n error lines of a criu log (the first is
// the cause; the last lines only say that it failed), or its last n lines
// when it has none.
func logErrors(s string, n int) string {
	var errs []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, "Error (") && len(errs) < n {
			errs = append(errs, strings.TrimSpace(line))
		}
	}
	if len(errs) == 0 {
		return lastLines(s, n)
	}
	return strings.Join(errs, "\n")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// stopPageServer ends a page server that is still running (it exits by
// itself once the dump is done): the PID criu wrote for us in h2.
func (h *harness) stopPageServer(pidFile string) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
		stopIn(h.h2, pid)
	}
}

// copyImages copies the images the dump wrote in src (all but the pages,
// which the page server wrote in dst) into dst.
func copyImages(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasSuffix(name, ".log") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dst, name)); err == nil {
			continue
		}
		if err := copyFile(filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

func (cp *CRIUPoint) summarize() {
	var frozen, gap []float64
	for _, r := range cp.Runs {
		if r.OK {
			frozen, gap = append(frozen, r.FrozenMS), append(gap, r.GapMS)
		}
	}
	cp.FrozenMS, cp.GapMS = summarize(frozen), summarize(gap)
	cp.FrozenRatio = ratio(float64(cp.OursFroze.Median), float64(cp.FrozenMS.Median))
	cp.GapRatio = ratio(float64(cp.OursGap.Median), float64(cp.GapMS.Median))
}

func printCRIU(w io.Writer, cr *CRIUResults) {
	if cr == nil {
		return
	}
	if cr.Skipped != "" {
		fmt.Fprintf(w, "\nCRIU: skipped: %s\n", cr.Skipped)
		return
	}
	fmt.Fprintf(w, "\nCRIU %s stop-and-copy (dump + page server + restore) vs ours, medians:\n\n", cr.Version)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MiB\tdirty\tcontent\tpattern\tok\tCRIU frozen ms\tCRIU gap ms\tours frozen ms\tours gap ms\tfrozen ours/CRIU\tgap ours/CRIU\t")
	for _, cp := range cr.Points {
		ok := 0
		for _, r := range cp.Runs {
			if r.OK {
				ok++
			}
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", cp.SizeMiB, cp.RateMiBs, cp.Content, cp.Pattern,
			ok, len(cp.Runs), formatStat(cp.FrozenMS, true, "%.0f", true), formatStat(cp.GapMS, true, "%.0f", true),
			formatStat(cp.OursFroze, true, "%.0f", false), formatStat(cp.OursGap, true, "%.0f", false),
			fmtRatio(cp.FrozenRatio), fmtRatio(cp.GapRatio))
	}
	tw.Flush()
}

// fmtRatio prints a ratio with two decimals, or two significant digits
// below 0.1 (ours/CRIU is about 0.004 at 1 GiB: "0.00" would hide it).
func fmtRatio(f Float) string {
	switch v := float64(f); {
	case math.IsNaN(v):
		return "-"
	case v != 0 && math.Abs(v) < 0.1:
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
	return fmt.Sprintf("%.2f", f)
}

// criuCSV has one row per CRIU run.
func criuCSV(cr *CRIUResults) [][]string {
	rows := [][]string{{"size_mib", "rate_mib_s", "content", "pattern", "rep", "ok", "error",
		"dump_ms", "copy_ms", "restore_ms", "frozen_ms", "gap_ms", "missed_beats", "ours_frozen_ms_median", "ours_gap_ms_median"}}
	for _, cp := range cr.Points {
		for _, r := range cp.Runs {
			rows = append(rows, []string{strconv.Itoa(cp.SizeMiB), strconv.Itoa(cp.RateMiBs), cp.Content, cp.Pattern,
				strconv.Itoa(r.Rep), strconv.FormatBool(r.OK), r.Error, num(r.DumpMS), num(r.CopyMS), num(r.RestoreMS),
				num(r.FrozenMS), num(r.GapMS), strconv.Itoa(r.Missed), num(float64(cp.OursFroze.Median)), num(float64(cp.OursGap.Median))})
		}
	}
	return rows
}
