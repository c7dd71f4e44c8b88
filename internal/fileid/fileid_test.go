package fileid

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestELFBuildID(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	id, err := Of("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	if len(id.BuildID) == 0 {
		t.Skip("/bin/sh has no build-id")
	}
	if len(id.SHA256) != 0 {
		t.Error("ELF file with build-id also hashed")
	}
	if err := Compare(id, id); err != nil {
		t.Error(err)
	}
	_ = exe
}

func TestMismatch(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "data")
	os.WriteFile(p, []byte("hello world"), 0o644)
	a, err := Of(p)
	if err != nil || len(a.SHA256) != 32 || a.Size != 11 {
		t.Fatalf("%+v %v", a, err)
	}
	os.WriteFile(p, []byte("hello World"), 0o644)
	b, _ := Of(p)
	if err := Compare(a, b); !errors.Is(err, ErrMismatch) {
		t.Errorf("same size, other content: %v", err)
	}
	os.WriteFile(p, []byte("hello"), 0o644)
	c, _ := Of(p)
	if err := Compare(a, c); !errors.Is(err, ErrMismatch) {
		t.Errorf("other size: %v", err)
	}
}

func FuzzFindBuildID(f *testing.F) {
	f.Add([]byte("\x04\x00\x00\x00\x04\x00\x00\x00\x03\x00\x00\x00GNU\x00abcd"))
	f.Fuzz(func(t *testing.T, b []byte) {
		findBuildID(b, leOrder{})
	})
}

type leOrder struct{}

func (leOrder) Uint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// TestCacheRevalidates: a cached identity is not reused once the file
// changed, even at the same size.
func TestCacheRevalidates(t *testing.T) {
	p := filepath.Join(t.TempDir(), "data")
	os.WriteFile(p, []byte("hello world"), 0o644)
	var c Cache
	a, err := c.Of(p)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Of(p); Compare(a, again) != nil {
		t.Fatal("unchanged file identified differently")
	}
	os.WriteFile(p, []byte("hello World"), 0o644)
	b, err := c.Of(p)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(Compare(a, b), ErrMismatch) {
		t.Error("cache returned the identity of the file as it was before")
	}
	if _, err := c.Of(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// A FIFO is identified without waiting for a writer (an open for reading
// would block): by its type alone.
func TestOfFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		id, err := Of(path)
		if err == nil && (id.Mode&0o170000 != 0o010000 || id.SHA256 != nil) {
			err = fmt.Errorf("identity %+v", id)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Of blocked on a FIFO")
	}
}
