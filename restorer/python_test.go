package restorer_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/migrate-dev/migrate/restorer"
	"golang.org/x/sys/unix"
)

// counterPy appends 1, 2, 3, ... to a file and keeps a dict of 100k
// entries; SIGUSR2 makes it check the dict and write PASS or FAIL.
const counterPy = `
import signal, sys, time
d = {i: str(i) * 3 for i in range(100000)}
out = open(sys.argv[1], "a", buffering=1)
def check(sig, frame):
    ok = len(d) == 100000 and all(d[i] == str(i) * 3 for i in range(100000))
    with open(sys.argv[2], "w") as f:
        f.write("PASS\n" if ok else "FAIL\n")
signal.signal(signal.SIGUSR2, check)
n = 0
while True:
    n += 1
    out.write("%d\n" % n)
    time.sleep(0.01)
`

func TestPython(t *testing.T) {
	testutil.RequireRoot(t)
	py := testutil.Python3(t)
	dir := t.TempDir()
	script, counts, verdict := filepath.Join(dir, "c.py"), filepath.Join(dir, "counts"), filepath.Join(dir, "verdict")
	os.WriteFile(script, []byte(counterPy), 0o644)
	cmd := exec.Command(py, script, counts, verdict)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, func() bool { return lastCount(t, counts) >= 20 }, "python to count to 20")

	img := filepath.Join(dir, "img")
	st, err := dumper.Checkpoint(context.Background(), cmd.Process.Pid, img, dumper.Options{Kill: true})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	at := lastCount(t, counts)
	time.Sleep(100 * time.Millisecond)
	if lastCount(t, counts) != at {
		t.Fatal("python kept counting after checkpoint --kill")
	}
	res, err := restorer.Restore(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { unix.Kill(res.PID, unix.SIGKILL); unix.Wait4(res.PID, nil, 0, nil) }()
	t.Logf("checkpoint %d data pages, %d zero, frozen %v; restore %v", st.DataPages, st.ZeroPages, st.Frozen, res.Duration)
	waitFor(t, func() bool { return lastCount(t, counts) >= at+20 }, "restored python to count on")
	b, _ := os.ReadFile(counts)
	for i, line := range strings.Fields(string(b)) {
		if line != strconv.Itoa(i+1) {
			t.Fatalf("line %d is %q: counting did not go on from %d", i+1, line, at)
		}
	}
	unix.Kill(res.PID, unix.SIGUSR2)
	waitFor(t, func() bool { v, _ := os.ReadFile(verdict); return len(v) > 0 }, "the dict check")
	if v, _ := os.ReadFile(verdict); string(v) != "PASS\n" {
		t.Fatalf("dict after restore: %s", v)
	}
}

func lastCount(t *testing.T, path string) int {
	b, _ := os.ReadFile(path)
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[len(f)-1])
	return n
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
