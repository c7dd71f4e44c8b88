package dumper

import (
	"errors"
	"fmt"
)

// ErrNotSupported is wrapped by every refusal of a process the dumper
// cannot checkpoint (yet). The process is left running untouched.
var ErrNotSupported = errors.New("not supported")

func errNotSupported(what string) error {
	return fmt.Errorf("%s is %w", what, ErrNotSupported)
}
