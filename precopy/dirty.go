package precopy

import (
	"errors"
	"fmt"
	"slices"

	"github.com/migrate-dev/migrate/internal/ranges"
)

// ErrNoTracking is matched (errors.Is) by the errors of NewUffdTracker and
// NewSoftDirtyTracker when the kernel or the process cannot do that kind of
// dirty tracking; the error says why. NewTracker then falls back to the
// next kind.
var ErrNoTracking = errors.New("dirty tracking not available")

// A Range is a page-aligned [Start, End) address range.
type Range = ranges.Range

// Tracker reports which pages of a process were written since the last
// time it was asked.
//
// Pre-copy migration copies a running process's memory in rounds: round 1
// copies everything, each later round only what was written during the
// previous one, and the last round runs with the process frozen. A Tracker
// answers "what was written since last time" for the ranges it was told to
// track. There are three kinds (NewTracker picks the best one the kernel
// offers):
//
//   - uffd-wp (UffdTracker, Linux 6.7+): userfaultfd write-protection in
//     async mode. Every tracked page is write-protected (or, in a 2 MiB
//     granule that holds nothing yet, found once it appears); the first
//     write to a page lifts the protection in the kernel, without stopping
//     the writer for more than a page fault (about 1 µs), and the
//     PAGEMAP_SCAN ioctl returns the unprotected ("written") pages and
//     protects them again in the same page-table walk, so Collect is exact
//     and atomic: a write racing with Collect is reported now or next time
//     (sometimes both, when the page fault and the scan interleave). It
//     costs about 0.4 ms per GiB when nothing was written.
//   - soft-dirty (SoftDirtyTracker): /proc/PID/clear_refs and bit 55 of
//     /proc/PID/pagemap, as CRIU uses it. Re-arming clears the whole process
//     and is a separate step from reading, so a write between the two is
//     lost; that is harmless as long as the last round is taken frozen.
//     Kernels built without CONFIG_MEM_SOFT_DIRTY do not have it.
//   - none (NoneTracker): every tracked page is dirty every time. Pre-copy
//     then degenerates to one stop-and-copy round.
//
// The caller tells the Tracker what to track from the process's mappings,
// round after round: Track the private writable mappings that appeared (and
// copy them wholly after Track returns, since their earlier writes are not
// reported), Untrack the ones that went away, then Collect. Shared mappings
// should not be tracked: a page written through another process's mapping
// of the same memory is not seen; copy them at freeze time.
//
// A Tracker reports writes. Contents can also change without one (a
// private file page dropped with MADV_DONTNEED reads the file again, a
// device writes into a pinned page); the kinds document what they miss,
// and the frozen last round has to cover it.
//
// A Tracker is not safe for concurrent use.
type Tracker interface {
	Name() string // "uffd-wp", "soft-dirty", "none"
	// Track starts (or extends) tracking of the given ranges: from now on
	// writes there are recorded. Ranges already tracked are unchanged.
	Track(ranges []Range) error
	// Untrack stops tracking ranges (mappings that went away); it must
	// tolerate ranges that no longer exist in the process.
	Untrack(ranges []Range) error
	// Collect returns the written pages in the tracked ranges since Track
	// or the previous Collect (sorted, merged ranges), and re-arms them
	// atomically so that a write racing with Collect is reported either now
	// or next time, never lost.
	Collect() ([]Range, error)
	// Close stops tracking and releases everything; the process keeps no
	// trace of it (no uffd registration, no write-protection left).
	Close() error
}

// noTrackingError says why one kind of tracking is not available. It
// matches ErrNoTracking.
type noTrackingError struct {
	kind string // "uffd-wp" or "soft-dirty"
	err  error
}

func (e *noTrackingError) Error() string {
	return fmt.Sprintf("%s %v: %v", e.kind, ErrNoTracking, e.err)
}

func (e *noTrackingError) Is(target error) bool { return target == ErrNoTracking }

func (e *noTrackingError) Unwrap() error { return e.err }

// NoneTracker is the Tracker for kernels without dirty tracking: Collect
// returns every tracked range, every time.
type NoneTracker struct {
	tracked []Range // normalized
}

// NewNoneTracker returns a Tracker that tracks nothing and reports every
// tracked page as written.
func NewNoneTracker() *NoneTracker { return &NoneTracker{} }

// Name returns "none".
func (t *NoneTracker) Name() string { return "none" }

// Track adds ranges to the tracked set.
func (t *NoneTracker) Track(ranges []Range) error {
	if err := checkRanges(ranges); err != nil {
		return err
	}
	t.tracked = unionRanges(t.tracked, ranges)
	return nil
}

// Untrack removes ranges from the tracked set.
func (t *NoneTracker) Untrack(ranges []Range) error {
	if err := checkRanges(ranges); err != nil {
		return err
	}
	t.tracked = subtractRanges(t.tracked, normalizeRanges(ranges))
	return nil
}

// Collect returns a copy of the tracked set.
func (t *NoneTracker) Collect() ([]Range, error) { return slices.Clone(t.tracked), nil }

// Close forgets the tracked set.
func (t *NoneTracker) Close() error {
	t.tracked = nil
	return nil
}
