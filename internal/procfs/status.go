package procfs

import (
	"strings"
)

// ProcStatus holds the fields of /proc/PID/status (or task/TID/status) that
// the dumper uses. Keys not listed here are ignored.
type ProcStatus struct {
	Name      string // Name, escaped by the kernel ("\n" for a newline)
	Umask     uint32 // Umask, octal in the file
	HasUmask  bool   // the kernel shows Umask (Linux 4.7 and later)
	State     byte   // first letter of State, e.g. 'S'
	Tgid      int
	Pid       int
	PPid      int
	TracerPid int
	Uid       [4]uint32 // real, effective, saved, filesystem
	Gid       [4]uint32 // real, effective, saved, filesystem
	Groups    []uint32  // supplementary groups; empty for none
	NStgid    []int     // tgid in each pid namespace, outermost first
	NSpid     []int
	NSpgid    []int
	NSsid     []int
	Threads   int
	SigQueued uint64 // SigQ: signals queued for the real uid
	SigLimit  uint64 // SigQ: RLIMIT_SIGPENDING
	SigPnd    uint64 // thread's pending signals
	ShdPnd    uint64 // process-wide pending signals
	SigBlk    uint64
	SigIgn    uint64
	SigCgt    uint64
	CapInh    uint64
	CapPrm    uint64
	CapEff    uint64
	CapBnd    uint64
	CapAmb    uint64
	// NoNewPrivs is the no_new_privs bit.
	NoNewPrivs bool
	// Seccomp is the seccomp mode: 0 off, 1 strict, 2 filter.
	Seccomp int
	// SeccompFilters is the number of attached filters.
	SeccompFilters int
}

// statusSetters maps a status key to the code that stores its value.
var statusSetters = map[string]func(*ProcStatus, string) error{
	"Umask": func(s *ProcStatus, v string) (err error) {
		s.Umask, err = parseUint32(v, 8)
		s.HasUmask = err == nil
		return err
	},
	"State":           (*ProcStatus).setState,
	"Tgid":            intSetter(func(s *ProcStatus) *int { return &s.Tgid }),
	"Pid":             intSetter(func(s *ProcStatus) *int { return &s.Pid }),
	"PPid":            intSetter(func(s *ProcStatus) *int { return &s.PPid }),
	"TracerPid":       intSetter(func(s *ProcStatus) *int { return &s.TracerPid }),
	"Threads":         intSetter(func(s *ProcStatus) *int { return &s.Threads }),
	"Seccomp":         intSetter(func(s *ProcStatus) *int { return &s.Seccomp }),
	"Seccomp_filters": intSetter(func(s *ProcStatus) *int { return &s.SeccompFilters }),
	"Uid":             func(s *ProcStatus, v string) error { return parseIDs(v, &s.Uid) },
	"Gid":             func(s *ProcStatus, v string) error { return parseIDs(v, &s.Gid) },
	"Groups":          (*ProcStatus).setGroups,
	"NStgid":          listSetter(func(s *ProcStatus) *[]int { return &s.NStgid }),
	"NSpid":           listSetter(func(s *ProcStatus) *[]int { return &s.NSpid }),
	"NSpgid":          listSetter(func(s *ProcStatus) *[]int { return &s.NSpgid }),
	"NSsid":           listSetter(func(s *ProcStatus) *[]int { return &s.NSsid }),
	"SigQ":            (*ProcStatus).setSigQ,
	"SigPnd":          hexSetter(func(s *ProcStatus) *uint64 { return &s.SigPnd }),
	"ShdPnd":          hexSetter(func(s *ProcStatus) *uint64 { return &s.ShdPnd }),
	"SigBlk":          hexSetter(func(s *ProcStatus) *uint64 { return &s.SigBlk }),
	"SigIgn":          hexSetter(func(s *ProcStatus) *uint64 { return &s.SigIgn }),
	"SigCgt":          hexSetter(func(s *ProcStatus) *uint64 { return &s.SigCgt }),
	"CapInh":          hexSetter(func(s *ProcStatus) *uint64 { return &s.CapInh }),
	"CapPrm":          hexSetter(func(s *ProcStatus) *uint64 { return &s.CapPrm }),
	"CapEff":          hexSetter(func(s *ProcStatus) *uint64 { return &s.CapEff }),
	"CapBnd":          hexSetter(func(s *ProcStatus) *uint64 { return &s.CapBnd }),
	"CapAmb":          hexSetter(func(s *ProcStatus) *uint64 { return &s.CapAmb }),
	"NoNewPrivs": func(s *ProcStatus, v string) (err error) {
		s.NoNewPrivs, err = parseBool01(v)
		return err
	},
}

