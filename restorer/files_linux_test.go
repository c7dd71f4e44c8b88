package restorer

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/internal/ptrace"
	"github.com/migrate-dev/migrate/internal/testutil"
	"golang.org/x/sys/unix"
)

// Batched opens get the descriptor foreseen, and one that does not is an
// error naming the call, not a descriptor used for another.
func TestOpenForeseen(t *testing.T) {
	testutil.RequireRoot(t)
	tr := ptrace.NewTracer()
	defer tr.Close()
	tk, err := startStub(tr, 0x2000_0000_0000)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.kill()
	open, err := procfs.FDNums(tk.pid)
	if err != nil {
		t.Fatal(err)
	}
	fds := &fdTable{used: make(map[uint64]bool)}
	for _, n := range open {
		fds.used[uint64(n)] = true
	}
	// Three in one batch, each foreseeing what the ones before left free;
	// fd 42 shares fd 41's description (DupOf is 1 + its number).
	err = tk.batched(func() error {
		for _, f := range []image.FD{{Num: 40, Path: "/dev/null"}, {Num: 41, Path: "/dev/zero"}, {Num: 42, DupOf: 42}} {
			if err := tk.openFD(f, image.Creds{}, fds); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]string{40: "/dev/null", 41: "/dev/zero", 42: "/dev/zero"} {
		if got, err := os.Readlink("/proc/" + strconv.Itoa(tk.pid) + "/fd/" + strconv.Itoa(n)); err != nil || got != want {
			t.Errorf("fd %d is %q (%v), want %s", n, got, err, want)
		}
	}
	if now, _ := procfs.FDNums(tk.pid); len(now) != len(open)+3 {
		t.Errorf("descriptors %v after three restored over %v: a temporary one was left", now, open)
	}
	low := fds.lowest()
	err = tk.batched(func() error { return tk.openAs("fd 7: ", "/dev/null", unix.O_RDONLY, image.Creds{}, low+100) })
	if err == nil || !strings.Contains(err.Error(), "fd 7: open /dev/null") || !strings.Contains(err.Error(), "expected "+strconv.Itoa(int(low+100))) {
		t.Fatalf("an open foreseen wrongly: %v", err)
	}
	t.Log(err)
}
