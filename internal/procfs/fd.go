package procfs

import (
	"strings"
)

// FDKind classifies an open file by its /proc/PID/fd/N link target.
type FDKind uint8

// File kinds. FDFile covers everything reachable by path: regular files,
// directories, devices and FIFOs; stat the fd to tell them apart.
const (
	FDUnknown     FDKind = iota
	FDFile               // "/path"
	FDMemfd              // "/memfd:name (deleted)"
	FDPipe               // "pipe:[ino]"
	FDSocket             // "socket:[ino]"
	FDNamespace          // "net:[ino]", "mnt:[ino]", ...
	FDEventfd            // "anon_inode:[eventfd]"
	FDEpoll              // "anon_inode:[eventpoll]"
	FDInotify            // "anon_inode:inotify"
	FDFanotify           // "anon_inode:[fanotify]"
	FDTimerfd            // "anon_inode:[timerfd]"
	FDSignalfd           // "anon_inode:[signalfd]"
	FDUserfaultfd        // "anon_inode:[userfaultfd]"
	FDPidfd              // "anon_inode:[pidfd]"
	FDIOUring            // "anon_inode:[io_uring]"
	FDPerfEvent          // "anon_inode:[perf_event]"
	FDBPF                // "anon_inode:bpf-map", "anon_inode:bpf-prog", ...
	FDAnonInode          // any other "anon_inode:..."
)

var fdKindNames = [...]string{
	FDUnknown:     "unknown",
	FDFile:        "file",
	FDMemfd:       "memfd",
	FDPipe:        "pipe",
	FDSocket:      "socket",
	FDNamespace:   "namespace",
	FDEventfd:     "eventfd",
	FDEpoll:       "epoll",
	FDInotify:     "inotify",
	FDFanotify:    "fanotify",
	FDTimerfd:     "timerfd",
	FDSignalfd:    "signalfd",
	FDUserfaultfd: "userfaultfd",
	FDPidfd:       "pidfd",
	FDIOUring:     "io_uring",
	FDPerfEvent:   "perf_event",
	FDBPF:         "bpf",
	FDAnonInode:   "anon_inode",
}

// String returns a short lowercase name such as "pipe" or "epoll".
func (k FDKind) String() string {
	if int(k) < len(fdKindNames) {
		return fdKindNames[k]
	}
	return "unknown"
}

// anonInodeKinds maps the name inside "anon_inode:[name]" to a kind.
var anonInodeKinds = map[string]FDKind{
	"eventfd":     FDEventfd,
	"eventpoll":   FDEpoll,
	"inotify":     FDInotify,
	"fanotify":    FDFanotify,
	"timerfd":     FDTimerfd,
	"signalfd":    FDSignalfd,
	"userfaultfd": FDUserfaultfd,
	"pidfd":       FDPidfd,
	"io_uring":    FDIOUring,
	"perf_event":  FDPerfEvent,
}

// nsKinds are the namespace names of nsfs link targets ("net:[4026531833]").
var nsKinds = map[string]bool{
	"cgroup": true, "ipc": true, "mnt": true, "net": true, "pid": true,
	"pid_for_children": true, "time": true, "time_for_children": true,
	"user": true, "uts": true,
}

// ClassifyFD returns the kind of file a /proc/PID/fd/N link target names.
// A file whose path merely starts with "/memfd:" is misreported as a memfd;
// callers that care can check the fd's filesystem with StatFD.
func ClassifyFD(target string) FDKind {
	switch {
	case strings.HasPrefix(target, "/memfd:"):
		return FDMemfd
	case strings.HasPrefix(target, "/"):
		return FDFile
	case strings.HasPrefix(target, "anon_inode:"):
		return classifyAnon(strings.TrimPrefix(target, "anon_inode:"))
	}
	kind, ino, ok := strings.Cut(target, ":")
	if !ok || !isBracketedNumber(ino) {
		return FDUnknown
	}
	switch {
	case kind == "pipe":
		return FDPipe
	case kind == "socket":
		return FDSocket
	case nsKinds[kind]:
		return FDNamespace
	}
	return FDUnknown
}

// classifyAnon classifies the name after "anon_inode:".
func classifyAnon(name string) FDKind {
	if strings.HasPrefix(name, "bpf") {
		return FDBPF
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if k, ok := anonInodeKinds[inner]; ok {
		return k
	}
	return FDAnonInode
}

// isBracketedNumber reports whether s is "[digits]".
func isBracketedNumber(s string) bool {
	digits, ok := strings.CutPrefix(s, "[")
	digits, ok2 := strings.CutSuffix(digits, "]")
	if !ok || !ok2 || digits == "" {
		return false
	}
	return strings.Trim(digits, "0123456789") == ""
}

// Field is one "key: value" line of a file, both sides trimmed.
type Field struct {
	Key, Value string
}

// FDInfo is the parsed /proc/PID/fdinfo/N.
type FDInfo struct {
	Pos   int64  // file position
	Flags uint32 // open flags (O_*), octal in the file
	MntID int    // mount id, as in /proc/PID/mountinfo
	Ino   uint64 // inode number; 0 before Linux 5.14
	// Extra holds the remaining lines in file order, such as
	// "eventfd-count", "tfd" (one per epoll target), "inotify wd",
	// "sigmask" or "clockid". A line without a colon is a Key with an
	// empty Value.
	Extra []Field
}

// Get returns the value of the first Extra field named key.
func (fi FDInfo) Get(key string) (string, bool) {
	for _, f := range fi.Extra {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Bits recording which required fdinfo keys were seen.
const (
	seenPos = 1 << iota
	seenFlags
	seenMntID
	seenRequired = seenPos | seenFlags | seenMntID
)

// ParseFDInfo parses the contents of /proc/PID/fdinfo/N. The pos, flags
// and mnt_id lines are required.
func ParseFDInfo(b []byte) (FDInfo, error) {
	var (
		fi   FDInfo
		seen int
		n    int
	)
	for line := range strings.Lines(string(b)) {
		n++
		key, val, _ := strings.Cut(trimNL(line), ":")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if key == "" && val == "" {
			continue
		}
		bit, err := fi.set(key, val)
		if err != nil {
			return fi, lineError(n, err)
		}
		seen |= bit
	}
	if seen != seenRequired {
		return fi, formatError("fdinfo lacks pos, flags or mnt_id")
	}
	return fi, nil
}

// set stores one fdinfo line. It returns a bit for each required key.
func (fi *FDInfo) set(key, val string) (int, error) {
	switch key {
	case "pos":
		v, err := parseInt(val, 64)
		fi.Pos = v
		return seenPos, err
	case "flags":
		v, err := parseOct(val, 32)
		fi.Flags = uint32(v)
		return seenFlags, err
	case "mnt_id":
		v, err := parseInt(val, 32)
		fi.MntID = int(v)
		return seenMntID, err
	case "ino":
		v, err := parseDec(val, 64)
		fi.Ino = v
		return 0, err
	}
	fi.Extra = append(fi.Extra, Field{Key: key, Value: val})
	return 0, nil
}
