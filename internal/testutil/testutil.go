// Package testutil holds helpers shared by the project's tests: privilege
// and kernel gates, building the project's commands once per test binary,
// and reaping orphans on machines whose PID 1 does not.
package testutil

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/internal/self"
)

// RequireRoot skips the test unless it runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root (namespaces, ptrace of other processes)")
	}
}

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = parent
	}
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries builds cmd/migrate and cmd/migrated once per test binary and
// returns their paths. Call Cleanup from TestMain to remove them.
func Binaries(tb testing.TB) (migrate, migrated string) {
	tb.Helper()
	buildOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		binDir, buildErr = os.MkdirTemp("", "migrate-test-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "./cmd/migrate", "./cmd/migrated")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return filepath.Join(binDir, "migrate"), filepath.Join(binDir, "migrated")
}

// Cleanup removes what Binaries built.
func Cleanup() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// Run runs a command and returns its combined output and error, with the
// output in the error message.
func Run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Python3 returns the path of the python3 interpreter itself (not a
// wrapper such as a pyenv shim, which runs as a shell script with child
// processes for a while), or skips the test when there is none.
func Python3(tb testing.TB) string {
	tb.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		tb.Skip("python3 not installed")
	}
	out, err := exec.Command(py, "-c", "import sys; print(sys.executable)").Output()
	if exe := strings.TrimSpace(string(out)); err == nil && exe != "" {
		return exe
	}
	return py
}

// ReadLine reads one line (without its newline) from a helper process's
// output, failing the test when it ends or says nothing within timeout.
func ReadLine(tb testing.TB, r *bufio.Reader, pid int, timeout time.Duration) string {
	tb.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := r.ReadString('\n')
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			tb.Fatalf("reading from helper pid %d: %v", pid, r.err)
		}
		return strings.TrimSuffix(r.s, "\n")
	case <-time.After(timeout):
		tb.Fatalf("helper pid %d did not answer in %v", pid, timeout)
		return ""
	}
}

// CPUTime is the CPU time, user and system, this process used so far.
func CPUTime(tb testing.TB) time.Duration {
	d, err := self.CPUTime()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// ReportCPU reports CPU seconds per GiB moved, which is also the number of
// cores a stage needs to sustain 1 GiB/s.
func ReportCPU(b *testing.B, cpu time.Duration, bytes int64) {
	if bytes > 0 {
		b.ReportMetric(cpu.Seconds()/(float64(bytes)/(1<<30)), "cpu-s/GiB")
	}
}
