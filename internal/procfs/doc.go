// Package procfs reads and parses the /proc/PID files that the checkpoint
// dumper needs: maps, smaps, stat, status, limits, fd and fdinfo, auxv,
// pagemap and a few single-value files.
//
// Each file format has a pure parser that takes the file's bytes
// (ParseMaps, ParseSmaps, ParseStat, ParseStatus, ParseLimits,
// ParseFDInfo, ParseAuxv, ParsePagemap, AppendPresentRuns). The parsers are
// portable, never panic on malformed input, allocate at most in proportion to
// their input, and return errors that wrap ErrFormat. The readers (Maps,
// Stat, TaskStat, ...) are Linux-only: they read the file of a pid (and tid)
// and call the parser. Their errors name the file read, so they carry the
// pid; I/O errors keep the underlying *fs.PathError and errno, so callers can
// test them with errors.Is(err, fs.ErrNotExist) or errors.Is(err, unix.ESRCH).
//
// The readers do not stop the target. Files such as maps or the fd table are
// only consistent while the target is stopped (ptrace or freezer); on a live
// process FDs skips descriptors that close while it runs.
//
// Pagemap is read with pread on one open file, in chunks of at most
// 64Ki entries (512 KiB), so scanning a large reservation needs bounded memory.
//
// Nothing in this package logs.
package procfs
