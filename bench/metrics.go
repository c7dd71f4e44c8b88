package main

import (
	"errors"
	"math"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/internal/workload"
)

// daemonSample is both daemons' counters at one moment.
type daemonSample struct {
	srcCPU, dstCPU   float64 // seconds
	srcRSS, dstRSS   float64 // MiB
	srcPeak, dstPeak float64 // MiB, since the last reset
}

// sample reads both daemons' counters; reset first resets their peak RSS.
func (h *harness) sample(reset bool) (daemonSample, error) {
	var s daemonSample
	var errs [6]error
	if reset {
		errs[4], errs[5] = h.d1.resetPeak(), h.d2.resetPeak()
	}
	s.srcCPU, errs[0] = h.d1.cpu()
	s.dstCPU, errs[1] = h.d2.cpu()
	s.srcRSS, s.srcPeak, errs[2] = h.d1.memory()
	s.dstRSS, s.dstPeak, errs[3] = h.d2.memory()
	return s, errors.Join(errs[:]...)
}

// rssPoller samples both daemons' VmRSS every few milliseconds. VmHWM
// alone can miss the peak: the kernel raises it lazily (when memory is
// unmapped, or when it is read), so memory the Go runtime hands back with
// madvise before the harness reads VmHWM was seen to vanish from it (a
// 22 MiB "peak" for a daemon that had just received 48 MiB of pages).
type rssPoller struct {
	stop     chan struct{}
	done     chan struct{}
	src, dst float64
}

const rssPollEvery = 5 * time.Millisecond

func (h *harness) pollRSS() *rssPoller {
	p := &rssPoller{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(rssPollEvery)
		defer t.Stop()
		for {
			if rss, _, err := h.d1.memory(); err == nil {
				p.src = max(p.src, rss)
			}
			if rss, _, err := h.d2.memory(); err == nil {
				p.dst = max(p.dst, rss)
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// finish stops the poller and raises the sample's peaks to what it saw.
func (p *rssPoller) finish(s *daemonSample) {
	close(p.stop)
	<-p.done
	s.srcPeak, s.dstPeak = max(s.srcPeak, p.src), max(s.dstPeak, p.dst)
}

// fill sets the run's figures from the tool's report, the heartbeat and
// the daemons' counters before and after. limit is the bare QUIC GiB/s
// (0: not measured).
func (r *Run) fill(rep api.MigrateReport, b workload.Beats, before, after daemonSample, limit float64) {
	r.TotalMS, r.FrozenMS, r.RestoreMS = rep.TotalMS, rep.FrozenMS, rep.RestoreMS
	r.Freeze, r.RestoreSteps, r.Throttle = rep.Freeze, rep.RestoreSteps, rep.Throttle
	r.Rounds, r.Tracker = rep.Rounds, rep.Tracker
	r.PagesSent, r.ZeroPages, r.WireBytes = rep.PagesSent, rep.ZeroPages, rep.WireBytes
	r.GapMS, r.MissedBeats, r.CountErrors, r.Beats = b.MaxGapMS, b.Missed, b.CountErrors, b.N

	moved := float64(rep.PagesSent+rep.ZeroPages) * pageSize
	secs := rep.TotalMS / 1e3
	r.MovedMiB = moved / mib
	r.Ratio = ratio(moved, float64(rep.WireBytes))
	r.ThroughputMiBs = ratio(r.MovedMiB, secs)
	r.WireGiBs = ratio(float64(rep.WireBytes)/gib, secs)
	r.StreamingMS = rep.StreamingMS
	r.StreamGiBs = ratio(float64(rep.WireBytes)/gib, rep.StreamingMS/1e3)
	r.LimitPct, r.StreamPct = Float(math.NaN()), Float(math.NaN())
	if limit > 0 {
		r.LimitPct = 100 * r.WireGiBs / Float(limit)
		r.StreamPct = 100 * r.StreamGiBs / Float(limit)
	}
	r.SrcCPUS = after.srcCPU - before.srcCPU
	r.DstCPUS = after.dstCPU - before.dstCPU
	r.SrcCPUPerGiB = ratio(r.SrcCPUS, moved/gib)
	r.DstCPUPerGiB = ratio(r.DstCPUS, moved/gib)
	r.SrcRSSMiB, r.DstRSSMiB = before.srcRSS, before.dstRSS
	r.SrcPeakRSSMiB, r.DstPeakRSSMiB = after.srcPeak, after.dstPeak
}

// ratio is a/b, NaN when b is 0.
func ratio(a, b float64) Float {
	if b == 0 {
		return Float(math.NaN())
	}
	return Float(a / b)
}

// metric is one figure of a run that is summarised over the repeats.
type metric struct {
	Key  string // JSON and CSV name
	Head string // table heading
	Fmt  string // table format of one value
	Get  func(*Run) float64
}

var metrics = []metric{
	{"total_ms", "total ms", "%.0f", func(r *Run) float64 { return r.TotalMS }},
	{"frozen_ms", "frozen ms", "%.1f", func(r *Run) float64 { return r.FrozenMS }},
	{"freeze_gap_ms", "freeze gap ms", "%.1f", func(r *Run) float64 { return r.FreezeGapMS }},
	{"gap_ms", "gap ms", "%.1f", func(r *Run) float64 { return r.GapMS }},
	{"other_gap_ms", "other gap ms", "%.1f", func(r *Run) float64 { return r.OtherGapMS }},
	{"missed_beats", "missed", "%.0f", func(r *Run) float64 { return float64(r.MissedBeats) }},
	{"rounds", "rounds", "%.0f", func(r *Run) float64 { return float64(r.Rounds) }},
	{"wire_mib", "wire MiB", "%.0f", func(r *Run) float64 { return float64(r.WireBytes) / mib }},
	{"ratio", "ratio", "%.2f", func(r *Run) float64 { return float64(r.Ratio) }},
	{"throughput_mib_s", "MiB/s", "%.0f", func(r *Run) float64 { return float64(r.ThroughputMiBs) }},
	{"limit_pct", "%limit", "%.0f", func(r *Run) float64 { return float64(r.LimitPct) }},
	{"stream_pct", "stream %limit", "%.0f", func(r *Run) float64 { return float64(r.StreamPct) }},
	{"paired_pct", "stream %paired", "%.0f", func(r *Run) float64 { return float64(r.PairedPct) }},
	{"copy_ref_pct", "stream %copyref", "%.0f", func(r *Run) float64 { return float64(r.CopyRefPct) }},
	{"src_cpu_s_per_gib", "src cpu s/GiB", "%.2f", func(r *Run) float64 { return float64(r.SrcCPUPerGiB) }},
	{"dst_cpu_s_per_gib", "dst cpu s/GiB", "%.2f", func(r *Run) float64 { return float64(r.DstCPUPerGiB) }},
	{"src_peak_rss_mib", "src RSS MiB", "%.0f", func(r *Run) float64 { return r.SrcPeakRSSMiB }},
	{"dst_peak_rss_mib", "dst RSS MiB", "%.0f", func(r *Run) float64 { return r.DstPeakRSSMiB }},
}

// summarizeRuns gives every metric's median, min and max over the runs
// that succeeded.
func summarizeRuns(runs []Run) map[string]Stat {
	out := make(map[string]Stat, len(metrics))
	for _, m := range metrics {
		var vs []float64
		for i := range runs {
			if runs[i].OK {
				vs = append(vs, m.Get(&runs[i]))
			}
		}
		out[m.Key] = summarize(vs)
	}
	return out
}
