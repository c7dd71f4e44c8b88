package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/lab"
	"golang.org/x/sys/unix"
)

// TestHandoverFaults crashes the destination daemon at each step of the
// handover (frozen last round begins; final state received; process
// rebuilt, before Ready; Go received, before it runs). Each time the process ends up running on
// exactly one host, the source, as it was; then a migration succeeds and
// the workload's own checks pass on h2.
func TestHandoverFaults(t *testing.T) {
	l := newLab(t, "t-hand")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	g := startIn(t, h1, "memory")
	for _, point := range []string{"final-round", "final", "restored", "go"} {
		restartDaemon(t, h2, "--fault", point)
		waitAlive(t, h1, "h2")
		from := logSize(h2)
		done := inFlight(h1, g)
		if point == "go" {
			// After Go the source cannot tell whether the process runs on
			// h2 until h2's daemon answers again.
			waitLog(t, h2, from, "fault injection: crashing")
			time.Sleep(time.Second)
			if !runsIn(h1, g.pid) {
				t.Fatal("the source copy is gone before the outcome is known")
			}
			restartDaemon(t, h2)
		}
		err := waitErr(t, done)
		if err == nil {
			t.Fatalf("fault %s: migration succeeded", point)
		}
		t.Logf("fault %s: %v", point, err)
		time.Sleep(200 * time.Millisecond)
		assertRunsHere(t, h1, h2, g.pid)
	}
	restartDaemon(t, h2)
	waitAlive(t, h1, "h2")
	if _, err := migrate(h1, g.pid, "h2"); err != nil {
		t.Fatal(err)
	}
	if err := g.verifyIn(h2); err != nil {
		t.Fatal(err)
	}
}

// restartDaemon replaces h's daemon (dead or alive) with one started with
// the given flags.
func restartDaemon(t *testing.T, h interface {
	KillDaemon(unix.Signal) error
	StartDaemon(context.Context, ...string) error
}, flags ...string) {
	t.Helper()
	h.KillDaemon(unix.SIGKILL)
	time.Sleep(100 * time.Millisecond)
	if err := h.StartDaemon(context.Background(), flags...); err != nil {
		t.Fatal(err)
	}
}

// TestHandoverCommittedUnacknowledged: the destination runs the process
// and crashes before it can say so. The source does not know whether the
// process runs there: it keeps its copy frozen and asks the destination's
// daemon (restarted) until it learns that it does, then removes its copy.
// Resuming instead would leave two copies running.
func TestHandoverCommittedUnacknowledged(t *testing.T) {
	l := newLab(t, "t-ack")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	g := startIn(t, h1, "memory")
	restartDaemon(t, h2, "--fault", "committed")
	waitAlive(t, h1, "h2")
	from := logSize(h2)
	done := inFlight(h1, g)
	waitLog(t, h2, from, "fault injection: crashing")
	time.Sleep(time.Second) // the source is now in doubt
	if !runsIn(h1, g.pid) {
		t.Fatal("the source copy is gone before the outcome is known")
	}
	restartDaemon(t, h2)
	if err := waitErr(t, done); err != nil {
		t.Fatalf("migration failed although the process runs on h2: %v", err)
	}
	if !goneFrom(h1, g.pid) {
		t.Fatal("two copies: the process still exists on h1")
	}
	if err := g.verifyIn(h2); err != nil {
		t.Fatal(err)
	}
}

// TestHandoverLinkCut cuts the link at points of the handover, while the
// destination holds the migration there: as the frozen last round begins,
// once the final state arrived, and once Go arrived (the destination then
// runs the process without being able to say so). Each time the process
// ends up on exactly one host: h1 before Go, h2 after.
func TestHandoverLinkCut(t *testing.T) {
	l := newLab(t, "t-cut")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	g := startIn(t, h1, "memory")
	for _, point := range []string{"final-round", "final", "go"} {
		restartDaemon(t, h2, "--fault", "stall:"+point)
		waitAlive(t, h1, "h2")
		from := logSize(h2)
		done := inFlight(h1, g)
		waitLog(t, h2, from, "fault injection: stalling")
		if err := h2.SetLink(false); err != nil {
			t.Fatal(err)
		}
		var err error
		if point == "go" {
			// The source is in doubt until it can ask: give the link back
			// once the destination ran the process.
			time.Sleep(9 * time.Second)
			h2.SetLink(true)
			err = waitErr(t, done)
		} else {
			err = waitErr(t, done)
			h2.SetLink(true)
		}
		t.Logf("link cut at %s: %v", point, err)
		if point == "go" {
			if err != nil {
				t.Fatalf("link cut after go: %v", err)
			}
			if !goneFrom(h1, g.pid) || !runsIn(h2, g.pid) {
				t.Fatalf("link cut after go: on h1 %v, on h2 %v", runsIn(h1, g.pid), runsIn(h2, g.pid))
			}
			break
		}
		if err == nil {
			t.Fatalf("link cut at %s: migration succeeded", point)
		}
		// h2 lets go of its half-built copy when its stall ends.
		waitGone(t, h2, g.pid, 15*time.Second)
		assertRunsHere(t, h1, h2, g.pid)
	}
	if err := g.verifyIn(h2); err != nil {
		t.Fatal(err)
	}
}

