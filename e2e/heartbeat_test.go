package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/internal/workload"
)

// TestHeartbeat: a process writing a heartbeat every millisecond moves
// without a missing count, and its longest gap is the frozen time the tool
// reported (plus scheduling noise).
func TestHeartbeat(t *testing.T) {
	l := newLab(t, "t-beat")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	dir := t.TempDir()
	beats := filepath.Join(dir, "beats")
	g := startIn(t, h1, "counter", beats, "1")
	time.Sleep(500 * time.Millisecond)
	rep, err := migrate(h1, g.pid, "h2")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	gap, missing, n := gaps(t, beats)
	t.Logf("%d beats, longest gap %.1f ms, frozen %.1f ms (restore %.1f ms), total %.0f ms, %d rounds",
		n, gap, rep.FrozenMS, rep.RestoreMS, rep.TotalMS, rep.Rounds)
	if missing != 0 {
		t.Errorf("%d heartbeat counts missing", missing)
	}
	if gap > rep.FrozenMS+25 {
		t.Errorf("longest gap %.1f ms is well above the reported frozen time %.1f ms", gap, rep.FrozenMS)
	}
	if err := g.verifyIn(h2); err != nil {
		t.Fatal(err)
	}
}

// gaps returns the longest interval between heartbeats in ms, the number
// of missing counts and the number of beats; it logs when the longest gap
// began.
func gaps(t *testing.T, path string) (float64, int, int) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := workload.ParseBeats(data, 0, 0)
	t.Logf("longest gap %.1f ms began %s", b.MaxGapMS, time.Unix(0, b.MaxGapAtNS).Format("15:04:05.000"))
	return b.MaxGapMS, int(b.Lost), b.N
}

// TestHeartbeatWhileDirtying: a 256 MiB process that writes 20 MiB/s
// (spread over its memory) and a heartbeat every millisecond moves in
// several rounds with no missing count; its longest gap is the frozen
// time the tool reported, and its memory checks out on h2.
func TestHeartbeatWhileDirtying(t *testing.T) {
	l := newLab(t, "t-dirty")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	beats := filepath.Join(t.TempDir(), "beats")
	g := startIn(t, h1, "benchload", "256", "mixed", "20", "spread", beats)
	time.Sleep(time.Second)
	rep, err := migrate(h1, g.pid, "h2")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	gap, missing, n := gaps(t, beats)
	t.Logf("%d beats, longest gap %.1f ms, frozen %.1f ms (restore %.1f ms), total %.0f ms, %d rounds, %d pages + %d zero",
		n, gap, rep.FrozenMS, rep.RestoreMS, rep.TotalMS, rep.Rounds, rep.PagesSent, rep.ZeroPages)
	t.Logf("freeze: %v; restore: %v", rep.Freeze, rep.RestoreSteps)
	if rep.Rounds < 2 {
		t.Errorf("%d pre-copy rounds for a process dirtying 20 MiB/s", rep.Rounds)
	}
	if missing != 0 {
		t.Errorf("%d heartbeat counts missing", missing)
	}
	if gap > rep.FrozenMS+25 {
		t.Errorf("longest gap %.1f ms is well above the reported frozen time %.1f ms", gap, rep.FrozenMS)
	}
	if err := g.verifyIn(h2); err != nil {
		t.Fatal(err)
	}
}

// TestThrottleConverges: a process that writes faster than the link moves
// memory does not converge by pre-copy alone; throttled (kept stopped for
// a growing share of each round), its freeze is a fraction of what it is
// with --no-throttle, and it loses no heartbeat count.
func TestThrottleConverges(t *testing.T) {
	l := newLab(t, "t-thr")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	frozen := map[bool]float64{}
	for _, noThrottle := range []bool{true, false} {
		beats := filepath.Join(t.TempDir(), "beats")
		g := startIn(t, h1, "benchload", "64", "random", "200", "spread", beats)
		time.Sleep(500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		rep, err := api.NewClient(h1.Socket()).Migrate(ctx, api.MigrateRequest{PID: g.pid, Host: "h2", NoThrottle: noThrottle}, nil)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		gap, missing, _ := gaps(t, beats)
		t.Logf("no-throttle=%v: frozen %.1f ms, gap %.1f ms, %d rounds, throttle %.0f%%, total %.0f ms",
			noThrottle, rep.FrozenMS, gap, rep.Rounds, 100*rep.Throttle, rep.TotalMS)
		if missing != 0 {
			t.Errorf("%d heartbeat counts missing", missing)
		}
		if (rep.Throttle > 0) == noThrottle {
			t.Errorf("no-throttle=%v but throttle %.2f", noThrottle, rep.Throttle)
		}
		if err := g.verifyIn(h2); err != nil {
			t.Fatal(err)
		}
		frozen[noThrottle] = rep.FrozenMS
	}
	if frozen[false] > frozen[true]/2 {
		t.Errorf("throttled freeze %.1f ms is not well below the unthrottled %.1f ms", frozen[false], frozen[true])
	}
}
