//go:build linux

package linux

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// kernelAtLeast reports whether the running kernel is major.minor or newer.
func kernelAtLeast(t testing.TB, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		t.Fatalf("kernel release %q: %v", u.Release[:], err)
	}
	return ma > major || ma == major && mi >= minor
}

// checkFeature fails when a kernel that should have the feature reports it
// missing, and skips on older kernels.
func checkFeature(t *testing.T, err error, major, minor int) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("probe error %v does not match ErrNotSupported", err)
	}
	if kernelAtLeast(t, major, minor) {
		t.Fatalf("kernel is %d.%d or newer but: %v", major, minor, err)
	}
	t.Skip(err)
}

func TestHaveUffdWPAsync(t *testing.T) { checkFeature(t, HaveUffdWPAsync(), 6, 7) }

func TestHavePagemapScan(t *testing.T) { checkFeature(t, HavePagemapScan(), 6, 7) }

func TestHaveClone3SetTID(t *testing.T) {
	err := HaveClone3SetTID()
	if os.Geteuid() != 0 {
		t.Skipf("not root; probe says %v", err)
	}
	if err != nil {
		t.Fatalf("root should have CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN: %v", err)
	}
}

func TestFeatureErrorIs(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &FeatureError{Feature: "x", Err: unix.EINVAL})
	if !errors.Is(err, ErrNotSupported) || !errors.Is(err, unix.EINVAL) {
		t.Errorf("%v should match ErrNotSupported and EINVAL", err)
	}
}
