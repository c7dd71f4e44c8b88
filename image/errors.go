package image

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns for a bad image is an
// *Error wrapping one of them, so callers test with errors.Is.
var (
	// ErrFormat: the payload does not follow the tagged encoding, or a
	// record has an unexpected kind or trailing bytes.
	ErrFormat = errors.New("malformed image")
	// ErrTruncated: the input ended before the end of a record.
	ErrTruncated = errors.New("truncated")
	// ErrChecksum: a CRC32C does not match (record, page run or manifest).
	ErrChecksum = errors.New("checksum mismatch")
	// ErrMagic: the input does not start with Magic.
	ErrMagic = errors.New("not a migrate image (bad magic)")
	// ErrVersion: the record's format version is not Version.
	ErrVersion = errors.New("unsupported version")
	// ErrFlags: the record header has flag bits this build does not know.
	ErrFlags = errors.New("unsupported flags")
	// ErrTooLarge: a record or a repeated field exceeds a format limit.
	ErrTooLarge = errors.New("too large")
	// ErrInvalid: the image decodes but describes an impossible state
	// (see Checkpoint.Validate and PageMap.Validate).
	ErrInvalid = errors.New("invalid image")
	// ErrIncomplete: a checkpoint directory has no COMPLETE marker.
	ErrIncomplete = errors.New("incomplete checkpoint")
)

// Error reports a bad image. Its text is "image: [FILE: ]MSG".
type Error struct {
	File string // base name of the file, empty when decoding bytes
	Err  error  // one of the sentinel errors above
	Msg  string // details; Err's text when empty
}

func (e *Error) Error() string {
	msg := e.Msg
	if msg == "" {
		msg = e.Err.Error()
	}
	if e.File != "" {
		return "image: " + e.File + ": " + msg
	}
	return "image: " + msg
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error wrapping kind with a formatted message.
func errorf(kind error, format string, args ...any) *Error {
	return &Error{Err: kind, Msg: fmt.Sprintf(format, args...)}
}

// invalidf returns an ErrInvalid error.
func invalidf(format string, args ...any) *Error {
	return errorf(ErrInvalid, format, args...)
}

// truncatedAt reports that the input ended at byte n.
func truncatedAt(n int64) *Error {
	return errorf(ErrTruncated, "truncated at byte %d", n)
}

// inFile attributes err to the named file. *Error values get their File
// set; other errors (I/O) are wrapped with the file name.
func inFile(err error, name string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e.File == "" {
		c := *e
		c.File = name
		return &c
	}
	if e != nil {
		return err
	}
	return fmt.Errorf("image: %s: %w", name, err)
}
