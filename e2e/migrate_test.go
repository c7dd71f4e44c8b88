package e2e

import (
	"strconv"
	"strings"
	"testing"

	"github.com/migrate-dev/migrate/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestMigrateWorkloads moves each self-checking workload from h1 to h2
// while it runs; there it reports PASS, with the same PID.
func TestMigrateWorkloads(t *testing.T) {
	l := newLab(t, "t-mig")
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"regs", nil}, {"ldt", nil}, {"creds", nil}, {"mm", nil}, {"signals", nil},
		{"misc", nil}, {"fds", []string{"", "nopipe"}}, {"memory", nil}, {"counter", nil}, {"maps", nil}, {"manyfds", nil}, {"reserve", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args != nil {
				args[0] = t.TempDir()
			}
			g := startIn(t, h1, tc.name, args...)
			rep, err := migrate(h1, g.pid, "h2")
			if err != nil {
				t.Fatalf("migrate: %v\n%s", err, g.output())
			}
			t.Logf("%s: %d rounds, %d pages, frozen %.1f ms (%v; restore %v), total %.0f ms (%s)", tc.name, rep.Rounds, rep.PagesSent, rep.FrozenMS, rep.Freeze, rep.RestoreSteps, rep.TotalMS, rep.Tracker)
			if !goneFrom(h1, g.pid) {
				t.Errorf("pid %d still exists on h1", g.pid)
			}
			if !runsIn(h2, g.pid) {
				t.Fatalf("pid %d does not run on h2", g.pid)
			}
			if err := g.verifyIn(h2); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMigrateBadInput: each bad request is a clear error and changes
// nothing.
func TestMigrateBadInput(t *testing.T) {
	l := newLab(t, "t-bad")
	h1, _ := l.Host("h1")
	g := startIn(t, h1, "counter")
	for _, tc := range []struct {
		pid        int
		host, want string
	}{
		{g.pid, "h9", `unknown host "h9"`},
		{g.pid, "h1", "is this node"},
		{999999, "h2", "no such process"},
	} {
		_, err := migrate(h1, tc.pid, tc.host)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("migrate %d %s: %v, want %q", tc.pid, tc.host, err, tc.want)
		}
	}
	// Another user may not move root's process.
	migrateBin, _ := testutil.Binaries(t)
	out, code := execOut(t, h1, "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
		migrateBin, strconv.Itoa(g.pid), "h2")
	if code == 0 || !strings.Contains(out, "belongs to another user") {
		t.Errorf("migrate as uid 65534: exit %d: %s", code, out)
	}
	// A host whose daemon is gone (the cluster may not know it yet).
	h2, _ := l.Host("h2")
	if err := h2.KillDaemon(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(h1, g.pid, "h2"); err == nil {
		t.Error("migration to a host without a daemon succeeded")
	} else if !strings.Contains(err.Error(), "h2") {
		t.Errorf("host without a daemon: %v does not name the host", err)
	} else {
		t.Logf("host without a daemon: %v", err)
	}
	if err := g.verifyIn(h1); err != nil {
		t.Fatalf("after the refused migrations: %v", err)
	}
}
