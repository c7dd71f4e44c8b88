package dumper

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/internal/testutil"
)

// markShared finds the same sharing as comparing every pair: each
// descriptor points at the lowest one of its description, the lowest
// points nowhere. Descriptions are drawn at random, many of one file.
func TestMarkShared(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for iter := range 200 {
		n := 1 + r.IntN(60)
		desc := make(map[int32]int) // fd -> description
		var fds []image.FD
		for num := int32(0); len(fds) < n; num += int32(1 + r.IntN(3)) {
			d := r.IntN(1 + n/3)
			desc[num] = d
			// What sharing descriptors have in common follows from the
			// description; others may have it too.
			fds = append(fds, image.FD{Num: num, Path: []string{"/dev/null", "/a"}[d%2], Pos: int64(d % 3)})
		}
		calls := 0
		err := markShared(fds, func(a, b int32) (int, error) {
			calls++
			return cmp.Compare(desc[a], desc[b]), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		lowest := make(map[int]int32)
		for _, f := range fds {
			d := desc[f.Num]
			first, seen := lowest[d]
			if !seen {
				lowest[d] = f.Num
				if f.DupOf != 0 {
					t.Fatalf("#%d: fd %d is the first of its description but DupOf %d", iter, f.Num, f.DupOf)
				}
				continue
			}
			if f.DupOf != first+1 {
				t.Fatalf("#%d: fd %d shares fd %d's description, DupOf %d", iter, f.Num, first, f.DupOf)
			}
		}
		if n >= 40 && calls > n*n/4 {
			t.Errorf("#%d: %d comparisons for %d descriptors", iter, calls, n)
		}
	}
}

// A failed comparison is the error.
func TestMarkSharedError(t *testing.T) {
	fds := []image.FD{{Num: 1, Path: "/dev/null"}, {Num: 2, Path: "/dev/null"}}
	err := markShared(fds, func(a, b int32) (int, error) { return 0, errors.New("kcmp pid 7 fd 1, pid 7 fd 2: EPERM") })
	if err == nil || !strings.Contains(err.Error(), "kcmp") {
		t.Fatalf("err = %v", err)
	}
}

// What a mapping's VmFlags say that cannot be carried is refused, named;
// no reserve is carried as MAP_NORESERVE.
func TestBuildVMAFlags(t *testing.T) {
	anon := func(f procfs.VMFlags) procfs.SmapsEntry {
		var e procfs.SmapsEntry
		e.Start, e.End, e.Perms = 0x10000, 0x20000, procfs.PermRead|procfs.PermWrite
		e.VMFlags = procfs.VMRead | procfs.VMWrite | f
		return e
	}
	for f, want := range map[procfs.VMFlags]string{
		procfs.VMLocked:      "locked memory (mlock)",
		procfs.VMLockOnFault: "locked memory (mlock)",
		procfs.VMShadowStack: "a shadow stack",
		procfs.VMSealed:      "a sealed mapping (mseal)",
		procfs.VMDroppable:   "a droppable mapping (MAP_DROPPABLE)",
	} {
		_, err := buildVMA(1, anon(f), nil)
		if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), want) {
			t.Errorf("VmFlags %#x: %v, want %q not supported", f, err, want)
		}
	}
	m, err := buildVMA(1, anon(procfs.VMNoReserve), nil)
	if err != nil || m.vma.Flags != image.MapPrivate|image.MapAnonymous|image.MapNoreserve {
		t.Errorf("no reserve: flags %#x, %v", m.vma.Flags, err)
	}
	if m, err := buildVMA(1, anon(procfs.VMAccount), nil); err != nil || m.vma.Flags&image.MapNoreserve != 0 {
		t.Errorf("accounted: flags %#x, %v", m.vma.Flags, err)
	}
}

// OpenFiles lists the regular files the process has open, with their
// identities (pre-copy layouts carry them, so that both ends hash them
// before the freeze), and leaves out what is not a regular file.
func TestOpenFiles(t *testing.T) {
	testutil.RequireRoot(t)
	path := filepath.Join(t.TempDir(), "data")
	content := []byte(strings.Repeat("layout ", 1000))
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("sleep", "1000")
	cmd.ExtraFiles = []*os.File{f} // fd 3 in the child; 0-2 are /dev/null
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	s, err := Seize(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	vmas, err := s.Mappings()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Layout(vmas); err != nil {
		t.Fatal(err)
	}
	// sleep may still be starting (the loader holding libc open as fd 4):
	// fd 3 must be there, the /dev/null ones (0-2) must not.
	fds := s.OpenFiles()
	i := slices.IndexFunc(fds, func(f image.FD) bool { return f.Num == 3 })
	if i < 0 || fds[i].Path != path || fds[i].File == nil || slices.ContainsFunc(fds, func(f image.FD) bool { return f.Num < 3 }) {
		t.Fatalf("layout descriptors %+v, want fd 3 on %s and none of 0-2 (/dev/null)", fds, path)
	}
	sum := sha256.Sum256(content)
	if id := fds[i].File; id.Size != int64(len(content)) || !bytes.Equal(id.SHA256, sum[:]) {
		t.Errorf("identity of fd 3: %+v", id)
	}
}
