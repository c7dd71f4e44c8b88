//go:build linux

package procfs

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// findFD returns the fd numbered n from FDs(self).
func findFD(t *testing.T, fds []FD, n int) FD {
	t.Helper()
	i := slices.IndexFunc(fds, func(fd FD) bool { return fd.Num == n })
	if i < 0 {
		t.Fatalf("fd %d not listed", n)
	}
	return fds[i]
}

func TestLiveFDs(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "a file"), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("hello, world"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	efd, err := unix.Eventfd(7, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)

	fds, err := FDs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(fds, func(a, b FD) int { return a.Num - b.Num }) {
		t.Error("fds not sorted")
	}
	file := findFD(t, fds, int(f.Fd()))
	if file.Kind() != FDFile || file.Target != f.Name() || file.Info.Pos != 5 ||
		file.Info.Flags&unix.O_APPEND == 0 || file.Info.Flags&unix.O_ACCMODE != unix.O_RDWR {
		t.Errorf("file fd %+v (flags %#o)", file, file.Info.Flags)
	}
	if p := findFD(t, fds, int(w.Fd())); p.Kind() != FDPipe || p.Info.Flags&unix.O_ACCMODE != unix.O_WRONLY {
		t.Errorf("pipe fd %+v", p)
	}
	ev := findFD(t, fds, efd)
	if c, _ := ev.Info.Get("eventfd-count"); ev.Kind() != FDEventfd || c != "7" {
		t.Errorf("eventfd %+v", ev)
	}
}

func TestLiveStatFD(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	reg, err := os.CreateTemp(t.TempDir(), "reg")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	pid := os.Getpid()
	for _, tt := range []struct {
		f    *os.File
		mode uint32
	}{{null, unix.S_IFCHR}, {reg, unix.S_IFREG}} {
		st, err := StatFD(pid, int(tt.f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode&unix.S_IFMT != tt.mode {
			t.Errorf("%s: mode %#o, want type %#o", tt.f.Name(), st.Mode, tt.mode)
		}
	}
	if st, _ := StatFD(pid, int(null.Fd())); st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("/dev/null rdev %#x", st.Rdev)
	}
	if _, err := StatFD(pid, 1<<20); err == nil {
		t.Error("stat of a closed fd succeeded")
	}
}
