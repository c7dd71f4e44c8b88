package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/internal/workload"
	"github.com/migrate-dev/migrate/lab"
)

const (
	pageSize = 4096
	mib      = 1 << 20
	gib      = 1 << 30
	// beatPeriodMS is benchload's heartbeat period.
	beatPeriodMS = 1.0
)

// Run is one migration of one point.
type Run struct {
	Rep   int    `json:"rep"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`

	TotalMS   float64 `json:"total_ms"`
	FrozenMS  float64 `json:"frozen_ms"`
	RestoreMS float64 `json:"restore_ms"`
	// Freeze is where the frozen time went, as the tool reports it, and
	// RestoreSteps the destination's part of it.
	Freeze       []api.Step `json:"freeze,omitempty"`
	RestoreSteps []api.Step `json:"restore_steps,omitempty"`
	// Throttle is the largest share of a round the process was kept
	// stopped during pre-copy to make it converge.
	Throttle float64 `json:"throttle,omitempty"`
	GapMS    float64 `json:"gap_ms"` // longest heartbeat interval from the migration on
	// FreezeGapMS is the longest interval that overlaps the freeze, and
	// OtherGapMS the longest of the others (the workload waiting for a
	// CPU while both daemons copy on a 2-core machine).
	FreezeGapMS float64 `json:"freeze_gap_ms"`
	OtherGapMS  float64 `json:"other_gap_ms"`
	MissedBeats int     `json:"missed_beats"` // 1 ms beats not written
	CountErrors int     `json:"count_errors"` // heartbeat counts lost or repeated: must be 0
	Beats       int     `json:"beats"`
	Rounds      int     `json:"rounds"`
	Tracker     string  `json:"tracker"`
	PagesSent   uint64  `json:"pages_sent"`
	ZeroPages   uint64  `json:"zero_pages"`
	WireBytes   uint64  `json:"wire_bytes"`
	PreTouchMS  float64 `json:"pretouch_ms"`
	RestartMS   float64 `json:"daemon_restart_ms,omitempty"`

	// Derived figures.
	MovedMiB       float64 `json:"moved_mib"`        // (pages_sent+zero_pages) x 4 KiB
	Ratio          Float   `json:"ratio"`            // moved bytes / wire bytes
	ThroughputMiBs Float   `json:"throughput_mib_s"` // moved MiB / total time
	WireGiBs       Float   `json:"wire_gib_s"`       // wire bytes / total time
	LimitPct       Float   `json:"limit_pct"`        // WireGiBs / the bare QUIC limit, in %
	// StreamingMS is the time pages were on their way (the rounds, not
	// the set-up, the freeze's other steps or the handover); StreamGiBs
	// the wire rate over it, StreamPct that against the limit: what the
	// page stream carries while it streams.
	StreamingMS float64 `json:"streaming_ms"`
	StreamGiBs  Float   `json:"stream_gib_s"`
	StreamPct   Float   `json:"stream_pct"`
	// Paired are the bare QUIC runs right before and right after this
	// migration (Options.Paired), PairedGiBs their mean rate and
	// PairedPct StreamGiBs against it: the page stream judged against the
	// link of its own moment, not of the start of the benchmark.
	Paired     []quicResult `json:"paired,omitempty"`
	PairedGiBs Float        `json:"paired_gib_s"`
	PairedPct  Float        `json:"paired_pct"`
	PairError  string       `json:"pair_error,omitempty"`
	// CopyRef is a bare QUIC run after the migration whose ends also
	// read and write the pages as a migration must (Options.CopyRef),
	// CopyRefPct StreamGiBs against it: what is left is the migration's
	// own overhead.
	CopyRef      *quicResult `json:"copy_ref,omitempty"`
	CopyRefPct   Float       `json:"copy_ref_pct"`
	CopyRefError string      `json:"copy_ref_error,omitempty"`

	SrcCPUS       float64 `json:"src_cpu_s"`
	DstCPUS       float64 `json:"dst_cpu_s"`
	SrcCPUPerGiB  Float   `json:"src_cpu_s_per_gib"`
	DstCPUPerGiB  Float   `json:"dst_cpu_s_per_gib"`
	SrcRSSMiB     float64 `json:"src_rss_before_mib"`
	DstRSSMiB     float64 `json:"dst_rss_before_mib"`
	SrcPeakRSSMiB float64 `json:"src_peak_rss_mib"`
	DstPeakRSSMiB float64 `json:"dst_peak_rss_mib"`
}

// PointResult is every run of one point.
type PointResult struct {
	Point
	Skipped string          `json:"skipped,omitempty"`
	Runs    []Run           `json:"runs"`
	Summary map[string]Stat `json:"summary,omitempty"`
}

// needMiB is the memory a point needs: the process, the destination's
// copy of its pages and the restored process, plus room for the rest.
func needMiB(p Point) int { return 3*p.SizeMiB + 1024 }

