package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/self"
	"github.com/migrate-dev/migrate/internal/workload"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	runSubcommand() // the limit run starts this test binary as quic-sink/quic-source
	if os.Geteuid() == 0 {
		if err := linux.BecomeSubreaper(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	self.CloexecInherited()
	code := m.Run()
	linux.ReapOrphans()
	os.Exit(code)
}

// TestBenchTinyPoint runs the harness end to end on one small point: a
// 64 MiB idle process, once, with a small bare QUIC limit run, without
// CRIU.
func TestBenchTinyPoint(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (lab namespaces, ptrace)")
	}
	if testing.Short() {
		t.Skip("end to end; -short")
	}
	if _, err := workload.Build("benchload"); errors.Is(err, workload.ErrNoCompiler) {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opt := Options{
		Points:    []Point{{SizeMiB: 64, RateMiBs: 0, Content: "mixed", Pattern: "spread", Streams: 1, Compress: "lz4"}},
		Repeat:    1,
		LimitMiB:  16,
		LimitRuns: 1,
		Paired:    true,
		LabName:   "t-bench",
		CRIU:      "-",
		Settle:    100 * time.Millisecond,
		Log:       t.Logf,
		Pin:       runtime.NumCPU() >= 2, // the hosts on CPUs of their own: daemons restarted pinned
		CopyRef:   true,
	}
	res, err := Bench(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Pin && (!strings.Contains(res.Machine.Pinned, "h1 on CPUs [") || !strings.Contains(res.Machine.Pinned, "h2 on CPUs [")) {
		t.Errorf("pinned hosts not recorded: %q", res.Machine.Pinned)
	}
	if len(res.Points) != 1 || len(res.Points[0].Runs) != 1 {
		t.Fatalf("results: %+v", res.Points)
	}
	r := res.Points[0].Runs[0]
	if !r.OK {
		t.Fatalf("run failed: %s", r.Error)
	}
	if r.FrozenMS <= 0 || r.GapMS <= 0 || r.TotalMS < r.FrozenMS || r.Beats == 0 || r.Rounds < 1 {
		t.Errorf("implausible times: %+v", r)
	}
	if r.MovedMiB < 64 || r.WireBytes == 0 || r.Ratio <= 1 {
		t.Errorf("implausible amounts (64 MiB of mixed content): %+v", r)
	}
	if r.SrcCPUS+r.DstCPUS <= 0 || r.SrcPeakRSSMiB <= 0 || r.DstPeakRSSMiB <= 0 {
		t.Errorf("daemon counters not read: %+v", r)
	}
	if r.StreamingMS <= 0 || r.StreamingMS > r.TotalMS || !(r.StreamPct >= r.LimitPct) {
		t.Errorf("implausible streaming time: %.1f ms of %.1f, %.0f%% of the limit while streaming, %.0f%% overall",
			r.StreamingMS, r.TotalMS, float64(r.StreamPct), float64(r.LimitPct))
	}
	if res.limitGiBps() <= 0 || !(float64(r.LimitPct) > 0) {
		t.Errorf("no physical limit measured, or no run against it: limit %+v, run %.0f%%", res.Limit, float64(r.LimitPct))
	}
	// The bare run before has the point's size, the one after the wire size.
	if len(r.Paired) != 2 || r.Paired[0].Bytes != 64*mib || r.Paired[1].Bytes != int64((r.WireBytes+mib-1)/mib*mib) || !(r.PairedGiBs > 0) ||
		math.Abs(float64(r.PairedPct-100*r.StreamGiBs/r.PairedGiBs)) > 1e-9 {
		t.Errorf("paired bare runs: %+v, mean %.3f GiB/s, stream %.3f GiB/s at %.0f%% of them (%s)",
			r.Paired, float64(r.PairedGiBs), float64(r.StreamGiBs), float64(r.PairedPct), r.PairError)
	}
	// The bare run with copies moved the after-run's size through
	// process_vm_readv and UFFDIO_COPY.
	if q := r.CopyRef; q == nil || q.Bytes != r.Paired[1].Bytes ||
		math.Abs(float64(r.CopyRefPct)-100*float64(r.StreamGiBs)/q.gibps()) > 1e-9 {
		t.Errorf("copy reference: %+v at %.0f%% (%s)", q, float64(r.CopyRefPct), r.CopyRefError)
	}
	if err := writeResults(t.TempDir(), res); err != nil {
		t.Fatal(err)
	}
}

// TestPinThreads pins a child to one CPU: the kernel shows it as its only
// allowed one.
func TestPinThreads(t *testing.T) {
	cpus, err := allowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	cpu := cpus[len(cpus)-1]
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var one unix.CPUSet
	one.Set(cpu)
	if err := pinThreads(cmd.Process.Pid, &one); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Cpus_allowed_list:\t%d\n", cpu); !strings.Contains(string(b), want) {
		t.Errorf("after pinning to CPU %d, status has no %q:\n%s", cpu, want, b)
	}
}
