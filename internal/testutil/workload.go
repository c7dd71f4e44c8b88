package testutil

import (
	"context"
	"errors"
	"testing"

	"github.com/migrate-dev/migrate/internal/workload"
)

// StartWorkload starts a self-checking workload as root for a test (with
// its default arguments when args is nil), skipping when gcc is missing,
// and kills it at the end of the test.
func StartWorkload(t *testing.T, name string, args ...string) *workload.Proc {
	t.Helper()
	RequireRoot(t)
	if args == nil {
		args = workload.DefaultArgs(name, t.TempDir())
	}
	p, err := workload.Start(context.Background(), name, args...)
	if errors.Is(err, workload.ErrNoCompiler) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return p
}
