package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Limit is the bare QUIC transfer between the lab hosts.
type Limit struct {
	MiB           int          `json:"mib"` // per run
	Runs          []quicResult `json:"runs"`
	GiBps         Stat         `json:"gib_s"`
	SrcCPUPerGiB  Stat         `json:"src_cpu_s_per_gib"`
	SinkCPUPerGiB Stat         `json:"sink_cpu_s_per_gib"`
	Error         string       `json:"error,omitempty"`
}

func (h *harness) measureLimit(ctx context.Context) *Limit {
	l := &Limit{MiB: h.opt.LimitMiB}
	h.opt.Log("== physical limit: bare quic-go h1 -> h2, one stream of 1 MiB writes, %d x %d MiB", h.opt.LimitRuns, l.MiB)
	var err error
	for i := 0; err == nil && i < h.opt.LimitRuns; i++ {
		var r quicResult
		if r, err = h.quicOnce(ctx, l.MiB, false); err == nil {
			l.Runs = append(l.Runs, r)
		}
	}
	if err != nil {
		l.Error = err.Error()
		h.opt.Log("   bare QUIC failed: %v (figures will not be shown as a fraction of it)", err)
	}
	var rates, src, sink []float64
	for _, r := range l.Runs {
		g := float64(r.Bytes) / gib
		rates, src, sink = append(rates, r.gibps()), append(src, r.CPUS/g), append(sink, r.SinkCPU/g)
	}
	l.GiBps, l.SrcCPUPerGiB, l.SinkCPUPerGiB = summarize(rates), summarize(src), summarize(sink)
	if len(l.Runs) > 0 {
		h.opt.Log("   %.3f GiB/s [%.3f-%.3f], cpu s/GiB: source %.2f, sink %.2f",
			l.GiBps.Median, l.GiBps.Min, l.GiBps.Max, l.SrcCPUPerGiB.Median, l.SinkCPUPerGiB.Median)
	}
	return l
}

// quicOnce runs quic-sink in h2 and quic-source in h1, mib MiB; with
// copies, both ends do a migration's memory work too (--copy).
func (h *harness) quicOnce(ctx context.Context, mib int, copies bool) (quicResult, error) {
	var r quicResult
	if h.quicIDs == "" {
		dir := filepath.Join(h.tmp, "quic-id")
		if err := writeIdentities(dir, map[string]net.IP{"h1": h.h1.Addr.AsSlice(), "h2": h.h2.Addr.AsSlice()}); err != nil {
			return r, err
		}
		h.quicIDs = dir
	}
	idDir := h.quicIDs
	dir, err := h.scratch("quic")
	if err != nil {
		return r, err
	}
	addr := net.JoinHostPort(h.h2.Addr.String(), strconv.Itoa(quicPort))
	sink := []string{h.self, "quic-sink", "--id", filepath.Join(idDir, "h2"), "--listen", addr}
	if copies {
		sink = append(sink, "--copy", strconv.Itoa(mib))
	}
	pid, err := start(ctx, h.h2, dir, sink, "LISTENING", 10*time.Second)
	if pid > 0 {
		defer stopIn(h.h2, pid)
	}
	if err != nil {
		return r, err
	}
	source := []string{h.self, "quic-source", "--id", filepath.Join(idDir, "h1"), "--addr", addr, "--peer", "h2", "--mib", strconv.Itoa(mib)}
	if copies {
		source = append(source, "--copy")
	}
	out, code, err := h.execOut(ctx, h.h1, source...)
	if err == nil && code != 0 {
		err = fmt.Errorf("quic-source: exit status %d: %s", code, strings.TrimSpace(out))
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return r, fmt.Errorf("quic-source output %q: %w", out, err)
	}
	return r, nil
}
