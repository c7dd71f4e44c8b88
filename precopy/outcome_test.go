package precopy

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAwaitOutcome: errors and unknown answers are asked again; a
// definite answer ends the wait; the end of ctx returns the last error.
func TestAwaitOutcome(t *testing.T) {
	answers := []struct {
		state string
		err   error
	}{{"", errors.New("unreachable")}, {"pending", nil}, {OutcomeCommitted, nil}}
	n := 0
	state, err := AwaitOutcome(context.Background(), func(context.Context) (string, error) {
		a := answers[n]
		n++
		return a.state, a.err
	})
	if state != OutcomeCommitted || err != nil || n != 3 {
		t.Fatalf("AwaitOutcome = %q, %v after %d asks; want committed after 3", state, err, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	down := errors.New("destination down")
	state, err = AwaitOutcome(ctx, func(context.Context) (string, error) { return "", down })
	if state != "" || !errors.Is(err, down) {
		t.Fatalf("AwaitOutcome with no answer = %q, %v; want the last error", state, err)
	}
}
