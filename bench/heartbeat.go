package main

import (
	"bytes"

	"github.com/migrate-dev/migrate/internal/workload"
)

// lastBeatNS returns the time of the last whole line of a heartbeat file's
// tail, or 0.
func lastBeatNS(tail []byte) int64 {
	end := bytes.LastIndexByte(tail, '\n')
	if end < 0 {
		return 0 // no whole line
	}
	tail = tail[:end]
	if i := bytes.LastIndexByte(tail, '\n'); i >= 0 {
		tail = tail[i+1:]
	}
	_, t, ok := workload.ParseBeat(tail)
	if !ok {
		return 0
	}
	return t
}
