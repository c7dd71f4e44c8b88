package e2e

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/internal/workload"
	"github.com/migrate-dev/migrate/lab"
	"golang.org/x/sys/unix"
)

// churnRequest makes pre-copy go on for several rounds: a downtime target
// that the churn's dirty pages never meet, so the rounds stop only when
// the dirty set stops shrinking or at MaxRounds.
func churnRequest(pid int, host string) api.MigrateRequest {
	return api.MigrateRequest{PID: pid, Host: host, MaxDowntimeMS: 0.1, MaxRounds: 8}
}

// startChurn starts the churn workload in h: SLOTS OPS_PER_MS SEED, its
// own directory, MODE.
func startChurn(t *testing.T, h *lab.Host, opsPerMS, seed int, mode string) *guest {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	return startIn(t, h, "churn", "64", fmt.Sprint(opsPerMS), fmt.Sprint(seed), dir, mode)
}

// churnOutput is the workload's output without its PROGRESS lines.
func (g *guest) churnOutput() string { return workload.ChurnLog(g.output()) }

// mustPass has the churn workload check itself in h: PASS, or the test
// fails with every FAIL line.
func (g *guest) mustPass(t *testing.T, h *lab.Host) {
	t.Helper()
	if err := g.verifyIn(h); err != nil {
		time.Sleep(300 * time.Millisecond) // the rest of the FAIL lines
		t.Fatalf("after the migrations:\n%s", g.churnOutput())
	}
}

// churnMigrate moves g from one host to the other while it churns. It
// returns the report and the operations the process did during the
// pre-copy, by its PROGRESS lines (every 50 ms): the last one stamped
// before the freeze minus the last one before the start (0 when the
// pre-copy was too short, or the process got no CPU, to show any).
func churnMigrate(t *testing.T, g *guest, from, to *lab.Host) (api.MigrateReport, uint64) {
	t.Helper()
	start := time.Now()
	rep, err := migrateReq(from, churnRequest(g.pid, to.Name))
	end := time.Now()
	if err != nil {
		time.Sleep(300 * time.Millisecond) // the destination's side of the story
		t.Fatalf("migrate %s -> %s: %v\n%s\n%s's daemon log:\n%s\n%s's daemon log:\n%s", from.Name, to.Name, err, g.churnOutput(),
			from.Name, logTail(from, 10), to.Name, logTail(to, 10))
	}
	freeze := end.Add(-time.Duration(rep.FrozenMS * float64(time.Millisecond)))
	var before, during uint64
	for _, s := range workload.ChurnProgress(g.output()) {
		switch {
		case s.Time.Before(start):
			before = s.Ops
		case s.Time.Before(freeze):
			during = s.Ops
		}
	}
	ops := uint64(0)
	if during > before {
		ops = during - before
	}
	t.Logf("%s -> %s: %d rounds, %d pages (%d zero), frozen %.1f ms, total %.0f ms (%s); %d operations during the pre-copy",
		from.Name, to.Name, rep.Rounds, rep.PagesSent, rep.ZeroPages, rep.FrozenMS, rep.TotalMS, rep.Tracker, ops)
	if !goneFrom(from, g.pid) {
		t.Errorf("pid %d still exists on %s", g.pid, from.Name)
	}
	if !runsIn(to, g.pid) {
		t.Fatalf("pid %d does not run on %s\n%s\n%s's daemon log:\n%s", g.pid, to.Name, g.churnOutput(), to.Name, logTail(to, 20))
	}
	return rep, ops
}

