package workload

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestChurn runs the churn workload alone: after a second of changing its
// address space it must find every page as its table says (PASS), having
// done every kind of operation; after SIGUSR1 it must FAIL on the page it
// corrupted.
func TestChurn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string // SLOTS OPS_PER_MS SEED; DIR and MODE are added
		mode    string
		corrupt bool
	}{
		{"default", []string{"64", "2", "1"}, "-", false},
		{"fast", []string{"32", "16", "7"}, "-", false},
		{"filedontneed", []string{"64", "4", "3"}, "filedontneed", false},
		{"corrupt", []string{"64", "2", "11"}, "-", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startArgs(t, "churn", append(append([]string{}, tc.args...), t.TempDir(), tc.mode)...)
			time.Sleep(time.Second)
			if tc.corrupt {
				if err := p.Signal(unix.SIGUSR1); err != nil {
					t.Fatal(err)
				}
				waitFor(t, p, "CORRUPT:")
				time.Sleep(200 * time.Millisecond) // churn on around the pinned slot
			}
			err := p.Verify(context.Background(), verifyTimeout)
			out := p.Output()
			if tc.corrupt {
				if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "page content") {
					t.Fatalf("Verify after SIGUSR1 = %v, want a page content FAIL\noutput:\n%s", err, ChurnLog(out))
				}
			} else if err != nil {
				t.Fatalf("%v\noutput:\n%s", err, ChurnLog(out))
			}
			counts, ok := ChurnCounts(out)
			if !ok {
				t.Fatalf("no OPS line:\n%s", ChurnLog(out))
			}
			t.Logf("%v", counts)
			for _, k := range []string{"map", "over", "next", "unmap", "protect", "remap", "dontneed", "write"} {
				if counts[k] == 0 {
					t.Errorf("no %s operation in a second", k)
				}
			}
			if tc.mode == "filedontneed" && counts["filedontneed"] == 0 {
				t.Errorf("no MADV_DONTNEED of a file page in a second")
			}
			if prog := ChurnProgress(out); len(prog) < 2 || prog[len(prog)-1].Ops <= prog[0].Ops {
				t.Errorf("PROGRESS lines do not show operations going on: %v", prog)
			}
		})
	}
}
