package precopy

import (
	"context"
	"fmt"
	"time"
)

// AwaitOutcome asks (ask: over a new connection each time) until the
// destination answers OutcomeCommitted or OutcomeAborted, backing off from
// 100 ms to 2 s between tries. When ctx ends first it returns the last
// answer's error, or ctx's.
func AwaitOutcome(ctx context.Context, ask func(context.Context) (string, error)) (string, error) {
	wait := 100 * time.Millisecond
	for {
		state, err := ask(ctx)
		if err == nil && (state == OutcomeCommitted || state == OutcomeAborted) {
			return state, nil
		}
		if err == nil {
			err = fmt.Errorf("outcome %q", state)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return "", err
		}
		wait = min(2*wait, 2*time.Second)
	}
}
