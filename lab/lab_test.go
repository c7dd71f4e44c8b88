package lab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/migrate-dev/migrate/lab"
	"golang.org/x/sys/unix"
)

// newLab brings up a lab for one test and takes it down afterwards.
func newLab(t *testing.T, name string, hosts int) *lab.Lab {
	t.Helper()
	testutil.RequireRoot(t)
	migrate, migrated := testutil.Binaries(t)
	cfg := lab.Config{Name: name, Hosts: hosts, MigrateBin: migrate, MigratedBin: migrated}
	l, err := lab.Up(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	return l
}

// execOut runs argv in host h and returns its stdout and exit code.
func execOut(t *testing.T, h *lab.Host, env []string, argv ...string) (string, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { buf.ReadFrom(r); close(done) }()
	opt := lab.ExecOptions{Stdout: w, Stderr: w}
	if env != nil {
		opt.Env = append(os.Environ(), env...)
	}
	res, err := h.Exec(context.Background(), argv, opt)
	w.Close()
	<-done
	if err != nil {
		t.Fatalf("exec %v in %s: %v", argv, h.Name, err)
	}
	return buf.String(), res.ExitCode
}

// nodesIn runs `migrate nodes --json` inside h.
func nodesIn(t *testing.T, h *lab.Host) map[string]string {
	t.Helper()
	migrate, _ := testutil.Binaries(t)
	out, code := execOut(t, h, nil, migrate, "nodes", "--json")
	if code != 0 {
		t.Fatalf("migrate nodes in %s: exit %d: %s", h.Name, code, out)
	}
	var ns []api.Node
	if err := json.Unmarshal([]byte(out), &ns); err != nil {
		t.Fatalf("migrate nodes --json in %s: %v: %s", h.Name, err, out)
	}
	st := make(map[string]string)
	for _, n := range ns {
		if n.Address == "" {
			t.Errorf("node %s has no address", n.Name)
		}
		st[n.Name] = n.State
	}
	return st
}

func waitNodes(t *testing.T, h *lab.Host, want map[string]string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := nodesIn(t, h)
		if equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sees %v after %v, want %v", h.Name, got, within, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestClusterInLab(t *testing.T) {
	t.Parallel()
	l := newLab(t, "t-cluster", 3)
	hs := l.Hosts()
	all := map[string]string{"h1": "alive", "h2": "alive", "h3": "alive"}
	for _, h := range hs {
		waitNodes(t, h, all, 5*time.Second)
	}

	// A crashed daemon is declared dead by the others, then rejoins.
	if err := hs[1].KillDaemon(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	failed := map[string]string{"h1": "alive", "h2": "dead", "h3": "alive"}
	waitNodes(t, hs[0], failed, 40*time.Second)
	waitNodes(t, hs[2], failed, 5*time.Second)
	t.Logf("h2 declared dead %v after SIGKILL", time.Since(start).Round(100*time.Millisecond))
	if err := hs[1].StartDaemon(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		waitNodes(t, h, all, 15*time.Second)
	}

	// A daemon with another gossip key is refused and never listed.
	_, migrated := testutil.Binaries(t)
	key := filepath.Join(t.TempDir(), "other.key")
	os.WriteFile(key, []byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"), 0o600)
	out, code := execOut(t, hs[2], nil, migrated, "--name", "intruder", "--bind", "198.18.0.3:8946", "--quic-addr", "198.18.0.3:8947",
		"--state-dir", t.TempDir(), "--socket", filepath.Join(t.TempDir(), "s.sock"),
		"--key-file", key, "--join", "198.18.0.1:7946")
	if code == 0 || !strings.Contains(out, "join 198.18.0.1:7946") {
		t.Fatalf("daemon with a wrong key: exit %d: %s", code, out)
	}
	if got := nodesIn(t, hs[0]); !equal(got, all) {
		t.Fatalf("after the intruder, h1 sees %v", got)
	}
}

func TestExecIsolation(t *testing.T) {
	t.Parallel()
	l := newLab(t, "t-exec", 2)
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	migrate, _ := testutil.Binaries(t)

	// A long-running command in h1, through the CLI.
	cmd := exec.Command(migrate, "lab", "exec", "--name", "t-exec", "h1", "--", "sh", "-c", "echo $$; exec sleep 1000")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make([]byte, 32)
	n, _ := stdout.Read(line)
	pid, err := strconv.Atoi(strings.TrimSpace(string(line[:n])))
	if err != nil {
		t.Fatalf("pid line %q: %v", line[:n], err)
	}
	if pid > 100 {
		t.Errorf("sleep has PID %d in h1, want a small PID of a fresh namespace", pid)
	}
	var out string
	for i := 0; i < 50 && strings.TrimSpace(out) != "sleep"; i++ { // until sh has exec'd
		out, _ = execOut(t, h1, nil, "cat", "/proc/"+strconv.Itoa(pid)+"/comm")
		time.Sleep(20 * time.Millisecond)
	}
	if strings.TrimSpace(out) != "sleep" {
		t.Errorf("h1 /proc/%d/comm = %q, want sleep", pid, out)
	}
	out, _ = execOut(t, h2, nil, "sh", "-c", "cat /proc/[0-9]*/comm")
	if strings.Contains(out, "sleep") {
		t.Errorf("h2 sees h1's sleep: %q", out)
	}

	// h1 reaches h2's daemon over the lab network, and nothing else.
	self, _ := os.Executable()
	if out, code := execOut(t, h1, []string{"LABTEST_DIAL=" + h2.GossipAddr()}, self); code != 0 {
		t.Errorf("h1 cannot reach h2's daemon at %s: %s", h2.GossipAddr(), out)
	}
	for _, addr := range outsideAddrs(t) {
		out, code := execOut(t, h1, []string{"LABTEST_DIAL=" + addr}, self)
		if code != 3 || !strings.Contains(out, "unreachable") {
			t.Errorf("h1 dial %s: exit %d %q, want network unreachable", addr, code, out)
		}
	}

	// Stdio, exit status and bad input through the CLI.
	res, err := exec.Command(migrate, "lab", "exec", "--name", "t-exec", "h2", "--", "sh", "-c", "read x; echo got $x; exit 7").
		CombinedOutput()
	_ = res
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Errorf("exit status not passed through: %v", err)
	}
	c := exec.Command(migrate, "lab", "exec", "--name", "t-exec", "h2", "--", "sh", "-c", "read x; echo got $x")
	c.Stdin = strings.NewReader("hello\n")
	if out, err := c.CombinedOutput(); err != nil || string(out) != "got hello\n" {
		t.Errorf("stdin/stdout: %q, %v", out, err)
	}
	for _, args := range [][]string{
		{"lab", "exec", "--name", "t-exec", "h9", "--", "true"},
		{"lab", "exec", "--name", "t-nolab", "h1", "--", "true"},
		{"lab", "exec", "--name", "t-exec", "h1", "--", "no-such-command-xyz"},
	} {
		out, err := exec.Command(migrate, args...).CombinedOutput()
		if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") > 0 {
			t.Errorf("migrate %v: err %v, output %q: want one error line", args, err, out)
		}
		for _, want := range []string{"h9", "t-nolab", "no-such-command-xyz"} {
			if strings.Contains(strings.Join(args, " "), want) && !strings.Contains(string(out), want) {
				t.Errorf("migrate %v: %q does not name %s", args, out, want)
			}
		}
	}
}

// outsideAddrs returns addresses that exist outside the lab: the machine's
// own address and a public one.
func outsideAddrs(t *testing.T) []string {
	addrs := []string{"1.1.1.1:53"}
	out, err := testutil.Run("ip", "-4", "-o", "addr", "show", "scope", "global")
	if err == nil {
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 4 && !strings.HasPrefix(f[3], "198.18.") {
				addrs = append(addrs, strings.Split(f[3], "/")[0]+":22")
				break
			}
		}
	}
	return addrs
}