func (h *harness) runPoint(ctx context.Context, p Point) PointResult {
	pr := PointResult{Point: p}
	for rep := 1; rep <= h.opt.Repeat && ctx.Err() == nil; rep++ {
		if avail, err := memAvailableMiB(); err == nil && avail < needMiB(p) {
			pr.Skipped = fmt.Sprintf("needs %d MiB of available memory, the machine has %d", needMiB(p), avail)
			h.opt.Log("   skipped: %s", pr.Skipped)
			return pr
		}
		r := h.runOnce(ctx, p)
		r.Rep = rep
		h.opt.Log("   #%d %s", rep, r.line())
		pr.Runs = append(pr.Runs, r)
	}
	pr.Summary = summarizeRuns(pr.Runs)
	return pr
}

func (r Run) line() string {
	if !r.OK {
		return "FAILED: " + r.Error
	}
	limit := ""
	if !math.IsNaN(float64(r.LimitPct)) {
		limit = fmt.Sprintf(" (%.0f%% of the limit; while streaming %.0f%%)", r.LimitPct, r.StreamPct)
	}
	if !math.IsNaN(float64(r.PairedPct)) {
		limit += fmt.Sprintf(", streaming at %.0f%% of the bare runs beside it (%.3f GiB/s)", r.PairedPct, r.PairedGiBs)
	} else if r.PairError != "" {
		limit += ", no bare runs beside it: " + r.PairError
	}
	if r.CopyRef != nil {
		limit += fmt.Sprintf(", %.0f%% of a bare run with a migration's copies (%.3f GiB/s)", r.CopyRefPct, r.CopyRef.gibps())
	} else if r.CopyRefError != "" {
		limit += ", " + r.CopyRefError
	}
	return fmt.Sprintf("total %.0f ms, frozen %.1f ms, gap %.1f ms at the freeze and %.1f ms before, %d rounds, wire %.1f MiB (x%.2f), %.0f MiB/s%s, cpu s/GiB %.2f+%.2f, pre-touch %.0f ms",
		r.TotalMS, r.FrozenMS, r.FreezeGapMS, r.OtherGapMS, r.Rounds, float64(r.WireBytes)/mib, r.Ratio, r.ThroughputMiBs, limit, r.SrcCPUPerGiB, r.DstCPUPerGiB, r.PreTouchMS)
}

// runOnce starts the workload in h1, migrates it to h2 and measures.
func (h *harness) runOnce(ctx context.Context, p Point) Run {
	var r Run
	dir, err := h.scratch("run")
	if err != nil {
		return r.fail(err)
	}
	if !h.opt.KeepDaemons {
		t0 := time.Now()
		if err := h.restartDaemons(ctx); err != nil {
			return r.fail(err)
		}
		r.RestartMS = msSince(t0)
	}
	beats := filepath.Join(dir, "beats")
	argv := []string{h.benchload, strconv.Itoa(p.SizeMiB), p.Content, strconv.Itoa(p.RateMiBs), p.Pattern, beats}
	pid, err := start(ctx, h.h1, dir, argv, "READY", readyTimeout(p.SizeMiB))
	if pid > 0 {
		defer h.stop(pid)
	}
	if err != nil {
		return r.fail(err)
	}
	if r.PreTouchMS, err = h.pretouch(ctx, p.SizeMiB); err != nil {
		return r.fail(err)
	}
	var pairErr error
	if h.opt.Paired {
		pairErr = h.pairOnce(ctx, &r, p)
	}
	sleep(ctx, h.opt.Settle)
	before, err := h.sample(true)
	if err != nil {
		return r.fail(err)
	}
	poll := h.pollRSS()
	begin := time.Now()
	rep, err := h.migrate(ctx, pid, p)
	end := time.Now()
	after, serr := h.sample(false)
	poll.finish(&after)
	if err != nil {
		return r.fail(fmt.Errorf("migrate: %w", err))
	}
	if serr != nil {
		return r.fail(serr)
	}
	if err := h.checkMoved(pid, beats, end); err != nil {
		return r.fail(err)
	}
	data, err := os.ReadFile(beats)
	if err != nil {
		return r.fail(err)
	}
	if h.opt.Paired && pairErr == nil {
		if h.wireMiB == nil {
			h.wireMiB = make(map[Point]int)
		}
		h.wireMiB[p] = int((rep.WireBytes + mib - 1) / mib)
		pairErr = h.pairOnce(ctx, &r, p)
	}
	r.fill(rep, workload.ParseBeats(data, beatPeriodMS, begin.UnixNano()), before, after, h.limit)
	r.pair(pairErr)
	r.CopyRefPct = Float(math.NaN())
	if h.opt.CopyRef {
		h.copyRef(ctx, &r, p)
	}
	if rep.FrozenAtUnixNS != 0 {
		r.FreezeGapMS, r.OtherGapMS = workload.Gaps(data, begin.UnixNano(),
			rep.FrozenAtUnixNS, rep.FrozenAtUnixNS+int64(rep.FrozenMS*1e6))
	}
	if r.CountErrors > 0 {
		return r.fail(fmt.Errorf("heartbeat counts lost or repeated %d times", r.CountErrors))
	}
	r.OK = true
	return r
}

