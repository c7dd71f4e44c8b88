package restorer_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/migrate-dev/migrate/restorer"
	"golang.org/x/sys/unix"
)

// checkpointKill checkpoints a child of the test with --kill semantics and
// reaps it, so that its PID is free for the restore.
func checkpointKill(t *testing.T, cmd *exec.Cmd, dir string) dumper.Stats {
	t.Helper()
	st, err := dumper.Checkpoint(context.Background(), cmd.Process.Pid, dir, dumper.Options{Kill: true})
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("checkpoint: %v", err)
	}
	cmd.Wait()
	return st
}

// restored restores dir and arranges for the process to be killed and
// reaped (it is our child) at the end of the test.
func restored(t *testing.T, dir string) restorer.Result {
	t.Helper()
	res, err := restorer.Restore(context.Background(), dir)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	t.Cleanup(func() {
		unix.Kill(res.PID, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(res.PID, &ws, 0, nil)
	})
	return res
}

func maps(t *testing.T, pid int) string {
	b, err := os.ReadFile("/proc/" + itoa(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func itoa(n int) string {
	return strings.TrimSpace(strings.ReplaceAll(string(rune('0'+0)), "0", "")) + fmtInt(n)
}

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestSleep(t *testing.T) {
	testutil.RequireRoot(t)
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	time.Sleep(100 * time.Millisecond)
	before := maps(t, pid)
	dir := filepath.Join(t.TempDir(), "img")
	checkpointKill(t, cmd, dir)
	res := restored(t, dir)
	if res.PID != pid {
		t.Fatalf("restored pid %d, want %d", res.PID, pid)
	}
	time.Sleep(100 * time.Millisecond)
	stat, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stat), "(sleep) S") {
		t.Errorf("restored sleep: %s", stat)
	}
	if after := maps(t, pid); after != before {
		t.Errorf("maps differ:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	t.Logf("restore: %+v", res)
}
