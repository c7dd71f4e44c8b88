package testutil

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// MapPages maps n private anonymous read-write pages of this process,
// unmapped at cleanup. The range is advised MADV_NOHUGEPAGE, so that the
// kernel backs it with single pages, not a huge page.
func MapPages(tb testing.TB, n int) []byte {
	tb.Helper()
	m, err := unix.Mmap(-1, 0, n*os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = unix.Munmap(m) })
	// EINVAL on kernels without transparent huge pages, which is as good.
	_ = unix.Madvise(m, unix.MADV_NOHUGEPAGE)
	return m
}