// snapshot is what a lab must not leave behind.
type snapshot struct {
	netns, links, mounts string
}

func take(t *testing.T) snapshot {
	netns, _ := testutil.Run("ip", "netns", "list")
	links, err := testutil.Run("ip", "-o", "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	// Drop link counters and states that change on their own.
	var names []string
	for _, l := range strings.Split(links, "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			names = append(names, f[1])
		}
	}
	return snapshot{netns, strings.Join(names, " "), string(mounts)}
}

func TestUpTwiceDownLeavesNothing(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	migrate, migrated := testutil.Binaries(t)
	before := take(t)
	up := func() string {
		out, err := exec.Command(migrate, "lab", "up", "--name", "t-clean", "--hosts", "2", "--migrated", migrated).CombinedOutput()
		if err != nil {
			t.Fatalf("lab up: %v: %s", err, out)
		}
		return string(out)
	}
	first, second := up(), up()
	if first != second {
		t.Errorf("second lab up changed the lab:\n%s\n%s", first, second)
	}
	l, err := lab.Open(lab.Config{Name: "t-clean"})
	if err != nil {
		t.Fatal(err)
	}
	pids := labPIDs(t, l)
	if out, err := exec.Command(migrate, "lab", "down", "--name", "t-clean").CombinedOutput(); err != nil {
		t.Fatalf("lab down: %v: %s", err, out)
	}
	checkGone(t, before, pids, "t-clean")
	// Down again is a no-op.
	if out, err := exec.Command(migrate, "lab", "down", "--name", "t-clean").CombinedOutput(); err != nil {
		t.Fatalf("second lab down: %v: %s", err, out)
	}
}

