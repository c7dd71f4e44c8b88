package main

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Results is everything a harness run measured; it is the JSON file.
type Results struct {
	Started       time.Time     `json:"started"`
	WallS         float64       `json:"wall_s"`
	Machine       Machine       `json:"machine"`
	Repeat        int           `json:"repeat"`
	MaxDowntimeMS float64       `json:"max_downtime_ms,omitempty"`
	MaxRounds     int           `json:"max_rounds,omitempty"`
	Limit         *Limit        `json:"limit,omitempty"`
	Points        []PointResult `json:"points"`
	CRIU          *CRIUResults  `json:"criu,omitempty"`
}

// Machine says where the figures come from.
type Machine struct {
	Kernel      string `json:"kernel"`
	CPUs        int    `json:"cpus"`
	MemTotalMiB int    `json:"mem_total_mib"`
	Go          string `json:"go"`
	// Pinned is how --pin split the CPUs between the hosts ("" when both
	// ran on all of them).
	Pinned string `json:"pinned,omitempty"`
}

func newResults(opt Options) *Results {
	return &Results{
		Started:       time.Now(),
		Machine:       thisMachine(),
		Repeat:        opt.Repeat,
		MaxDowntimeMS: opt.MaxDowntimeMS,
		MaxRounds:     opt.MaxRounds,
	}
}

func (r *Results) finish() { r.WallS = time.Since(r.Started).Seconds() }

func thisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if b, err := readMeminfo(); err == nil {
		if kb, err := statusKB(b, "MemTotal"); err == nil {
			m.MemTotalMiB = int(kb / 1024)
		}
	}
	return m
}

// limitGiBps is the measured bare QUIC rate, 0 when there is none.
func (r *Results) limitGiBps() float64 {
	if r.Limit == nil || r.Limit.GiBps.N == 0 {
		return 0
	}
	return float64(r.Limit.GiBps.Median)
}
