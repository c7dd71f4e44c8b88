// Package cli holds what the migrate and migrated commands share: flag
// parsing that prints help on --help and one-line errors, and logging setup.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// ErrUsage marks an error in how a command was called (exit status 2).
var ErrUsage = errors.New("usage")

// UsageError returns an error that prints as msg and exits with status 2.
func UsageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// NewFlagSet returns a flag set that reports errors instead of exiting and
// prints usage (name, synopsis, description, flags) for --help.
func NewFlagSet(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on every parse error
	usage[fs] = func() {
		w := os.Stdout
		fmt.Fprintf(w, "Usage: %s %s\n", name, synopsis)
		if description != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(description))
		}
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintf(w, "\nFlags:\n")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	return fs
}

// usage holds the help printer of each flag set made by NewFlagSet.
var usage = map[*flag.FlagSet]func(){}

// PrintUsage prints the help of fs.
func PrintUsage(fs *flag.FlagSet) {
	if u, ok := usage[fs]; ok {
		u()
	}
}

// Parse parses args; for --help it prints usage and returns flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		PrintUsage(fs)
		return err
	}
	if err != nil {
		return UsageError("%v", err)
	}
	return nil
}

// Exit prints err as one line and exits with the right status: 0 for help,
// 2 for usage errors, 1 otherwise.
func Exit(prog string, err error) {
	switch {
	case err == nil:
		os.Exit(0)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	}
	var code ExitCode
	if errors.As(err, &code) {
		os.Exit(int(code))
	}
	msg := strings.TrimPrefix(err.Error(), ErrUsage.Error()+": ")
	fmt.Fprintf(os.Stderr, "%s: %s\n", prog, strings.ReplaceAll(msg, "\n", "; "))
	if errors.Is(err, ErrUsage) {
		fmt.Fprintf(os.Stderr, "Run '%s --help' for usage.\n", prog)
		os.Exit(2)
	}
	os.Exit(1)
}

// ExitCode is an error that only carries an exit status (for commands that
// pass through the status of another program).
type ExitCode int

func (e ExitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Logger returns a slog logger writing to w at the given level name.
func Logger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, UsageError("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, UsageError("log format %q: want text or json", format)
}

// SplitList splits a comma-separated flag value, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