// pairOnce runs one bare QUIC transfer as long as the point's last
// migration was on the wire (its memory size before the first) and adds
// it to r.Paired: a transfer of another length would ramp up differently.
func (h *harness) pairOnce(ctx context.Context, r *Run, p Point) error {
	q, err := h.quicOnce(ctx, h.pairMiB(p), false)
	if err != nil {
		return fmt.Errorf("bare QUIC run: %w", err)
	}
	r.Paired = append(r.Paired, q)
	return nil
}

// pairMiB is the size of the point's bare runs.
func (h *harness) pairMiB(p Point) int {
	n, ok := h.wireMiB[p]
	if !ok {
		n = p.SizeMiB
	}
	return max(n, 1)
}

// copyRef runs one bare QUIC transfer whose ends also do a migration's
// memory work, read each MiB with process_vm_readv before sending it and
// write what arrives into fresh pages with UFFDIO_COPY, and sets
// r.CopyRef and r.CopyRefPct: the page stream against the link with the
// copies a migration cannot avoid, so that what is left is the
// migration's own overhead.
func (h *harness) copyRef(ctx context.Context, r *Run, p Point) {
	// The sink's fresh pages must not pay this VM's first touch either
	// (see pretouch), as the migration's did not.
	_, err := h.pretouch(ctx, h.pairMiB(p))
	var q quicResult
	if err == nil {
		q, err = h.quicOnce(ctx, h.pairMiB(p), true)
	}
	if err != nil {
		r.CopyRefError = fmt.Sprintf("bare QUIC run with copies: %v", err)
		return
	}
	r.CopyRef = &q
	r.CopyRefPct = Float(100 * float64(r.StreamGiBs) / q.gibps())
}

// pair sets the paired figures once both bare runs are in.
func (r *Run) pair(err error) {
	r.PairedGiBs, r.PairedPct = Float(math.NaN()), Float(math.NaN())
	if err != nil {
		r.PairError = err.Error()
		return
	}
	if len(r.Paired) != 2 {
		return
	}
	r.PairedGiBs = Float((r.Paired[0].gibps() + r.Paired[1].gibps()) / 2)
	r.PairedPct = 100 * r.StreamGiBs / r.PairedGiBs
}

func (r Run) fail(err error) Run {
	r.OK, r.Error = false, err.Error()
	return r
}

func readyTimeout(sizeMiB int) time.Duration {
	return 20*time.Second + time.Duration(sizeMiB)*10*time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// pretouch runs benchload --touch SIZE in both hosts at once: on this VM
// memory the host took back costs up to 3 s/GiB at its first touch, a cost
// that belongs to no migration.
func (h *harness) pretouch(ctx context.Context, sizeMiB int) (float64, error) {
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, host := range []*lab.Host{h.h1, h.h2} {
		wg.Go(func() {
			res, err := host.Exec(ctx, []string{h.benchload, "--touch", strconv.Itoa(sizeMiB)}, lab.ExecOptions{Dir: h.tmp})
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("pre-touch in %s: exit status %d", host.Name, res.ExitCode)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return msSince(t0), errors.Join(errs...)
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1e3 }

// migrate asks h1's daemon to move pid to h2.
func (h *harness) migrate(ctx context.Context, pid int, p Point) (api.MigrateReport, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute+time.Duration(p.SizeMiB)*60*time.Millisecond)
	defer cancel()
	return h.h1.Client().Migrate(ctx, api.MigrateRequest{
		PID: pid, Host: "h2", MaxDowntimeMS: h.opt.MaxDowntimeMS, MaxRounds: h.opt.MaxRounds,
		Streams: p.Streams, Compress: p.Compress,
	}, nil)
}

// checkMoved checks that pid runs on h2, no longer on h1, and beats there.
func (h *harness) checkMoved(pid int, beats string, end time.Time) error {
	if h.h2.Signal(pid, 0) != nil {
		return fmt.Errorf("pid %d does not run on h2 after a successful migration", pid)
	}
	if !h.h1.WaitGone(pid, 2*time.Second, 10*time.Millisecond) {
		return fmt.Errorf("pid %d still exists on h1 after its migration", pid)
	}
	want := end.Add(50 * time.Millisecond).UnixNano()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, t, _ := workload.LastBeat(tail(beats, 256)); t >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d on h2 writes no heartbeat", pid)
		}
	}
}

// tail returns up to n last bytes of a file.
func tail(path string, n int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	m, _ := f.ReadAt(b, off)
	return b[:m]
}
