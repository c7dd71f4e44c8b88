package image

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Dir is an open, complete checkpoint directory. OpenDir has verified
// every file against COMPLETE and holds the metadata payloads in memory.
type Dir struct {
	path    string
	entries map[string]manifestEntry
	meta    map[string][]byte // record payloads of the metadata files
}

// OpenDir opens the checkpoint in dir. It refuses a directory without
// COMPLETE, and checks every file COMPLETE lists: page data files by size,
// metadata files by size, CRC and record framing.
func OpenDir(dir string) (*Dir, error) {
	b, err := readMeta(filepath.Join(dir, CompleteFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(ErrIncomplete, "%s is incomplete (no %s marker): the checkpoint did not finish", dir, CompleteFile)
	}
	if err != nil {
		return nil, inFile(err, CompleteFile)
	}
	payload, err := decodeRecord(b, RecordManifest)
	if err != nil {
		return nil, inFile(err, CompleteFile)
	}
	entries, err := unmarshalManifest(payload)
	if err != nil {
		return nil, inFile(err, CompleteFile)
	}
	d := &Dir{path: dir, entries: entries, meta: make(map[string][]byte)}
	for _, e := range entries {
		if err := d.check(e); err != nil {
			return nil, inFile(err, e.Name)
		}
	}
	if _, ok := d.meta[CheckpointFile]; !ok {
		return nil, errorf(ErrFormat, "%s: %s does not list %s", dir, CompleteFile, CheckpointFile)
	}
	return d, nil
}

// check verifies one listed file.
func (d *Dir) check(e manifestEntry) error {
	name := filepath.Join(d.path, e.Name)
	if e.Data {
		fi, err := os.Stat(name)
		if err != nil {
			return err
		}
		return sizeMatches(uint64(fi.Size()), e.Size)
	}
	b, err := readMeta(name)
	if err != nil {
		return err
	}
	kind, payload, err := ParseRecord(b)
	if err != nil {
		return err
	}
	if uint64(len(b)) != e.Size || crc32.Checksum(b, castagnoli) != e.CRC {
		return errorf(ErrChecksum, "a valid record, but not the one %s records: replaced after the checkpoint finished", CompleteFile)
	}
	if want := metaKind(e.Name); kind != want {
		return errorf(ErrFormat, "record kind %v, want %v", kind, want)
	}
	d.meta[e.Name] = payload
	return nil
}

func sizeMatches(got, want uint64) error {
	if got < want {
		return errorf(ErrTruncated, "%d bytes, %s records %d: truncated after the checkpoint finished", got, CompleteFile, want)
	}
	if got > want {
		return errorf(ErrFormat, "%d bytes, %s records %d: changed after the checkpoint finished", got, CompleteFile, want)
	}
	return nil
}

// metaKind returns the record kind a metadata file must hold.
func metaKind(name string) RecordKind {
	if name == CheckpointFile {
		return RecordCheckpoint
	}
	return RecordPageMap
}

// readMeta reads a whole metadata file, refusing files larger than a
// record can be before reading them.
func readMeta(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > HeaderSize+MaxMetadataSize+TrailerSize {
		return nil, errorf(ErrTooLarge, "%d bytes exceeds the record size limit", fi.Size())
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Path returns the directory.
func (d *Dir) Path() string { return d.path }

// Checkpoint decodes and validates checkpoint.img, and validates every
// process's page map against its VMAs.
func (d *Dir) Checkpoint() (*Checkpoint, error) {
	c, err := Unmarshal(d.meta[CheckpointFile])
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		return nil, inFile(err, CheckpointFile)
	}
	for i := range c.Processes {
		p := &c.Processes[i]
		m, err := d.PageMap(p.PID)
		if err != nil {
			return nil, err
		}
		if err := m.Validate(p.MM.VMAs); err != nil {
			return nil, inFile(err, PageMapFile(p.PID))
		}
	}
	return c, nil
}

// PageMap decodes and validates (without VMAs) the page map of pid.
func (d *Dir) PageMap(pid int32) (*PageMap, error) {
	name := PageMapFile(pid)
	payload, ok := d.meta[name]
	if !ok {
		return nil, errorf(ErrFormat, "%s: no page map for process %d", d.path, pid)
	}
	m, err := UnmarshalPageMap(payload)
	if err == nil && m.PID != pid {
		err = errorf(ErrFormat, "page map of process %d", m.PID)
	}
	if err == nil {
		err = m.Validate(nil)
	}
	if err != nil {
		return nil, inFile(err, name)
	}
	return m, nil
}

// OpenPages opens the page data of pid for reading. Close the reader.
func (d *Dir) OpenPages(pid int32) (*PageReader, error) {
	m, err := d.PageMap(pid)
	if err != nil {
		return nil, err
	}
	name := PagesFile(pid)
	if e, ok := d.entries[name]; !ok || !e.Data {
		return nil, errorf(ErrFormat, "%s: %s does not list %s", d.path, CompleteFile, name)
	}
	f, err := os.Open(filepath.Join(d.path, name))
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		var pr *PageReader
		if pr, err = NewPageReader(m, f, fi.Size()); err == nil {
			pr.file = name
			return pr, nil
		}
	}
	f.Close()
	return nil, inFile(err, name)
}