// TestMigrateChurn migrates processes that keep changing their address
// space (mmap anywhere, MAP_FIXED over and next to their regions, munmap
// of whole regions or parts, mprotect splits, mremap grow, shrink and move,
// MADV_DONTNEED, writes, private file mappings written copy-on-write; see
// the churn workload) while they do it. Each must arrive with every page
// of every region as its own table says, and the protections with it.
// Pre-copy is made to take several rounds, so that layouts change between
// rounds and during them.
func TestMigrateChurn(t *testing.T) {
	l := newLab(t, "t-churn")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	migrated, multi, churned := 0, false, uint64(0)
	for _, tc := range []struct{ ops, seed int }{{4, 1}, {2, 2}, {8, 3}, {4, 4}, {16, 5}} {
		t.Run(fmt.Sprintf("ops%d-seed%d", tc.ops, tc.seed), func(t *testing.T) {
			g := startChurn(t, h1, tc.ops, tc.seed, "-")
			time.Sleep(500 * time.Millisecond)
			rep, ops := churnMigrate(t, g, h1, h2)
			migrated, multi, churned = migrated+1, multi || rep.Rounds > 1, churned+ops
			time.Sleep(200 * time.Millisecond) // churn on h2 before the check
			g.mustPass(t, h2)
			t.Logf("%s", g.churnOutput())
		})
	}
	if migrated > 0 && !multi {
		t.Errorf("no migration had more than one pre-copy round")
	}
	if migrated > 0 && churned == 0 {
		t.Errorf("no operation counted during any pre-copy")
	}

	// The check can fail: a page corrupted before the migration (and its
	// region left alone from then on) is reported after it, and only it.
	t.Run("corrupt", func(t *testing.T) {
		g := startChurn(t, h1, 4, 6, "-")
		time.Sleep(300 * time.Millisecond)
		if err := h1.Signal(g.pid, unix.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		m := waitLine(t, g, regexp.MustCompile(`CORRUPT: slot (\d+) page (\d+) at (0x[0-9a-f]+)`))
		churnMigrate(t, g, h1, h2)
		if err := g.verifyIn(h2); err == nil {
			t.Fatalf("PASS after SIGUSR1 corrupted slot %s page %s", m[1], m[2])
		}
		time.Sleep(300 * time.Millisecond) // the rest of the FAIL lines
		out := g.churnOutput()
		want := fmt.Sprintf("FAIL: page content of slot %s page %s/", m[1], m[2])
		if !strings.Contains(out, want) || !strings.Contains(out, "at "+m[3]) {
			t.Fatalf("FAIL does not name the corrupted page (%q at %s):\n%s", want, m[3], out)
		}
		if n := strings.Count(out, "FAIL:"); n != 2 { // the page and the count
			t.Fatalf("%d FAIL lines, want only the corrupted page's:\n%s", n, out)
		}
	})
}

// TestMigrateChurnFileDontneed adds MADV_DONTNEED on private file mappings
// to the churn: a page the process wrote (its own copy) and then dropped
// reads the file again. The uffd-wp tracker documents that the kernel
// does not report this as a write, so the migration must find it another
// way.
func TestMigrateChurnFileDontneed(t *testing.T) {
	l := newLab(t, "t-churnf")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	for _, seed := range []int{11, 12, 13} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			g := startChurn(t, h1, 8, seed, "filedontneed")
			time.Sleep(500 * time.Millisecond)
			churnMigrate(t, g, h1, h2)
			g.mustPass(t, h2)
			out := g.churnOutput()
			if c, _ := workload.ChurnCounts(out); c["filedontneed"] == 0 {
				t.Errorf("no MADV_DONTNEED of a file page happened:\n%s", out)
			}
			t.Logf("%s", out)
		})
	}
}

// TestMigrateChurnBackAndForth moves one churning process h1 -> h2 -> h1
// -> h2 and checks it at the end (the check ends it). A daemon migrates
// out a process it restored itself: its own child, which its reaper must
// not wait for while it is traced.
func TestMigrateChurnBackAndForth(t *testing.T) {
	l := newLab(t, "t-churnb")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	g := startChurn(t, h1, 4, 21, "-")
	hosts := []*lab.Host{h1, h2}
	for i := range 3 {
		time.Sleep(500 * time.Millisecond)
		churnMigrate(t, g, hosts[i%2], hosts[(i+1)%2])
	}
	g.mustPass(t, h2)
}

// waitLine waits for a line of g's output matching re and returns its
// submatches.
func waitLine(t *testing.T, g *guest, re *regexp.Regexp) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(g.output()); m != nil {
			return m
		}
	}
	t.Fatal(errors.New("no line matching " + re.String() + ":\n" + g.churnOutput()))
	return nil
}
