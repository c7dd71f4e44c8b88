package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/precopy"
)

// TestOutcomesForgotten: outcomes are answered while fresh and forgotten
// after outcomeTTL, when the next one is recorded.
func TestOutcomesForgotten(t *testing.T) {
	d := &Daemon{}
	d.setOutcome("old", precopy.OutcomeCommitted)
	d.setOutcome("recent", precopy.OutcomeAborted)
	if got := d.outcome("old"); got != precopy.OutcomeCommitted {
		t.Fatalf("outcome of old = %q", got)
	}
	d.outcomes["old"] = outcomeEntry{precopy.OutcomeCommitted, time.Now().Add(-outcomeTTL - time.Minute)}
	d.setOutcome("new", precopy.OutcomePending)
	if got := d.outcome("old"); got != "" {
		t.Errorf("outcome older than %v still kept: %q", outcomeTTL, got)
	}
	if got := d.outcome("recent"); got != precopy.OutcomeAborted {
		t.Errorf("outcome of recent = %q, want %q", got, precopy.OutcomeAborted)
	}
	if len(d.outcomes) != 2 {
		t.Errorf("%d outcomes kept, want 2", len(d.outcomes))
	}
}

// TestStoredOutcome answers from the records a previous daemon left:
// committed when marked so or when the recorded process lives with its
// start time; aborted for a dead or different process, no record, or an
// ID that cannot name a file.
func TestStoredOutcome(t *testing.T) {
	d := &Daemon{cfg: Config{StateDir: t.TempDir()}, log: slog.New(slog.DiscardHandler)}
	self := os.Getpid()
	if _, err := d.recordOutcome("alive", self, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.recordOutcome("reused", self, 12345, false); err != nil { // another start time: PID reused
		t.Fatal(err)
	}
	if _, err := d.recordOutcome("gone", 1<<30, 1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.recordOutcome("exited", 1<<30, 1, true); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d.outcomesDir(), "junk.json"), []byte("{"), 0o600)
	for id, want := range map[string]string{
		"alive": precopy.OutcomeCommitted, "reused": precopy.OutcomeAborted, "gone": precopy.OutcomeAborted,
		"exited": precopy.OutcomeCommitted, "missing": precopy.OutcomeAborted, "junk": precopy.OutcomeAborted,
		"../outcomes/alive": precopy.OutcomeAborted, ".hidden": precopy.OutcomeAborted, "": precopy.OutcomeAborted,
	} {
		if got := d.storedOutcome(id); got != want {
			t.Errorf("storedOutcome(%q) = %q, want %q", id, got, want)
		}
	}
	d.forgetOutcome("alive")
	if got := d.storedOutcome("alive"); got != precopy.OutcomeAborted {
		t.Errorf("after forgetOutcome: %q", got)
	}
	// Records older than outcomeTTL go at start.
	old := time.Now().Add(-outcomeTTL - time.Minute)
	os.Chtimes(filepath.Join(d.outcomesDir(), "exited.json"), old, old)
	d.pruneOutcomes()
	if got := d.storedOutcome("exited"); got != precopy.OutcomeAborted {
		t.Errorf("record older than %v kept: %q", outcomeTTL, got)
	}
	if got := d.storedOutcome("reused"); got != precopy.OutcomeAborted {
		t.Errorf("reused: %q", got)
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"h1-1234-1763900000000000000": true, "node.a_b-1": true,
		"": false, ".": false, "..": false, "../x": false, "a/b": false, "a b": false, "a\x00": false,
		strings.Repeat("a", 201): false, strings.Repeat("a", 200): true,
	} {
		if got := validID(id); got != want {
			t.Errorf("validID(%q) = %v", id, got)
		}
	}
}
