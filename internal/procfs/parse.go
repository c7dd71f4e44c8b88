package procfs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrFormat is wrapped by every error that reports malformed file contents.
var ErrFormat = errors.New("malformed")

// maxQuote bounds how much of a bad token an error message quotes.
const maxQuote = 64

// formatError returns an error wrapping ErrFormat. Strings among args should
// go through clip so that garbage input cannot make messages huge.
func formatError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// lineError adds a 1-based line number to err.
func lineError(n int, err error) error {
	return fmt.Errorf("line %d: %w", n, err)
}

// clip shortens s for quoting in an error message.
func clip(s string) string {
	if len(s) > maxQuote {
		return s[:maxQuote] + "..."
	}
	return s
}

// parseHex parses an unsigned hexadecimal number without prefix.
func parseHex(s string, bits int) (uint64, error) {
	v, err := strconv.ParseUint(s, 16, bits)
	if err != nil {
		return 0, formatError("bad hex number %q", clip(s))
	}
	return v, nil
}

// parseDec parses an unsigned decimal number.
func parseDec(s string, bits int) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, formatError("bad number %q", clip(s))
	}
	return v, nil
}

// parseInt parses a signed decimal number.
func parseInt(s string, bits int) (int64, error) {
	v, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return 0, formatError("bad number %q", clip(s))
	}
	return v, nil
}

// parseOct parses an unsigned octal number such as fdinfo's flags.
func parseOct(s string, bits int) (uint64, error) {
	v, err := strconv.ParseUint(s, 8, bits)
	if err != nil {
		return 0, formatError("bad octal number %q", clip(s))
	}
	return v, nil
}

// parseKB parses a smaps value such as "16 kB" and returns the number.
func parseKB(s string) (uint64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), " ")
	if unit != "kB" {
		return 0, formatError("bad size %q", clip(s))
	}
	return parseDec(num, 64)
}

// trimNL removes one trailing newline.
func trimNL(s string) string {
	return strings.TrimSuffix(s, "\n")
}

// parseHexLine parses a file holding one hex number and a newline.
func parseHexLine(b []byte, bits int) (uint64, error) {
	return parseHex(trimNL(string(b)), bits)
}

// parseDecLine parses a file holding one decimal number and a newline.
func parseDecLine(b []byte, bits int) (uint64, error) {
	return parseDec(trimNL(string(b)), bits)
}
