package workload

import (
	"strconv"
	"strings"
	"time"
)

// ChurnSample is one "PROGRESS ops=<n> t=<ns>" line of the churn workload:
// the operations done so far and when (CLOCK_REALTIME).
type ChurnSample struct {
	Ops  uint64
	Time time.Time
}

// ChurnProgress returns the PROGRESS lines of churn's output, in order.
func ChurnProgress(out string) []ChurnSample {
	var s []ChurnSample
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "PROGRESS ")
		if !ok {
			continue
		}
		f := fields(rest)
		ops, err1 := strconv.ParseUint(f["ops"], 10, 64)
		t, err2 := strconv.ParseInt(f["t"], 10, 64)
		if err1 == nil && err2 == nil {
			s = append(s, ChurnSample{Ops: ops, Time: time.Unix(0, t)})
		}
	}
	return s
}

// ChurnLog returns churn's output without its PROGRESS lines: what is left
// to show a reader.
func ChurnLog(out string) string {
	var b strings.Builder
	for line := range strings.Lines(out) {
		if !strings.HasPrefix(line, "PROGRESS ") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// ChurnCounts returns the counters of churn's "OPS" line (printed when it
// checks itself): total, one per kind of operation, skipped, errors.
func ChurnCounts(out string) (map[string]uint64, bool) {
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "OPS ")
		if !ok {
			continue
		}
		m := make(map[string]uint64)
		for k, v := range fields(rest) {
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				m[k] = n
			}
		}
		return m, true
	}
	return nil, false
}

// fields splits "a=1 b=2" into a map.
func fields(s string) map[string]string {
	m := make(map[string]string)
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}
