package workload

import (
	"bytes"
	"iter"
	"strconv"
)

// The heartbeat of the counter and benchload workloads (c/beat.h): one
// line "<count> <CLOCK_REALTIME ns>" per beat, counts 1, 2, 3, ...

// Beats is what a heartbeat file says about an interval of time.
type Beats struct {
	N int // lines in the window
	// MaxGapMS is the longest interval between consecutive lines, which
	// began at MaxGapAtNS.
	MaxGapMS   float64
	MaxGapAtNS int64
	// Missed counts the beats that should have been written at the
	// workload's period but were not: floor(interval/period)-1 summed
	// over the intervals.
	Missed int
	// CountErrors counts lines whose count is not the previous one plus
	// one: a lost line, or a process that ran twice. Always 0 when the
	// migration is correct.
	CountErrors int
	// Lost is how many counts the lines skip in all.
	Lost int64
}

// ParseBeats reads "<count> <realtime ns>" lines. Intervals that end
// before fromNS are left out (the workload's start); fromNS 0 takes all.
// Foreign lines and a last line without its newline (still being written)
// are skipped.
func ParseBeats(data []byte, periodMS float64, fromNS int64) Beats {
	var b Beats
	var prevC, prevT int64
	have := false
	for c, t := range beats(data) {
		if t >= fromNS {
			b.N++
			if have {
				b.add(float64(t-prevT)/1e6, prevT, c-prevC, periodMS)
			}
		}
		prevC, prevT, have = c, t, true
	}
	return b
}

// beats yields the count and time of each complete heartbeat line, foreign
// lines and a last line without its newline left out.
func beats(data []byte) iter.Seq2[int64, int64] {
	return func(yield func(int64, int64) bool) {
		end := bytes.LastIndexByte(data, '\n')
		for line := range bytes.Lines(data[:end+1]) {
			if c, t, ok := ParseBeat(bytes.TrimSuffix(line, []byte{'\n'})); ok && !yield(c, t) {
				return
			}
		}
	}
}

// add accounts for one interval between two lines.
func (b *Beats) add(gapMS float64, fromNS, step int64, periodMS float64) {
	if gapMS > b.MaxGapMS {
		b.MaxGapMS, b.MaxGapAtNS = gapMS, fromNS
	}
	if periodMS > 0 && gapMS >= 2*periodMS {
		b.Missed += int(gapMS/periodMS) - 1
	}
	if step != 1 {
		b.CountErrors++
	}
	if step > 1 {
		b.Lost += step - 1
	}
}

// ParseBeat parses one line "<count> <realtime ns>".
func ParseBeat(line []byte) (count, ns int64, ok bool) {
	a, rest, found := bytes.Cut(line, []byte{' '})
	if !found {
		return 0, 0, false
	}
	c, err1 := strconv.ParseInt(string(a), 10, 64)
	t, err2 := strconv.ParseInt(string(rest), 10, 64)
	return c, t, err1 == nil && err2 == nil && c > 0
}

// LastBeat parses the last whole line of a heartbeat file, or of its
// tail (whose first line may be torn): ok is false when there is none.
func LastBeat(data []byte) (count, ns int64, ok bool) {
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		return 0, 0, false // no whole line
	}
	data = data[:end]
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[i+1:]
	}
	return ParseBeat(data)
}

// Gaps splits the intervals between lines that end at or after fromNS
// into those that overlap [winFrom, winTo] (the freeze) and the others,
// and returns the longest of each in ms: what the freeze cost the
// workload, and its longest wait for other reasons (a busy CPU).
func Gaps(data []byte, fromNS, winFrom, winTo int64) (inWindow, outside float64) {
	var prevT int64
	have := false
	for _, t := range beats(data) {
		if have && t >= fromNS {
			gap := float64(t-prevT) / 1e6
			if prevT <= winTo && t >= winFrom {
				inWindow = max(inWindow, gap)
			} else {
				outside = max(outside, gap)
			}
		}
		prevT, have = t, true
	}
	return inWindow, outside
}
