package restorer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/migrate-dev/migrate/internal/workload"
	"github.com/migrate-dev/migrate/restorer"
)

func startWorkload(t *testing.T, name string, args ...string) *workload.Proc {
	return testutil.StartWorkload(t, name, args...)
}

// cycle checkpoints p (killing it), restores it and checks the PID.
func cycle(t *testing.T, p *workload.Proc) restorer.Result {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "img")
	st, err := dumper.Checkpoint(context.Background(), p.PID, dir, dumper.Options{Kill: true})
	if err != nil {
		t.Fatalf("checkpoint %s: %v\n%s", p.Name, err, p.Output())
	}
	if err := p.Wait(); err == nil {
		t.Fatalf("%s exited normally after checkpoint --kill", p.Name)
	}
	res, err := restorer.Restore(context.Background(), dir)
	if err != nil {
		t.Fatalf("restore %s: %v", p.Name, err)
	}
	if res.PID != p.PID {
		t.Fatalf("restored pid %d, want %d", res.PID, p.PID)
	}
	t.Logf("%s: checkpoint %d data + %d zero pages, frozen %v; restore %v (%v), %d pages by UFFDIO_COPY",
		p.Name, st.DataPages, st.ZeroPages, st.Frozen.Round(time.Microsecond), res.Duration.Round(time.Microsecond), res.Restart, res.FilledPages)
	return res
}

func TestWorkloads(t *testing.T) {
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
				args[0] = workload.DefaultArgs(tc.name, t.TempDir())[0]
			}
			p := startWorkload(t, tc.name, args...)
			if tc.name == "creds" {
				// The restore reopens its output as the workload's own
				// user (a root-only file is refused: TestForeignFileRefused).
				os.Chmod(p.Dir, 0o755)
				os.Chmod(p.OutPath, 0o666)
			}
			res := cycle(t, p)
			// memory's large anonymous regions take their pages by
			// UFFDIO_COPY; its Verify then checks every page.
			if tc.name == "memory" && (res.FilledPages == 0 || res.FilledPages > res.DataPages) {
				t.Errorf("memory: %d of %d data pages filled by UFFDIO_COPY, want some", res.FilledPages, res.DataPages)
			}
			if err := p.Verify(context.Background(), 10*time.Second); err != nil {
				t.Fatalf("after restore: %v\n%s", err, p.Output())
			}
		})
	}
}
