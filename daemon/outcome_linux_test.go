package daemon

import (
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