// ParseStatus parses the contents of /proc/PID/status.
func ParseStatus(b []byte) (ProcStatus, error) {
	var s ProcStatus
	n := 0
	for line := range strings.Lines(string(b)) {
		n++
		key, val, ok := strings.Cut(trimNL(line), ":")
		if !ok {
			return s, lineError(n, formatError("no colon in %q", clip(line)))
		}
		if key == "Name" {
			s.Name = strings.TrimPrefix(val, "\t")
			continue
		}
		set := statusSetters[key]
		if set == nil {
			continue
		}
		if err := set(&s, strings.TrimSpace(val)); err != nil {
			return s, lineError(n, err)
		}
	}
	return s, nil
}

// setState keeps the state letter of "S (sleeping)".
func (s *ProcStatus) setState(v string) error {
	if v == "" {
		return formatError("empty state")
	}
	s.State = v[0]
	return nil
}

// setGroups parses the space-separated supplementary groups.
func (s *ProcStatus) setGroups(v string) error {
	s.Groups = nil
	for f := range strings.FieldsSeq(v) {
		g, err := parseUint32(f, 10)
		if err != nil {
			return err
		}
		s.Groups = append(s.Groups, g)
	}
	return nil
}

// setSigQ parses "queued/limit".
func (s *ProcStatus) setSigQ(v string) error {
	q, l, ok := strings.Cut(v, "/")
	if !ok {
		return formatError("bad SigQ %q", clip(v))
	}
	var err error
	if s.SigQueued, err = parseDec(q, 64); err != nil {
		return err
	}
	s.SigLimit, err = parseDec(l, 64)
	return err
}

// parseIDs parses the four tab-separated ids of a Uid or Gid line.
func parseIDs(v string, ids *[4]uint32) error {
	fs := strings.Fields(v)
	if len(fs) != len(ids) {
		return formatError("want %d ids, got %q", len(ids), clip(v))
	}
	for i, f := range fs {
		id, err := parseUint32(f, 10)
		if err != nil {
			return err
		}
		ids[i] = id
	}
	return nil
}

// parseUint32 parses an unsigned 32-bit number in the given base.
func parseUint32(s string, base int) (uint32, error) {
	var v uint64
	var err error
	if base == 8 {
		v, err = parseOct(s, 32)
	} else {
		v, err = parseDec(s, 32)
	}
	return uint32(v), err
}

// intSetter returns a setter for a decimal int field.
func intSetter(field func(*ProcStatus) *int) func(*ProcStatus, string) error {
	return func(s *ProcStatus, v string) error {
		n, err := parseInt(v, 32)
		*field(s) = int(n)
		return err
	}
}

// hexSetter returns a setter for a 64-bit hex mask field.
func hexSetter(field func(*ProcStatus) *uint64) func(*ProcStatus, string) error {
	return func(s *ProcStatus, v string) (err error) {
		*field(s), err = parseHex(v, 64)
		return err
	}
}

// listSetter returns a setter for a list of pids.
func listSetter(field func(*ProcStatus) *[]int) func(*ProcStatus, string) error {
	return func(s *ProcStatus, v string) error {
		var ids []int
		for f := range strings.FieldsSeq(v) {
			n, err := parseInt(f, 32)
			if err != nil {
				return err
			}
			ids = append(ids, int(n))
		}
		*field(s) = ids
		return nil
	}
}
