package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/migrate-dev/migrate/internal/workload"
	"github.com/migrate-dev/migrate/lab"
	"golang.org/x/sys/unix"
)

func newLab(t *testing.T, name string) *lab.Lab {
	t.Helper()
	testutil.RequireRoot(t)
	migrate, migrated := testutil.Binaries(t)
	l, err := lab.Up(context.Background(), lab.Config{Name: name, Hosts: 2, MigrateBin: migrate, MigratedBin: migrated})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, h := range l.Hosts() {
				t.Logf("%s daemon log (tail):\n%s", h.Name, logTail(h, 40))
			}
		}
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
		linux.ReapOrphans()
	})
	return l
}

// guest is a workload running in a lab host.
type guest struct {
	name string
	pid  int // in the hosts' PID namespaces
	out  string
}

// startIn starts a self-checking workload inside h.
func startIn(t *testing.T, h *lab.Host, name string, args ...string) *guest {
	t.Helper()
	exe, err := workload.Build(name)
	if errors.Is(err, workload.ErrNoCompiler) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	os.Chmod(filepath.Dir(dir), 0o755)
	if args == nil {
		args = workload.DefaultArgs(name, dir)
	}
	out := filepath.Join(dir, "output")
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	os.Chmod(out, 0o666)
	res, err := h.Exec(context.Background(), append([]string{exe}, args...), lab.ExecOptions{Stdout: f, Stderr: f, Detach: true, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	g := &guest{name: name, pid: res.PID, out: out}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.output(), "READY") {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not get ready: %s", name, g.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return g
}

func (g *guest) output() string {
	b, _ := os.ReadFile(g.out)
	return string(b)
}

// verifyIn asks the workload (now in h) to check itself.
func (g *guest) verifyIn(h *lab.Host) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(g.output(), "\n") {
			if strings.HasPrefix(line, "PASS") {
				return nil
			}
			if strings.HasPrefix(line, "FAIL") {
				return errors.New(g.output())
			}
		}
		if err := h.Signal(g.pid, unix.SIGUSR2); err != nil {
			return fmt.Errorf("signal %s pid %d in %s: %w", g.name, g.pid, h.Name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s gave no verdict: %s", g.name, g.output())
}

// migrate asks h's daemon to move pid to host.
func migrate(h *lab.Host, pid int, host string) (api.MigrateReport, error) {
	return migrateReq(h, api.MigrateRequest{PID: pid, Host: host})
}

// migrateReq has h's daemon carry out req, for at most 60 s.
func migrateReq(h *lab.Host, req api.MigrateRequest) (api.MigrateReport, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return api.NewClient(h.Socket()).Migrate(ctx, req, nil)
}

// runsIn reports whether pid exists in h.
func runsIn(h *lab.Host, pid int) bool { return h.Signal(pid, 0) == nil }

// goneFrom waits until pid has left h: a killed source is a zombie for the
// moment it takes h's init to reap it.
func goneFrom(h *lab.Host, pid int) bool { return h.WaitGone(pid, 2*time.Second, 20*time.Millisecond) }

// execOut runs argv in h and returns its output and exit code.
func execOut(t *testing.T, h *lab.Host, argv ...string) (string, int) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := h.Exec(context.Background(), argv, lab.ExecOptions{Stdout: f, Stderr: f})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	return string(b), res.ExitCode
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// logTail returns the last n lines of h's daemon log.
func logTail(h *lab.Host, n int) string {
	b, _ := os.ReadFile(h.DaemonLog())
	return tail(string(b), n)
}
