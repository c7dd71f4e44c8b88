//go:build linux

package linux

import (
	"errors"

	"golang.org/x/sys/unix"
)

// retryOnEINTR calls fn until it returns something other than EINTR.
func retryOnEINTR(fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// retryOnEINTR2 is retryOnEINTR for functions that also return a value.
func retryOnEINTR2[T any](fn func() (T, error)) (T, error) {
	for {
		v, err := fn()
		if !errors.Is(err, unix.EINTR) {
			return v, err
		}
	}
}