// TestDownAfterCrashedUp kills `lab up` half-way; `lab down` still cleans
// up everything.
func TestDownAfterCrashedUp(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	migrate, migrated := testutil.Binaries(t)
	before := take(t)
	for _, delay := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond} {
		cmd := exec.Command(migrate, "lab", "up", "--name", "t-crash", "--hosts", "3", "--migrated", migrated)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Kill()
		cmd.Wait()
		var pids []int
		if l, err := lab.Open(lab.Config{Name: "t-crash"}); err == nil {
			pids = labPIDs(t, l)
		}
		if out, err := exec.Command(migrate, "lab", "down", "--name", "t-crash").CombinedOutput(); err != nil {
			t.Fatalf("lab down after crash at %v: %v: %s", delay, err, out)
		}
		checkGone(t, before, pids, "t-crash")
	}
}

func labPIDs(t *testing.T, l *lab.Lab) []int {
	var pids []int
	for _, h := range l.Hosts() {
		pids = append(pids, h.InitPID())
	}
	return pids
}

func checkGone(t *testing.T, before snapshot, pids []int, name string) {
	t.Helper()
	linux.ReapOrphans()
	after := take(t)
	if after.netns != before.netns {
		t.Errorf("ip netns changed:\n%s\n->\n%s", before.netns, after.netns)
	}
	if after.links != before.links {
		t.Errorf("links changed:\n%s\n->\n%s", before.links, after.links)
	}
	if after.mounts != before.mounts {
		t.Errorf("/proc/mounts changed")
	}
	for _, pid := range pids {
		if st, err := procfs.Stat(pid); err == nil {
			t.Errorf("lab process %d still in the process table (state %c)", pid, st.State)
		}
	}
	if _, err := os.Stat(filepath.Join(lab.DefaultRunDir, name)); err == nil {
		t.Errorf("lab directory of %s still exists", name)
	}
	// No process of the lab anywhere: nothing runs lab-init for this lab.
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cl, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if bytes.Contains(cl, []byte("/"+name+"/")) {
			t.Errorf("process %s still runs: %q", e.Name(), bytes.ReplaceAll(cl, []byte{0}, []byte{' '}))
		}
	}
}
