package workload

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const verifyTimeout = 20 * time.Second

// corruptions names, per workload, what its SIGUSR1 changes: the FAIL
// reason must mention it.
var corruptions = map[string]string{
	"benchload": "region checksum",
	"bigmem":    "region checksum",
	"churn":     "page content",
	"counter":   "count",
	"creds":     "ambient caps",
	"fds":       "(ro) offset expected 100 got 200",
	"ldt":       "ldt entry 0",
	"manyfds":   "fd 10 offset",
	"maps":      "pages checksum",
	"memory":    "region rand16m checksum",
	"misc":      "umask expected 0027 got 0077",
	"mm":        "/proc/self/cmdline",
	"regs":      "r13",
	"reserve":   "word 0",
	"signals":   "sigaction 1 (HUP) flags",
}

// needsRoot lists the workloads that only run as root.
var needsRoot = map[string]string{
	"creds": "creds workload needs root to set ids, groups and capabilities",
}

// start starts workload name with its default arguments (DefaultArgs, in
// a directory of the test's).
func start(t *testing.T, name string) *Proc {
	t.Helper()
	return startArgs(t, name, DefaultArgs(name, t.TempDir())...)
}

// startArgs starts workload name with args, skipping the test where the
// workload cannot run, and ends it when the test does.
func startArgs(t *testing.T, name string, args ...string) *Proc {
	t.Helper()
	if why, ok := needsRoot[name]; ok && os.Geteuid() != 0 {
		t.Skip(why)
	}
	if _, err := Build(name); errors.Is(err, ErrNoCompiler) || errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
	p, err := Start(context.Background(), name, args...)
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Kill(); err != nil {
			t.Error(err)
		}
		os.RemoveAll(p.Dir)
	})
	return p
}

// TestPass runs every workload without a checkpoint: a process that
// simply kept running must pass its own checks.
func TestPass(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := start(t, name)
			time.Sleep(300 * time.Millisecond) // let it settle into its wait (and the counter beat)
			if err := p.Verify(context.Background(), verifyTimeout); err != nil {
				t.Fatalf("%v\noutput:\n%s", err, p.Output())
			}
			if err := p.Wait(); err != nil {
				t.Fatalf("exit after PASS: %v", err)
			}
			if p.Cmd.ProcessState.ExitCode() != 0 {
				t.Fatalf("exit code %d after PASS", p.Cmd.ProcessState.ExitCode())
			}
		})
	}
}

// TestCorrupt proves that each workload's checks can fail: SIGUSR1 makes it
// change one checked item, and the verdict must be FAIL naming that item.
func TestCorrupt(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, ok := corruptions[name]
			if !ok {
				t.Fatalf("no corruption expectation for workload %s", name)
			}
			p := start(t, name)
			if err := p.Signal(unix.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			waitFor(t, p, "CORRUPT:")
			err := p.Verify(context.Background(), verifyTimeout)
			if !errors.Is(err, ErrFailed) {
				t.Fatalf("Verify after SIGUSR1 = %v, want ErrFailed\noutput:\n%s", err, p.Output())
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("FAIL reason %q does not mention %q", err, want)
			}
			_ = p.Wait()
			if p.Cmd.ProcessState.ExitCode() != 1 {
				t.Fatalf("exit code %d after FAIL, want 1", p.Cmd.ProcessState.ExitCode())
			}
		})
	}
}

func waitFor(t *testing.T, p *Proc, prefix string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if hasLinePrefix(p.Output(), prefix) {
			return
		}
	}
	t.Fatalf("no %q line, output:\n%s", prefix, p.Output())
}

// TestStartSetupError: a workload that cannot build its state exits before
// READY, and Start says why.
func TestStartSetupError(t *testing.T) {
	if _, err := Build("counter"); err != nil {
		t.Skip(err)
	}
	p, err := Start(context.Background(), "counter") // no file argument
	if err == nil {
		_ = p.Kill()
		t.Fatal("Start of counter without arguments succeeded")
	}
	if errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "SETUP: usage") {
		t.Fatalf("Start error %q does not carry the SETUP line", err)
	}
}

func TestNames(t *testing.T) {
	want := []string{"benchload", "bigmem", "churn", "counter", "creds", "fds", "ldt", "manyfds", "maps", "memory", "misc", "mm", "regs", "reserve", "signals"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
}

func TestBuildUnknown(t *testing.T) {
	if _, err := Build("no-such-workload"); err == nil {
		t.Fatal("Build of an unknown workload succeeded")
	}
}

func TestBuildConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	paths := make([]string, 8)
	errs := make([]error, 8)
	for i := range paths {
		wg.Go(func() { paths[i], errs[i] = Build("ldt") })
	}
	wg.Wait()
	for i := range paths {
		if errors.Is(errs[i], ErrNoCompiler) {
			t.Skip(errs[i])
		}
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("Build #%d = %q, %v; #0 = %q", i, paths[i], errs[i], paths[0])
		}
	}
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		out        string
		done, fail bool
		reason     string
	}{
		{"", false, false, ""},
		{"READY pid=1\n", false, false, ""},
		{"READY pid=1\nPASS\n", true, false, ""},
		{"READY pid=1\nFAIL: a expected 1 got 2\nFAIL: b\n", true, true, "a expected 1 got 2; b"},
		{"READY pid=1\nSETUP: x\nFAIL: c\n", true, true, "c"},
	} {
		done, err := verdict(tc.out)
		if done != tc.done || (err != nil) != tc.fail {
			t.Errorf("verdict(%q) = %v, %v", tc.out, done, err)
		}
		if err != nil && (!errors.Is(err, ErrFailed) || !strings.HasSuffix(err.Error(), tc.reason)) {
			t.Errorf("verdict(%q) error %q, want ErrFailed ending in %q", tc.out, err, tc.reason)
		}
	}
}
