package image

import (
	"github.com/migrate-dev/migrate/internal/atomicfile"

	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
)

// Names of the files of a checkpoint directory.
const (
	CheckpointFile = "checkpoint.img" // the Checkpoint record
	CompleteFile   = "COMPLETE"       // the manifest, written last
	tmpSuffix      = ".tmp"
)

// PageMapFile returns the name of process pid's page map file.
func PageMapFile(pid int32) string { return "pagemap-" + strconv.Itoa(int(pid)) + ".img" }

// PagesFile returns the name of process pid's page data file.
func PagesFile(pid int32) string { return "pages-" + strconv.Itoa(int(pid)) + ".img" }

// DirWriter writes a checkpoint directory. Each file is written under a
// temporary name, fsynced, renamed into place, and the directory fsynced;
// Finish writes COMPLETE last in the same way. A directory whose writer did
// not finish has no COMPLETE and OpenDir refuses it; the caller removes it.
// Methods may be called from several goroutines; a PageFile may not.
type DirWriter struct {
	dir string

	mu       sync.Mutex // guards the fields below
	entries  []manifestEntry
	pids     []int32        // processes of the written checkpoint
	pages    map[int32]bool // processes whose pages were started
	open     int            // PageFiles not yet closed
	broken   error          // first failure of a PageFile
	finished bool
}

// CreateDir creates dir (mode 0700) for a new checkpoint. dir may exist if
// it is empty.
func CreateDir(dir string) (*DirWriter, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("image: %w", err)
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
		if len(ents) > 0 {
			return nil, fmt.Errorf("image: %s is not empty", dir)
		}
	}
	return &DirWriter{dir: dir, pages: make(map[int32]bool)}, nil
}

// WriteCheckpoint validates c and writes it to checkpoint.img.
func (w *DirWriter) WriteCheckpoint(c *Checkpoint) error {
	if err := c.Validate(); err != nil {
		return err
	}
	b, err := EncodeCheckpoint(c)
	if err != nil {
		return err
	}
	pids := make([]int32, len(c.Processes))
	for i := range c.Processes {
		pids[i] = c.Processes[i].PID
	}
	if err := w.reserve(CheckpointFile); err != nil {
		return err
	}
	if err := w.writeFile(CheckpointFile, b); err != nil {
		return w.fail(err)
	}
	w.mu.Lock()
	w.pids = pids
	w.mu.Unlock()
	return nil
}

// reserve fails when name was already written or the writer finished.
func (w *DirWriter) reserve(name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return fmt.Errorf("image: %s: checkpoint already finished", w.dir)
	}
	if slices.ContainsFunc(w.entries, func(e manifestEntry) bool { return e.Name == name }) {
		return fmt.Errorf("image: %s: %s written twice", w.dir, name)
	}
	return nil
}

// writeFile writes a metadata file atomically and records it.
func (w *DirWriter) writeFile(name string, data []byte) error {
	tmp := filepath.Join(w.dir, name+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	_, err = f.Write(data)
	if err := w.commit(f, name, err); err != nil {
		return err
	}
	w.add(manifestEntry{Name: name, Size: uint64(len(data)), CRC: crc32.Checksum(data, castagnoli)})
	return nil
}

// commit fsyncs and closes the temporary file f, renames it to name and
// fsyncs the directory. werr is an earlier write error.
func (w *DirWriter) commit(f *os.File, name string, werr error) error {
	if werr == nil {
		werr = f.Sync()
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(f.Name(), filepath.Join(w.dir, name))
	}
	if werr == nil {
		werr = atomicfile.SyncDir(w.dir)
	}
	if werr != nil {
		return fmt.Errorf("image: writing %s: %w", name, werr)
	}
	return nil
}

func (w *DirWriter) add(e manifestEntry) {
	w.mu.Lock()
	w.entries = append(w.entries, e)
	w.mu.Unlock()
}

// fail records err as the reason the checkpoint cannot finish.
func (w *DirWriter) fail(err error) error {
	w.mu.Lock()
	if w.broken == nil {
		w.broken = err
	}
	w.mu.Unlock()
	return err
}

// Finish checks that the checkpoint and the pages of each of its processes
// were written, then writes COMPLETE. The directory is a valid checkpoint
// only once Finish returns nil.
func (w *DirWriter) Finish() error {
	w.mu.Lock()
	err := w.checkDone()
	entries := slices.Clone(w.entries)
	w.finished = err == nil
	w.mu.Unlock()
	if err != nil {
		return err
	}
	b, err := AppendRecord(nil, RecordManifest, marshalManifest(entries))
	if err != nil {
		return err
	}
	return w.commitComplete(b)
}

// checkDone reports what is missing before COMPLETE may be written.
// Precondition: w.mu is held.
func (w *DirWriter) checkDone() error {
	switch {
	case w.finished:
		return fmt.Errorf("image: %s: checkpoint already finished", w.dir)
	case w.broken != nil:
		return w.broken
	case w.pids == nil:
		return fmt.Errorf("image: %s: no checkpoint written", w.dir)
	case w.open > 0:
		return fmt.Errorf("image: %s: %d page files not closed", w.dir, w.open)
	}
	for _, pid := range w.pids {
		if !w.pages[pid] {
			return fmt.Errorf("image: %s: no pages written for process %d", w.dir, pid)
		}
	}
	return nil
}

func (w *DirWriter) commitComplete(b []byte) error {
	f, err := os.OpenFile(filepath.Join(w.dir, CompleteFile+tmpSuffix), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	_, err = f.Write(b)
	return w.commit(f, CompleteFile, err)
}

// newBufWriter buffers page data writes; large writes bypass the buffer.
func newBufWriter(f *os.File) *bufio.Writer { return bufio.NewWriterSize(f, 256<<10) }
