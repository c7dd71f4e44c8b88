package procfs

import (
	"strings"
)

// Perms are the permission bits of a mapping, the "rwxp" column of maps.
type Perms uint8

// Permission bits. PermShared is set for "s" (MAP_SHARED) and clear for "p".
const (
	PermRead Perms = 1 << iota
	PermWrite
	PermExec
	PermShared
)

// String formats p as maps does, e.g. "r-xp".
func (p Perms) String() string {
	b := []byte("---p")
	if p&PermRead != 0 {
		b[0] = 'r'
	}
	if p&PermWrite != 0 {
		b[1] = 'w'
	}
	if p&PermExec != 0 {
		b[2] = 'x'
	}
	if p&PermShared != 0 {
		b[3] = 's'
	}
	return string(b)
}

// deletedSuffix is appended by the kernel to paths of unlinked files.
const deletedSuffix = " (deleted)"

// Mapping is one line of /proc/PID/maps.
type Mapping struct {
	Start, End uint64 // [Start, End), Start < End
	Perms      Perms
	Offset     uint64 // file offset in bytes
	DevMajor   uint32
	DevMinor   uint32
	Inode      uint64
	// Path is the file path or a pseudo-path such as "[heap]", "[stack]",
	// "[vdso]" or "[anon:name]"; empty for unnamed anonymous memory. The
	// " (deleted)" suffix is removed and reported in Deleted; a live file
	// whose name really ends in " (deleted)" is indistinguishable here.
	// Newlines in file names appear as the kernel escapes them ("\012").
	Path    string
	Deleted bool
}

// Size returns End - Start.
func (m Mapping) Size() uint64 { return m.End - m.Start }

// IsAnon reports whether m is anonymous memory without a file or kernel
// pseudo-path: unnamed, or named with prctl(PR_SET_VMA_ANON_NAME).
// Shared anonymous memory is backed by a shmem file ("/dev/zero (deleted)")
// and is not reported here.
func (m Mapping) IsAnon() bool {
	return m.Path == "" || strings.HasPrefix(m.Path, "[anon:") ||
		strings.HasPrefix(m.Path, "[anon_shmem:")
}

// IsSpecial reports whether m has a kernel pseudo-path such as "[heap]",
// "[stack]", "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]" or
// "[uprobes]". Named anonymous memory ("[anon:name]") is not special.
func (m Mapping) IsSpecial() bool {
	return strings.HasPrefix(m.Path, "[") && !m.IsAnon()
}

// IsFile reports whether m maps a file reachable by an absolute path
// (possibly deleted, or a memfd/shmem file such as "/memfd:name").
func (m Mapping) IsFile() bool {
	return strings.HasPrefix(m.Path, "/")
}

// ParseMaps parses the contents of /proc/PID/maps.
func ParseMaps(b []byte) ([]Mapping, error) {
	var ms []Mapping
	n := 0
	for line := range strings.Lines(string(b)) {
		n++
		m, err := parseMapsLine(trimNL(line))
		if err != nil {
			return nil, lineError(n, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// parseMapsLine parses one maps line:
//
//	559e09b99000-559e09b9b000 r--p 00000000 fe:00 247026     /usr/bin/cat
func parseMapsLine(line string) (Mapping, error) {
	var m Mapping
	rng, rest, _ := strings.Cut(line, " ")
	perms, rest, _ := strings.Cut(rest, " ")
	off, rest, _ := strings.Cut(rest, " ")
	dev, rest, _ := strings.Cut(rest, " ")
	ino, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return m, formatError("short maps line %q", clip(line))
	}
	var err error
	if m.Start, m.End, err = parseRange(rng); err != nil {
		return m, err
	}
	if m.Perms, err = parsePerms(perms); err != nil {
		return m, err
	}
	if m.Offset, err = parseHex(off, 64); err != nil {
		return m, err
	}
	if m.DevMajor, m.DevMinor, err = parseDev(dev); err != nil {
		return m, err
	}
	if m.Inode, err = parseDec(ino, 64); err != nil {
		return m, err
	}
	m.Path = strings.TrimLeft(rest, " ")
	if p, ok := strings.CutSuffix(m.Path, deletedSuffix); ok {
		m.Path, m.Deleted = p, true
	}
	return m, nil
}

// parseRange parses "start-end" in hex and requires start < end.
func parseRange(s string) (start, end uint64, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, formatError("bad address range %q", clip(s))
	}
	if start, err = parseHex(a, 64); err != nil {
		return 0, 0, err
	}
	if end, err = parseHex(b, 64); err != nil {
		return 0, 0, err
	}
	if start >= end {
		return 0, 0, formatError("empty address range %q", clip(s))
	}
	return start, end, nil
}

// parsePerms parses the four-character permission column.
func parsePerms(s string) (Perms, error) {
	if len(s) != 4 {
		return 0, formatError("bad permissions %q", clip(s))
	}
	var p Perms
	for i, want := range []byte("rwxs") {
		switch {
		case s[i] == want:
			p |= 1 << i
		case s[i] == '-' && i < 3, s[i] == 'p' && i == 3:
		default:
			return 0, formatError("bad permissions %q", s)
		}
	}
	return p, nil
}

// parseDev parses "major:minor" in hex.
func parseDev(s string) (major, minor uint32, err error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, formatError("bad device %q", clip(s))
	}
	ma, err := parseHex(a, 32)
	if err != nil {
		return 0, 0, err
	}
	mi, err := parseHex(b, 32)
	if err != nil {
		return 0, 0, err
	}
	return uint32(ma), uint32(mi), nil
}
