// Package self is what a program of the project does to itself: its
// inherited descriptors and its CPU time.
package self

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// CloexecInherited marks every descriptor above stderr close-on-exec, so
// that the processes this one starts (daemons, lab hosts, workloads) do not
// inherit descriptors it got from whoever ran it, which a checkpoint of
// them would then refuse.
func CloexecInherited() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range 3.. CLOEXEC: %w", err)
	}
	return nil
}

// CPUTime returns this process's user and system time, all threads.
func CPUTime() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage self: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
