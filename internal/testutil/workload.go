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
func StartWorkload(tb testing.TB, name string, args ...string) *workload.Proc {
	tb.Helper()
	RequireRoot(tb)
	return StartWorkloadAnyUser(tb, name, args...)
}

// StartWorkloadAnyUser is StartWorkload without the root check, for
// benchmarks that also run unprivileged and skip later, where they need
// privileges.
func StartWorkloadAnyUser(tb testing.TB, name string, args ...string) *workload.Proc {
	tb.Helper()
	if args == nil {
		args = workload.DefaultArgs(name, tb.TempDir())
	}
	p, err := workload.Start(context.Background(), name, args...)
	if errors.Is(err, workload.ErrNoCompiler) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Kill() })
	return p
}
