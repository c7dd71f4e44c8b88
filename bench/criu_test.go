package main

import (
	"context"
	"math"
	"os"
	"testing"
	"time"
)

func TestLogErrors(t *testing.T) {
	log := `(00.001111) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted
(00.010021) Error (criu/files-reg.c:1790): Can't lookup mount=24 for fd=0 path=/dev/null
(00.010035) Error (criu/cr-dump.c:1698): Dump files (pid: 44) failed with -1
(00.231091) Unfreezing tasks into 1
(00.231177) Error (criu/cr-dump.c:2128): Dumping FAILED.
`
	want := `(00.001111) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted
(00.010021) Error (criu/files-reg.c:1790): Can't lookup mount=24 for fd=0 path=/dev/null`
	if got := logErrors(log, 2); got != want {
		t.Errorf("logErrors(2) = %q, want %q", got, want)
	}
	if got, want := logErrors("a\nb\nc\n", 2), "b\nc"; got != want {
		t.Errorf("logErrors without errors = %q, want the last lines %q", got, want)
	}
}

// TestBenchCRIU runs the CRIU side of the harness on one 64 MiB point when
// MIGRATE_BENCH_CRIU names a criu binary (nothing here builds CRIU).
func TestBenchCRIU(t *testing.T) {
	bin := os.Getenv("MIGRATE_BENCH_CRIU")
	if bin == "" {
		t.Skip("MIGRATE_BENCH_CRIU=/path/to/criu runs it")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (lab namespaces, ptrace)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opt := Options{
		Points:  []Point{{SizeMiB: 64, RateMiBs: 0, Content: "mixed", Pattern: "spread", Streams: 1, Compress: "lz4"}},
		Repeat:  1,
		LabName: "t-bench-criu",
		CRIU:    bin,
		Settle:  100 * time.Millisecond,
		Log:     t.Logf,
	}
	res, err := Bench(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	cr := res.CRIU
	if cr == nil || cr.Skipped != "" {
		t.Fatalf("CRIU not run: %+v", cr)
	}
	if len(cr.Points) != 1 || len(cr.Points[0].Runs) != 1 {
		t.Fatalf("CRIU results: %+v", cr.Points)
	}
	r := cr.Points[0].Runs[0]
	if !r.OK {
		t.Fatalf("CRIU run failed: %s", r.Error)
	}
	if r.DumpMS <= 0 || r.RestoreMS <= 0 || r.FrozenMS < r.DumpMS+r.RestoreMS || r.GapMS <= 0 || r.GapMS > r.FrozenMS+50 {
		t.Errorf("implausible CRIU times: %+v", r)
	}
}

func TestFmtRatio(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{{math.NaN(), "-"}, {0, "0.00"}, {1.234, "1.23"}, {0.53, "0.53"}, {0.0426, "0.043"}, {0.00426, "0.0043"}} {
		if got := fmtRatio(Float(tc.f)); got != tc.want {
			t.Errorf("fmtRatio(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}
