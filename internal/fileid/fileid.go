// Package fileid identifies files by content, so that a restore can check
// it opens the file the source process had. Inode numbers and device
// numbers differ between machines and prove nothing; an ELF file is known
// by its GNU build-id, any other file by the SHA-256 of its contents, and
// every file by its size and type.
package fileid

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/migrate-dev/migrate/image"
	"golang.org/x/sys/unix"
)

// maxNote bounds the ELF notes read when looking for a build-id.
const maxNote = 1 << 16

// Of computes the identity of the file at path. It opens without waiting
// (a FIFO's open would block for a writer) and without taking a terminal.
func Of(path string) (image.FileID, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return image.FileID{}, fmt.Errorf("identify %s: %w", path, err)
	}
	defer f.Close()
	return OfFile(path, f)
}

// OfFile computes the identity of an open file; path is recorded as given.
func OfFile(path string, f *os.File) (image.FileID, error) {
	st, err := f.Stat()
	if err != nil {
		return image.FileID{}, fmt.Errorf("identify %s: %w", path, err)
	}
	id := image.FileID{Path: path, Size: st.Size(), Mode: uint32(st.Mode().Perm()) | modeType(st.Mode())}
	if !st.Mode().IsRegular() {
		return id, nil
	}
	if bid := buildID(f); len(bid) > 0 {
		id.BuildID = bid
		return id, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return image.FileID{}, fmt.Errorf("identify %s: hash: %w", path, err)
	}
	id.SHA256 = h.Sum(nil)
	return id, nil
}

// modeType maps Go's file type bits to the st_mode type bits.
func modeType(m os.FileMode) uint32 {
	switch {
	case m.IsRegular():
		return 0o100000
	case m.IsDir():
		return 0o040000
	case m&os.ModeCharDevice != 0:
		return 0o020000
	case m&os.ModeDevice != 0:
		return 0o060000
	case m&os.ModeNamedPipe != 0:
		return 0o010000
	case m&os.ModeSocket != 0:
		return 0o140000
	case m&os.ModeSymlink != 0:
		return 0o120000
	}
	return 0
}

// buildID returns the NT_GNU_BUILD_ID of an ELF file, or nil.
func buildID(r io.ReaderAt) []byte {
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz > maxNote {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			continue
		}
		if id := findBuildID(b, ef.ByteOrder); id != nil {
			return id
		}
	}
	return nil
}

// findBuildID walks ELF notes (namesz, descsz, type, name, desc; 4-byte
// aligned) for the GNU build-id.
func findBuildID(b []byte, bo interface{ Uint32([]byte) uint32 }) []byte {
	for len(b) >= 12 {
		namesz, descsz, typ := bo.Uint32(b), bo.Uint32(b[4:]), bo.Uint32(b[8:])
		b = b[12:]
		nlen, dlen := align4(uint64(namesz)), align4(uint64(descsz))
		if nlen > uint64(len(b)) || dlen > uint64(len(b))-nlen {
			return nil
		}
		name, desc := b[:namesz], b[nlen:nlen+uint64(descsz)]
		if typ == 3 && bytes.Equal(name, []byte("GNU\x00")) {
			return bytes.Clone(desc)
		}
		b = b[nlen+dlen:]
	}
	return nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// ErrMismatch is wrapped by Check when a file differs from its identity.
var ErrMismatch = errors.New("file differs")

// Check verifies that f (opened from want.Path, or elsewhere) is the file
// want describes. The error names the file and what differs.
func Check(want image.FileID, f *os.File) error {
	got, err := OfFile(want.Path, f)
	if err != nil {
		return err
	}
	return Compare(want, got)
}

// Compare reports how got differs from want.
func Compare(want, got image.FileID) error {
	switch {
	case want.Mode&0o170000 != got.Mode&0o170000:
		return fmt.Errorf("%w: %s: type %o, image has %o", ErrMismatch, want.Path, got.Mode&0o170000, want.Mode&0o170000)
	case want.Size != got.Size:
		return fmt.Errorf("%w: %s: size %d, image has %d", ErrMismatch, want.Path, got.Size, want.Size)
	case len(want.BuildID) > 0 && !bytes.Equal(want.BuildID, got.BuildID):
		return fmt.Errorf("%w: %s: build-id %x, image has %x", ErrMismatch, want.Path, got.BuildID, want.BuildID)
	case len(want.SHA256) > 0 && !bytes.Equal(want.SHA256, got.SHA256):
		return fmt.Errorf("%w: %s: content hash %x, image has %x", ErrMismatch, want.Path, got.SHA256[:8], want.SHA256[:8])
	}
	return nil
}

// Cache memoises identities by path (a library mapped five times is read
// once). An entry is reused only while a stat of the file still matches
// (device, inode, size, change and modification times), so one cache can
// serve a whole migration: the rounds pay for reading files, the freeze
// only for a stat each.
type Cache struct {
	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	key statKey
	id  image.FileID
}

type statKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

// Of returns the identity of path, computing it again only if the file
// changed.
func (c *Cache) Of(path string) (image.FileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return image.FileID{}, fmt.Errorf("identify %s: %w", path, &os.PathError{Op: "stat", Path: path, Err: err})
	}
	key := statKey{st.Dev, st.Ino, st.Size, st.Mtim.Nano(), st.Ctim.Nano()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[path]; ok && e.key == key {
		return e.id, nil
	}
	id, err := Of(path)
	if err != nil {
		return id, err
	}
	if c.m == nil {
		c.m = make(map[string]cached)
	}
	c.m[path] = cached{key, id}
	return id, nil
}