// logSize is where h's daemon log ends now.
func logSize(h *lab.Host) int {
	b, _ := os.ReadFile(h.DaemonLog())
	return len(b)
}

// waitLog waits until h's daemon log contains s after offset from.
func waitLog(t *testing.T, h *lab.Host, from int, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(h.DaemonLog()); len(b) > from && strings.Contains(string(b[from:]), s) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s's daemon log never said %q", h.Name, s)
}

// waitGone fails the test unless pid leaves h within d.
func waitGone(t *testing.T, h *lab.Host, pid int, d time.Duration) {
	t.Helper()
	if !h.WaitGone(pid, d, 50*time.Millisecond) {
		t.Fatalf("pid %d still exists on %s after %v", pid, h.Name, d)
	}
}

// TestSourceDaemonCrashAtHandover: the source daemon dies just before it
// sends Go, and just after. Its process was held with a pending SIGSTOP,
// so it stops instead of running on; the restarted daemon asks h2 and
// either lets it continue (h2 never got Go) or removes it (h2 runs it).
// Without the hold, the process would resume on h1 while h2 runs it too.
func TestSourceDaemonCrashAtHandover(t *testing.T) {
	l := newLab(t, "t-srch")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	for _, point := range []string{"before-go", "after-go"} {
		g := startIn(t, h1, "memory")
		restartDaemon(t, h1, "--fault", point)
		waitAlive(t, h1, "h2")
		from := logSize(h1)
		done := inFlight(h1, g)
		waitLog(t, h1, from, "fault injection: crashing")
		err := waitErr(t, done)
		t.Logf("source daemon crashed %s: %v", point, err)
		if out, _ := execOut(t, h1, "grep", "^State", fmt.Sprintf("/proc/%d/status", g.pid)); !strings.Contains(out, "stopped") {
			t.Errorf("%s: the source process is not held stopped: %q", point, out)
		}
		restartDaemon(t, h1)
		// Before Go, h2 aborts and the process continues on h1. After
		// Go (given 300 ms to arrive), h2 runs it and h1's copy goes;
		// should Go have been lost with the crash, h2 aborts instead.
		// Either way: exactly one copy, intact.
		deadline := time.Now().Add(30 * time.Second)
		for {
			onH1, onH2 := runsIn(h1, g.pid), runsIn(h2, g.pid)
			stopped := false
			if onH1 {
				out, _ := execOut(t, h1, "grep", "^State", fmt.Sprintf("/proc/%d/status", g.pid))
				stopped = strings.Contains(out, "stopped")
			}
			if onH2 && !onH1 {
				t.Logf("%s: the process runs on h2", point)
				if point == "before-go" {
					t.Errorf("%s: h2 runs a process it never got Go for", point)
				}
				break
			}
			if onH1 && !stopped && !onH2 {
				t.Logf("%s: the process continues on h1", point)
				assertRunsHere(t, h1, h2, g.pid)
				waitAlive(t, h1, "h2")
				if _, err := migrate(h1, g.pid, "h2"); err != nil {
					t.Fatal(err)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not settled after 30 s: on h1 %v (stopped %v), on h2 %v", point, onH1, stopped, onH2)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := g.verifyIn(h2); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBuilderFailureReported fails the destination's page writer as a
// pre-copy round ends, when the source waits for that round's RoundDone:
// the destination must say so at once (the source used to wait out its
// 60 s confirmation timeout), and the process runs on as it was.
func TestBuilderFailureReported(t *testing.T) {
	l := newLab(t, "t-build")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	g := startIn(t, h1, "memory")
	restartDaemon(t, h2, "--fault", "fail:round-done")
	waitAlive(t, h1, "h2")
	start := time.Now()
	_, err := migrate(h1, g.pid, "h2")
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "fault injection: round-done failed") {
		t.Fatalf("migration with a failing destination writer: %v", err)
	}
	t.Logf("failed after %v: %v", took, err)
	// Far below the 60 s the source would wait for a RoundDone.
	if took > 20*time.Second {
		t.Errorf("the failure took %v to reach the source", took)
	}
	assertRunsHere(t, h1, h2, g.pid)
	if err := g.verifyIn(h1); err != nil {
		t.Fatal(err)
	}
}
