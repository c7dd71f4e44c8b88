package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/migrate-dev/migrate/internal/workload"
	"github.com/migrate-dev/migrate/lab"
	"golang.org/x/sys/unix"
)

// harness holds what every run of a benchmark uses.
type harness struct {
	opt       Options
	h1, h2    *lab.Host
	d1, d2    daemonProc
	self      string // this binary, for the subcommands run in hosts
	benchload string
	tmp       string // scratch, shared with the hosts (same filesystem)
	limit     float64
	quicIDs   string // identities for bare QUIC runs, made on first use
	// wireMiB is the wire size of each point's last migration: the size
	// of its next paired bare runs.
	wireMiB map[Point]int
	runs    int    // runs started, for scratch names
	pinned  string // the CPU sets of --pin, "" without it
}

// Bench runs the benchmark and returns what it measured, also when it stops
// early on an error or ctx.
func Bench(ctx context.Context, opt Options) (*Results, error) {
	if opt.Log == nil {
		opt.Log = func(string, ...any) {}
	}
	res := newResults(opt)
	h := &harness{opt: opt}
	cleanup, err := h.setup(ctx)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	res.Machine.Pinned = h.pinned
	if opt.LimitMiB > 0 {
		res.Limit = h.measureLimit(ctx)
		h.limit = res.limitGiBps()
	}
	opt.Log("== each run: benchload in h1, pre-touch of its size in h1 and h2 (benchload --touch), settle %v, migrate to h2", opt.Settle)
	for i, p := range opt.Points {
		if ctx.Err() != nil {
			break
		}
		opt.Log("== point %d/%d: %s", i+1, len(opt.Points), p)
		res.Points = append(res.Points, h.runPoint(ctx, p))
	}
	if ctx.Err() == nil && opt.CRIU != "-" {
		res.CRIU = h.runCRIU(ctx, res.Points)
	}
	res.finish()
	printTable(os.Stdout, res)
	return res, ctx.Err()
}

// setup builds what is needed and brings the lab up. The returned function
// undoes it; it is never nil.
func (h *harness) setup(ctx context.Context) (func(), error) {
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	tmp, err := os.MkdirTemp("", "migrate-bench-")
	if err != nil {
		return cleanup, err
	}
	undo = append(undo, func() { os.RemoveAll(tmp) })
	os.Chmod(tmp, 0o755)
	h.tmp = tmp
	if h.self, err = os.Executable(); err != nil {
		return cleanup, err
	}
	migrate, migrated, err := binaries(ctx, h.opt.BinDir, filepath.Join(tmp, "bin"), h.opt.Log)
	if err != nil {
		return cleanup, err
	}
	if h.benchload, err = workload.Build("benchload"); err != nil {
		return cleanup, err
	}
	h.opt.Log("== lab %s up: hosts h1 and h2, each with its own migrated", h.opt.LabName)
	l, err := lab.Up(ctx, lab.Config{Name: h.opt.LabName, Hosts: 2, MigrateBin: migrate, MigratedBin: migrated})
	if err != nil {
		return cleanup, err
	}
	undo = append(undo, func() {
		h.opt.Log("== lab %s down", h.opt.LabName)
		if err := l.Down(); err != nil {
			h.opt.Log("lab down: %v", err)
		}
	})
	h.h1, _ = l.Host("h1")
	h.h2, _ = l.Host("h2")
	if h.opt.Pin {
		sets, err := h.pinHosts(ctx)
		if err != nil {
			return cleanup, err
		}
		h.pinned = sets
		h.opt.Log("== pinned: %s", sets)
		return cleanup, nil // pinHosts restarted the daemons and found them
	}
	return cleanup, h.findDaemons()
}

// binaries returns migrate and migrated: from binDir when given, else
// built into out from the module this command runs in.
func binaries(ctx context.Context, binDir, out string, log func(string, ...any)) (string, string, error) {
	if binDir != "" {
		m, d := filepath.Join(binDir, "migrate"), filepath.Join(binDir, "migrated")
		for _, p := range []string{m, d} {
			if _, err := os.Stat(p); err != nil {
				return "", "", fmt.Errorf("--bin: %w", err)
			}
		}
		return m, d, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	log("== go build -o %s/ ./cmd/migrate ./cmd/migrated", out)
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", out+"/", "./cmd/migrate", "./cmd/migrated")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build: %w\n%s", err, msg)
	}
	return filepath.Join(out, "migrate"), filepath.Join(out, "migrated"), nil
}

// moduleRoot finds the directory of this project's go.mod above the
// working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/migrate-dev/migrate\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run bench inside the migrate module (or give --bin DIR)")
		}
		dir = parent
	}
}

// scratch returns a new directory for one run, writable by the workload.
func (h *harness) scratch(kind string) (string, error) {
	h.runs++
	dir := filepath.Join(h.tmp, fmt.Sprintf("%s-%d", kind, h.runs))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// start runs argv detached in host with its output in dir/output and
// waits until the output has a line starting with ready.
func start(ctx context.Context, host *lab.Host, dir string, argv []string, ready string, timeout time.Duration) (int, error) {
	out := filepath.Join(dir, "output")
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	res, err := host.Exec(ctx, argv, lab.ExecOptions{Stdout: f, Stderr: f, Detach: true, Dir: dir})
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(out)
		if line, ok := firstLine(b, ready, "SETUP:", "UNSUPPORTED:"); ok {
			if strings.HasPrefix(line, ready) {
				return res.PID, nil
			}
			return res.PID, fmt.Errorf("%s: %s", filepath.Base(argv[0]), line)
		}
		if host.Signal(res.PID, 0) != nil {
			return res.PID, fmt.Errorf("%s exited in %s: %s", filepath.Base(argv[0]), host.Name, bytes.TrimSpace(b))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return res.PID, fmt.Errorf("%s not %s after %v: %s", filepath.Base(argv[0]), ready, timeout, bytes.TrimSpace(b))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// firstLine returns the first line of out that starts with one of the
// prefixes.
func firstLine(out []byte, prefixes ...string) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		for _, p := range prefixes {
			if strings.HasPrefix(sc.Text(), p) {
				return sc.Text(), true
			}
		}
	}
	return "", false
}

// stop ends pid wherever it runs in the lab: the workload, which moves.
func (h *harness) stop(pid int) {
	stopIn(h.h2, pid)
	stopIn(h.h1, pid)
}

// stopIn ends pid in host (SIGTERM, then SIGKILL) and waits until it is
// gone: a PID the harness started, never another.
func stopIn(host *lab.Host, pid int) {
	if host.Signal(pid, 0) != nil {
		return
	}
	host.Signal(pid, unix.SIGTERM)
	if !host.WaitGone(pid, 3*time.Second, 10*time.Millisecond) {
		host.Signal(pid, unix.SIGKILL)
		host.WaitGone(pid, 3*time.Second, 10*time.Millisecond)
	}
}
