package linux

import (
	"errors"
	"fmt"
)

// ErrNotSupported is matched (errors.Is) by every error a feature probe
// returns when the running kernel or the caller's privileges lack a feature.
var ErrNotSupported = errors.New("not supported")

// FeatureError says which feature is missing and why.
type FeatureError struct {
	// Feature names the feature and the kernel version that added it.
	Feature string
	// Err is the underlying cause, often an errno from the probe.
	Err error
}

func (e *FeatureError) Error() string {
	return fmt.Sprintf("%s not supported: %v", e.Feature, e.Err)
}

// Unwrap returns the cause.
func (e *FeatureError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotSupported) true.
func (e *FeatureError) Is(target error) bool { return target == ErrNotSupported }
