//go:build linux

package procfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// noSuchPid is above the kernel's PID_MAX_LIMIT (4194304).
const noSuchPid = 1 << 30

// startSleep starts "sleep 100" and kills and reaps it at cleanup. Start
// returns after the exec, so the child's /proc files describe sleep. It
// returns the pid and the symlink-free path of the binary.
func startSleep(t *testing.T) (int, string) {
	t.Helper()
	path, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary:", err)
	}
	cmd := exec.Command(path, "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	// Start returns before the child has exec'd: until then its /proc
	// files are the forked test binary's (or half set up). Wait until it
	// sleeps.
	exe := fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		got, _ := os.Readlink(exe)
		if st, err := Stat(cmd.Process.Pid); got == real && err == nil && st.State == 'S' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d did not exec %s", cmd.Process.Pid, real)
		}
	}
	return cmd.Process.Pid, real
}

// selfExe returns the resolved path of the test binary.
func selfExe(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestLiveMaps(t *testing.T) {
	ms, err := Maps(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe := selfExe(t)
	var stack, bin bool
	for _, m := range ms {
		stack = stack || (m.Path == "[stack]" && m.IsSpecial())
		bin = bin || (m.Path == exe && m.IsFile() && !m.Deleted)
	}
	if !stack || !bin {
		t.Fatalf("[stack] found %v, %s found %v in %d mappings", stack, exe, bin, len(ms))
	}
	child, sleep := startSleep(t)
	cms, err := Maps(child)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(cms, func(m Mapping) bool { return m.Path == sleep }) {
		t.Fatalf("child maps lack %s", sleep)
	}
}

func TestLiveSmaps(t *testing.T) {
	es, err := Smaps(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(es, func(e SmapsEntry) bool { return e.Path == "[stack]" })
	if i < 0 {
		t.Fatal("no [stack]")
	}
	if s := es[i]; !s.VMFlags.GrowsDown() || s.VMFlags.Shared() || s.RssKB == 0 || s.SizeKB == 0 {
		t.Fatalf("stack entry %+v", s)
	}
	for _, e := range es {
		if e.UnknownFlags != nil {
			t.Errorf("%s: unknown VmFlags %q", e.Path, e.UnknownFlags)
		}
	}
}

func TestLiveStat(t *testing.T) {
	pid := os.Getpid()
	s, err := Stat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if s.PID != int64(pid) || s.PPID != int64(os.Getppid()) || s.NumThreads < 1 {
		t.Fatalf("self stat %+v", s)
	}
	if s.StartCode == 0 || s.StartCode >= s.EndCode || s.ArgStart >= s.ArgEnd || s.EnvStart >= s.EnvEnd {
		t.Fatalf("self stat addresses %+v", s)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	ts, err := TaskStat(pid, tid)
	if err != nil || ts.PID != int64(tid) || ts.State != 'R' {
		t.Fatalf("task stat %+v, %v", ts, err)
	}
	child, _ := startSleep(t)
	cs, err := Stat(child)
	if err != nil {
		t.Fatal(err)
	}
	if cs.PID != int64(child) || cs.PPID != int64(pid) || cs.Comm != "sleep" {
		t.Fatalf("child stat %+v", cs)
	}
}

func TestLiveStatus(t *testing.T) {
	pid := os.Getpid()
	s, err := Status(pid)
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if s.Uid != [4]uint32{uid, uid, uid, uid} || s.Gid != [4]uint32{gid, gid, gid, gid} {
		t.Fatalf("uid %v gid %v, want %d %d", s.Uid, s.Gid, uid, gid)
	}
	if s.Pid != pid || s.Tgid != pid || s.PPid != os.Getppid() || s.Threads < 1 || len(s.NSpid) == 0 {
		t.Fatalf("self status %+v", s)
	}
	child, _ := startSleep(t)
	cs, err := TaskStatus(child, child)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Name != "sleep" || cs.PPid != pid || cs.Threads != 1 {
		t.Fatalf("child status %+v", cs)
	}
}

func TestLiveLimits(t *testing.T) {
	rl, err := Limits(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range []int{unix.RLIMIT_NOFILE, unix.RLIMIT_STACK, unix.RLIMIT_CORE} {
		var want unix.Rlimit
		if err := unix.Getrlimit(res, &want); err != nil {
			t.Fatal(err)
		}
		if got := rl[res]; got.Cur != want.Cur || got.Max != want.Max {
			t.Errorf("limit %d = %+v, want %+v", res, got, want)
		}
	}
}

func TestLiveAuxv(t *testing.T) {
	child, _ := startSleep(t)
	for _, pid := range []int{os.Getpid(), child} {
		es, err := Auxv(pid)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := LookupAuxv(es, AtPagesz); !ok || v != 4096 {
			t.Errorf("pid %d: AT_PAGESZ = %d, %v", pid, v, ok)
		}
	}
}

func TestLiveMisc(t *testing.T) {
	child, sleep := startSleep(t)
	if b, err := Cmdline(child); err != nil || !strings.HasSuffix(string(b), "sleep\x00100\x00") {
		t.Errorf("cmdline %q, %v", b, err)
	}
	if b, err := Environ(os.Getpid()); err != nil || len(b) == 0 {
		t.Errorf("environ %d bytes, %v", len(b), err)
	}
	if c, err := Comm(child); err != nil || c != "sleep" {
		t.Errorf("comm %q, %v", c, err)
	}
	if c, err := TaskComm(child, child); err != nil || c != "sleep" {
		t.Errorf("task comm %q, %v", c, err)
	}
	if e, err := Exe(child); err != nil || e != sleep {
		t.Errorf("exe %q, %v, want %s", e, err, sleep)
	}
	wd, err := os.Getwd()
	if err == nil {
		wd, err = filepath.EvalSymlinks(wd)
	}
	if err != nil {
		t.Fatal(err)
	}
	if c, err := Cwd(os.Getpid()); err != nil || c != wd {
		t.Errorf("cwd %q, %v, want %s", c, err, wd)
	}
	if r, err := Root(child); err != nil || r != "/" {
		t.Errorf("root %q, %v", r, err)
	}
	if p, err := Personality(child); err != nil || p != 0 {
		t.Errorf("personality %#x, %v", p, err)
	}
	if s, err := TimerSlack(child); err != nil || s == 0 {
		t.Errorf("timer slack %d, %v", s, err)
	}
}

func TestLiveTasks(t *testing.T) {
	pid := os.Getpid()
	tids, err := Tasks(pid)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tids, pid) || !slices.IsSorted(tids) {
		t.Fatalf("tasks %v lack %d or are unsorted", tids, pid)
	}
	child, _ := startSleep(t)
	if tids, err := Tasks(child); err != nil || !slices.Equal(tids, []int{child}) {
		t.Fatalf("child tasks %v, %v", tids, err)
	}
}

func TestLiveNoSuchPid(t *testing.T) {
	if _, err := Maps(noSuchPid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Maps: %v", err)
	}
	if _, err := Stat(noSuchPid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat: %v", err)
	}
	if _, err := FDs(noSuchPid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("FDs: %v", err)
	}
	if _, err := Exe(noSuchPid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Exe: %v", err)
	}
	if _, err := PresentRuns(noSuchPid, 0, 4096); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("PresentRuns: %v", err)
	}
}
