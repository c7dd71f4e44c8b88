package e2e

import (
	"strings"
	"testing"
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
		{"misc", nil}, {"fds", []string{"", "nopipe"}}, {"memory", nil}, {"counter", nil},
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
			t.Logf("%s: %d rounds, %d pages, frozen %.1f ms, total %.0f ms (%s)", tc.name, rep.Rounds, rep.PagesSent, rep.FrozenMS, rep.TotalMS, rep.Tracker)
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
	if err := g.verifyIn(h1); err != nil {
		t.Fatalf("after the refused migrations: %v", err)
	}
}
