package procfs

import (
	"strings"
)

// RlimInfinity is RLIM_INFINITY, printed as "unlimited" in the limits file.
const RlimInfinity = ^uint64(0)

// Rlimit is a soft (Cur) and hard (Max) resource limit.
type Rlimit struct {
	Cur, Max uint64
}

// Rlimits holds every limit of a process, indexed by RLIMIT_* number
// (RLIMIT_CPU = 0 to RLIMIT_RTTIME = 15).
type Rlimits [16]Rlimit

// limitNames are the row names of /proc/PID/limits, indexed by RLIMIT_*.
var limitNames = [len(Rlimits{})]string{
	"Max cpu time",
	"Max file size",
	"Max data size",
	"Max stack size",
	"Max core file size",
	"Max resident set",
	"Max processes",
	"Max open files",
	"Max locked memory",
	"Max address space",
	"Max file locks",
	"Max pending signals",
	"Max msgqueue size",
	"Max nice priority",
	"Max realtime priority",
	"Max realtime timeout",
}

// ParseLimits parses the contents of /proc/PID/limits. Every row must be
// present exactly once; the header and unknown rows are ignored.
func ParseLimits(b []byte) (Rlimits, error) {
	var (
		rl   Rlimits
		seen [len(Rlimits{})]bool
		n    int
	)
	for line := range strings.Lines(string(b)) {
		n++
		i, rest := limitRow(line)
		if i < 0 {
			continue
		}
		if seen[i] {
			return rl, lineError(n, formatError("duplicate row %q", limitNames[i]))
		}
		seen[i] = true
		var err error
		if rl[i], err = parseLimitValues(rest); err != nil {
			return rl, lineError(n, err)
		}
	}
	for i, ok := range seen {
		if !ok {
			return rl, formatError("missing row %q", limitNames[i])
		}
	}
	return rl, nil
}

// limitRow returns the RLIMIT_* index of line and the text after the name,
// or -1 if line is not a known row.
func limitRow(line string) (int, string) {
	for i, name := range limitNames {
		rest, ok := strings.CutPrefix(line, name)
		if ok && strings.HasPrefix(rest, " ") {
			return i, rest
		}
	}
	return -1, ""
}

// parseLimitValues parses "soft hard [units]".
func parseLimitValues(s string) (Rlimit, error) {
	fs := strings.Fields(s)
	if len(fs) < 2 || len(fs) > 3 {
		return Rlimit{}, formatError("bad limit values %q", clip(s))
	}
	cur, err := parseLimit(fs[0])
	if err != nil {
		return Rlimit{}, err
	}
	hard, err := parseLimit(fs[1])
	if err != nil {
		return Rlimit{}, err
	}
	return Rlimit{Cur: cur, Max: hard}, nil
}

// parseLimit parses a decimal limit or "unlimited".
func parseLimit(s string) (uint64, error) {
	if s == "unlimited" {
		return RlimInfinity, nil
	}
	return parseDec(s, 64)
}
