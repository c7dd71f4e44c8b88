package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
)

// cflags are the compiler flags; part of the cache key. No -static: the
// restorer must handle shared libraries.
var cflags = []string{"-O1", "-g", "-Wall", "-Werror"}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}

	cacheOnce sync.Once
	cacheDir  string
	cacheErr  error
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Build compiles the named workload, once per process, and returns the
// path of its binary. Binaries are cached across processes in
// os.TempDir()/migrate-workloads-<euid>-<hash of sources and flags>. Safe for
// concurrent callers. It fails with ErrNoCompiler when gcc is missing.
func Build(name string) (string, error) {
	if !known(name) {
		return "", fmt.Errorf("workload %q: no such workload (have %v)", name, Names())
	}
	buildsMu.Lock()
	b := builds[name]
	if b == nil {
		b = &build{}
		builds[name] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.path, b.err = compile(name) })
	return b.path, b.err
}

func compile(name string) (string, error) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return "", fmt.Errorf("%w: workloads need linux/amd64", ErrUnsupported)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoCompiler, err)
	}
	cacheOnce.Do(func() { cacheDir, cacheErr = makeCacheDir() })
	if cacheErr != nil {
		return "", cacheErr
	}
	out := filepath.Join(cacheDir, name)
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() {
		return out, nil // built by this or an earlier process: renames are atomic
	}
	tmp, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return "", fmt.Errorf("workload build dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.CopyFS(tmp, sources); err != nil {
		return "", fmt.Errorf("writing workload sources: %w", err)
	}
	args := append(append([]string{}, cflags...), "-o", filepath.Join(tmp, name), name+".c")
	cmd := exec.Command(gcc, args...)
	cmd.Dir = filepath.Join(tmp, "c")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc %s.c: %w\n%s", name, err, msg)
	}
	if err := os.Rename(filepath.Join(tmp, name), out); err != nil {
		return "", fmt.Errorf("installing workload %s: %w", name, err)
	}
	return out, nil
}

// makeCacheDir returns the shared cache directory for the current sources,
// or a private one when the shared one is not a plain directory owned by
// us (someone else could have planted binaries there).
func makeCacheDir() (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, cflags)
	err := fs.WalkDir(sources, "c", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := sources.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", path.Base(p), len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing workload sources: %w", err)
	}
	// One directory per user: a root-owned one is no use to other users.
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("migrate-workloads-%d-%s",
		os.Geteuid(), hex.EncodeToString(h.Sum(nil))[:16]))
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("workload cache: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err == nil && fi.IsDir() && fi.Mode().Perm()&0o022 == 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == os.Geteuid() {
			return dir, nil
		}
	}
	dir, err = os.MkdirTemp("", "migrate-workloads-private-")
	if err != nil {
		return "", fmt.Errorf("workload cache: %w", err)
	}
	return dir, nil
}
