// Package workload builds and runs the self-checking C programs that the
// checkpoint/restore and live-migration tests use as tracees.
//
// In a nutshell, it works as follows. Each workload (c/<name>.c plus the
// shared c/common.h, and c/fill.h or c/beat.h for page contents and
// heartbeat files) sets up one kind of process state (registers, LDT,
// credentials, mm facts, signals, misc per-process attributes, file
// descriptors, memory, a heartbeat file; benchload, the benchmark's
// workload, a heartbeat while it dirties memory), records it, prints
// "READY pid=<pid> ..." and waits, mostly blocked in a system call (pause,
// sigsuspend, nanosleep, read on a pipe; regs busy-waits so that its values
// stay in registers). A test may then checkpoint it, kill it and restore it
// with the same PID. SIGUSR2 asks the process, original or restored, to
// compare its state with the record: it prints "PASS", or one
// "FAIL: <what> expected <x> got <y>" line per mismatch, and exits. SIGUSR1
// makes it corrupt one checked item on purpose, so that tests can prove the
// checks fail when they should.
//
// All output goes to a file, never a pipe: a restored process keeps writing
// to the same path, so the protocol must survive the original process.
//
// Build compiles a workload with gcc once per process into a cache directory
// keyed by a hash of the sources; Start runs it and waits for READY; Verify
// sends SIGUSR2 and reads the verdict. The caller owns the process: a
// restored process is not a child of the test, so nothing here reaps or
// kills it unless asked (Kill).
package workload

import (
	"embed"
	"errors"
	"path/filepath"
	"slices"
	"strings"
)

//go:embed c/*.c c/*.h
var sources embed.FS

// Errors matched with errors.Is.
var (
	// ErrNoCompiler means gcc is missing; tests skip.
	ErrNoCompiler = errors.New("workload: gcc not found")
	// ErrUnsupported means the machine or the caller's privileges lack what
	// a workload needs (it printed "UNSUPPORTED:"), or the platform is not
	// linux/amd64; tests skip.
	ErrUnsupported = errors.New("workload: not supported here")
	// ErrFailed means the workload printed a FAIL verdict.
	ErrFailed = errors.New("workload: check failed")
)

// Names returns the names of all workloads, sorted.
func Names() []string {
	entries, err := sources.ReadDir("c")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".c"); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func known(name string) bool {
	return slices.Contains(Names(), name)
}

// DefaultArgs returns the arguments the package's own tests start a
// workload with. dir is a scratch directory the workload may write to (its
// files, its cwd); the counter writes dir/counter.log every 20 ms, benchload
// dir/beats every millisecond while it dirties 16 MiB at 20 MiB/s; churn
// keeps 64 slots, does 2 operations per millisecond from seed 1 and maps
// dir/churn.dat.
func DefaultArgs(name, dir string) []string {
	switch name {
	case "creds":
		return []string{"1234", "2345", "3001,3002,3003"}
	case "mm":
		return []string{"alpha", "", "beta gamma", "--delta=\u00e9"}
	case "bigmem":
		return []string{"64", "mixed"}
	case "misc", "fds", "memory", "manyfds":
		return []string{dir}
	case "counter":
		return []string{filepath.Join(dir, "counter.log"), "20"}
	case "benchload":
		return []string{"16", "mixed", "20", "spread", filepath.Join(dir, "beats")}
	case "churn":
		return []string{"64", "2", "1", dir}
	}
	return nil
}
