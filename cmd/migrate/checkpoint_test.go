package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/self"
	"github.com/migrate-dev/migrate/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		linux.BecomeSubreaper()
	}
	self.CloexecInherited()
	code := m.Run()
	testutil.Cleanup()
	os.Exit(code)
}

// TestCheckpointRestoreCLI runs the commands as a user would.
func TestCheckpointRestoreCLI(t *testing.T) {
	testutil.RequireRoot(t)
	migrate, _ := testutil.Binaries(t)
	sleep := exec.Command("sleep", "1000")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	pid := sleep.Process.Pid
	defer func() { unix.Kill(pid, unix.SIGKILL); linux.ReapOrphans() }()
	time.Sleep(50 * time.Millisecond)
	dir := filepath.Join(t.TempDir(), "img")
	out, err := exec.Command(migrate, "checkpoint", fmt.Sprint(pid), dir, "--kill").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pages stored") || !strings.Contains(string(out), "frozen") {
		t.Fatalf("checkpoint: %v: %s", err, out)
	}
	sleep.Wait()
	out, err = exec.Command(migrate, "restore", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("restored pid %d", pid)) {
		t.Fatalf("restore: %v: %s", err, out)
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(comm) != "sleep\n" {
		t.Fatalf("pid %d after restore is %q", pid, comm)
	}
	// Restoring again: the PID is taken.
	out, err = exec.Command(migrate, "restore", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), fmt.Sprintf("pid %d is in use", pid)) {
		t.Errorf("second restore: %v: %s", err, out)
	}
	for _, args := range [][]string{
		{"checkpoint", "999999999", filepath.Join(t.TempDir(), "x")},
		{"checkpoint", "abc", "x"},
		{"restore", filepath.Join(t.TempDir(), "nothing")},
	} {
		out, err := exec.Command(migrate, args...).CombinedOutput()
		if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") > 1 {
			t.Errorf("migrate %v: %v: %q, want a short error", args, err, out)
		}
	}
}
