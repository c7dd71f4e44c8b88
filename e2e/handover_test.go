package e2e

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHandoverFaults crashes the destination daemon at each step of the
// handover (final state received; process rebuilt, before Ready; Go
// received, before it runs). Each time the process ends up running on
// exactly one host, the source, as it was; then a migration succeeds and
// the workload's own checks pass on h2.
func TestHandoverFaults(t *testing.T) {
	l := newLab(t, "t-hand")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	g := startIn(t, h1, "memory")
	for _, point := range []string{"final", "restored", "go"} {
		restartDaemon(t, h2, "--fault", point)
		waitAlive(t, h1, "h2")
		_, err := migrate(h1, g.pid, "h2")
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
