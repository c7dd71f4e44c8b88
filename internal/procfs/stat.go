package procfs

import (
	"fmt"
	"strings"
)

// statFields is the number of fields in /proc/PID/stat since Linux 3.5.
const statFields = 52

// ProcStat holds the 52 fields of /proc/PID/stat or /proc/PID/task/TID/stat,
// in file order. Field numbers follow proc_pid_stat(5). Addresses and
// counters are unsigned; fields the kernel prints as signed are int64.
type ProcStat struct {
	PID                 int64  // (1) pid
	Comm                string // (2) comm, without the parentheses
	State               byte   // (3) state, e.g. 'R', 'S', 't'
	PPID                int64  // (4) ppid
	Pgrp                int64  // (5) pgrp
	Session             int64  // (6) session
	TTYNr               int64  // (7) tty_nr
	TPGID               int64  // (8) tpgid
	Flags               uint64 // (9) flags (PF_*)
	MinFlt              uint64 // (10) minflt
	CMinFlt             uint64 // (11) cminflt
	MajFlt              uint64 // (12) majflt
	CMajFlt             uint64 // (13) cmajflt
	UTime               uint64 // (14) utime, clock ticks
	STime               uint64 // (15) stime, clock ticks
	CUTime              int64  // (16) cutime
	CSTime              int64  // (17) cstime
	Priority            int64  // (18) priority
	Nice                int64  // (19) nice
	NumThreads          int64  // (20) num_threads
	ItRealValue         int64  // (21) itrealvalue, always 0
	StartTime           uint64 // (22) starttime, clock ticks after boot
	VSize               uint64 // (23) vsize, bytes
	RSS                 int64  // (24) rss, pages
	RSSLim              uint64 // (25) rsslim
	StartCode           uint64 // (26) startcode
	EndCode             uint64 // (27) endcode
	StartStack          uint64 // (28) startstack
	KStkESP             uint64 // (29) kstkesp
	KStkEIP             uint64 // (30) kstkeip
	Signal              uint64 // (31) signal, obsolete
	Blocked             uint64 // (32) blocked, obsolete
	SigIgnore           uint64 // (33) sigignore, obsolete
	SigCatch            uint64 // (34) sigcatch, obsolete
	WChan               uint64 // (35) wchan
	NSwap               uint64 // (36) nswap
	CNSwap              uint64 // (37) cnswap
	ExitSignal          int64  // (38) exit_signal
	Processor           int64  // (39) processor
	RTPriority          uint64 // (40) rt_priority
	Policy              uint64 // (41) policy
	DelayAcctBlkIOTicks uint64 // (42) delayacct_blkio_ticks
	GuestTime           uint64 // (43) guest_time
	CGuestTime          int64  // (44) cguest_time
	StartData           uint64 // (45) start_data
	EndData             uint64 // (46) end_data
	StartBrk            uint64 // (47) start_brk
	ArgStart            uint64 // (48) arg_start
	ArgEnd              uint64 // (49) arg_end
	EnvStart            uint64 // (50) env_start
	EnvEnd              uint64 // (51) env_end
	ExitCode            int64  // (52) exit_code
}

// numeric returns pointers to fields 4 to 52, in order.
func (s *ProcStat) numeric() []any {
	return []any{
		&s.PPID, &s.Pgrp, &s.Session, &s.TTYNr, &s.TPGID, &s.Flags,
		&s.MinFlt, &s.CMinFlt, &s.MajFlt, &s.CMajFlt, &s.UTime, &s.STime,
		&s.CUTime, &s.CSTime, &s.Priority, &s.Nice, &s.NumThreads,
		&s.ItRealValue, &s.StartTime, &s.VSize, &s.RSS, &s.RSSLim,
		&s.StartCode, &s.EndCode, &s.StartStack, &s.KStkESP, &s.KStkEIP,
		&s.Signal, &s.Blocked, &s.SigIgnore, &s.SigCatch, &s.WChan,
		&s.NSwap, &s.CNSwap, &s.ExitSignal, &s.Processor, &s.RTPriority,
		&s.Policy, &s.DelayAcctBlkIOTicks, &s.GuestTime, &s.CGuestTime,
		&s.StartData, &s.EndData, &s.StartBrk, &s.ArgStart, &s.ArgEnd,
		&s.EnvStart, &s.EnvEnd, &s.ExitCode,
	}
}

// ParseStat parses the contents of /proc/PID/stat. The comm field may hold
// spaces, parentheses and newlines, so it runs from the first '(' to the
// last ')'. Fields after the 52nd, which newer kernels might add, are
// ignored.
func ParseStat(b []byte) (ProcStat, error) {
	var s ProcStat
	str := trimNL(string(b))
	open := strings.IndexByte(str, '(')
	shut := strings.LastIndexByte(str, ')')
	if open < 0 || shut < open {
		return s, formatError("no (comm) in stat")
	}
	pid, err := parseInt(strings.TrimSpace(str[:open]), 64)
	if err != nil {
		return s, err
	}
	s.PID, s.Comm = pid, str[open+1:shut]
	rest, ok := strings.CutPrefix(str[shut+1:], " ")
	if !ok {
		return s, formatError("no space after comm")
	}
	return s, s.parseFields(rest)
}

// parseFields parses the space-separated fields 3 to 52.
func (s *ProcStat) parseFields(rest string) error {
	fields := strings.SplitN(rest, " ", statFields-1)
	if len(fields) < statFields-2 {
		return formatError("stat has %d fields, want %d", len(fields)+2, statFields)
	}
	if len(fields[0]) != 1 {
		return formatError("bad state %q", clip(fields[0]))
	}
	s.State = fields[0][0]
	for i, p := range s.numeric() {
		if err := parseStatField(fields[i+1], p); err != nil {
			return fmt.Errorf("field %d: %w", i+4, err)
		}
	}
	return nil
}

// parseStatField parses one numeric field into p, an *int64 or *uint64.
func parseStatField(f string, p any) error {
	var err error
	switch p := p.(type) {
	case *int64:
		*p, err = parseInt(f, 64)
	case *uint64:
		*p, err = parseDec(f, 64)
	}
	return err
}
