package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/lab"
	"golang.org/x/sys/unix"
)

// inFlight starts a migration of g from h1 to h2 and returns its result
// channel.
func inFlight(h1 *lab.Host, g *guest) <-chan error {
	done := make(chan error, 1)
	go func() { _, err := migrate(h1, g.pid, "h2"); done <- err }()
	return done
}

func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(45 * time.Second):
		t.Fatal("migration neither finished nor failed in 45s")
		return nil
	}
}

// assertRunsHere checks that the process runs on h (not stopped, not
// traced) and not on other.
func assertRunsHere(t *testing.T, h, other *lab.Host, pid int) {
	t.Helper()
	if !goneFrom(other, pid) {
		t.Errorf("pid %d exists on %s too", pid, other.Name)
	}
	out, code := execOut(t, h, "grep", "-E", "^(State|TracerPid)", fmt.Sprintf("/proc/%d/status", pid))
	if code != 0 || strings.Contains(out, "(stopped)") || strings.Contains(out, "tracing stop") || !strings.Contains(out, "TracerPid:\t0") {
		t.Errorf("pid %d on %s: %q", pid, h.Name, out)
	}
}

// killDaemonInFlight starts a migration of g from h1 to h2, kills the
// daemon of victim (SIGKILL) 300 ms into it and fails the test unless the
// migration fails; what names the victim in the messages.
func killDaemonInFlight(t *testing.T, h1 *lab.Host, g *guest, victim *lab.Host, what string) {
	t.Helper()
	done := inFlight(h1, g)
	time.Sleep(300 * time.Millisecond)
	if err := victim.KillDaemon(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, done); err == nil {
		t.Fatalf("migration succeeded with its %s killed", what)
	} else {
		t.Logf("%s killed: %v", what, err)
	}
}

func waitAlive(t *testing.T, from *lab.Host, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ns, err := from.Client().Nodes(context.Background())
		if err == nil {
			for _, n := range ns {
				if n.Name == name && n.State == "alive" {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s does not see %s alive", from.Name, name)
}

// TestFaultsDuringPrecopy: the destination daemon is killed, or the link
// is cut, while pages are being copied: the migration fails, the process
// runs on h1 as before, and a later migration moves it intact.
func TestFaultsDuringPrecopy(t *testing.T) {
	l := newLab(t, "t-fault")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	g := startIn(t, h1, "bigmem", "384", "random")

	// The destination daemon dies.
	killDaemonInFlight(t, h1, g, h2, "destination")
	assertRunsHere(t, h1, h2, g.pid)
	if err := h2.StartDaemon(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitAlive(t, h1, "h2")

	// The link is cut.
	done := inFlight(h1, g)
	time.Sleep(300 * time.Millisecond)
	if err := h2.SetLink(false); err != nil {
		t.Fatal(err)
	}
	err := waitErr(t, done)
	h2.SetLink(true)
	if err == nil {
		t.Fatal("migration succeeded over a cut link")
	}
	t.Logf("link cut: %v", err)
	assertRunsHere(t, h1, h2, g.pid)
	waitAlive(t, h1, "h2")

	// Nothing was lost: the process moves and its memory checks out.
	if _, err := migrate(h1, g.pid, "h2"); err != nil {
		t.Fatal(err)
	}
	if err := g.verifyIn(h2); err != nil {
		t.Fatal(err)
	}
}

// TestProcessExitsDuringPrecopy ends the migration with a clear message.
func TestProcessExitsDuringPrecopy(t *testing.T) {
	l := newLab(t, "t-exit")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	g := startIn(t, h1, "bigmem", "384", "random")
	done := inFlight(h1, g)
	time.Sleep(300 * time.Millisecond)
	h1.Signal(g.pid, unix.SIGKILL)
	err := waitErr(t, done)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d exited during the migration", g.pid)) {
		t.Fatalf("got %v", err)
	}
	// The copy being built on h2 never ran; it is removed once h2 reads
	// the source's error.
	if !goneFrom(h2, g.pid) {
		t.Error("a copy stays on h2")
	}
}

// TestSourceDaemonKilledDuringPrecopy: the source's daemon dies while
// pages are copied. Its tracer thread dies with it, so the kernel detaches
// the process, and closing the daemon's userfaultfd drops the dirty
// tracking: the process runs on h1 as before, untraced, its memory intact;
// h2 removes the copy it was building.
func TestSourceDaemonKilledDuringPrecopy(t *testing.T) {
	l := newLab(t, "t-srck")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	g := startIn(t, h1, "bigmem", "384", "random")
	killDaemonInFlight(t, h1, g, h1, "source daemon")
	waitGone(t, h2, g.pid, 15*time.Second)
	assertRunsHere(t, h1, h2, g.pid)
	if err := h1.StartDaemon(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitAlive(t, h1, "h2")
	if _, err := migrate(h1, g.pid, "h2"); err != nil {
		t.Fatal(err)
	}
	if err := g.verifyIn(h2); err != nil {
		t.Fatal(err)
	}
}
