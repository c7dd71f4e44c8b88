package restorer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/fileid"
	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/migrate-dev/migrate/restorer"
)

// rewrite copies the checkpoint in src to dst with edit applied, as an
// attacker with write access to an image could.
func rewrite(t *testing.T, src, dst string, edit func(*image.Checkpoint)) {
	t.Helper()
	d, err := image.OpenDir(src)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	edit(c)
	w, err := image.CreateDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Processes {
		pr, err := d.OpenPages(p.PID)
		if err != nil {
			t.Fatal(err)
		}
		pf, err := w.CreatePages(p.PID)
		if err != nil {
			t.Fatal(err)
		}
		err = pr.Each(func(r image.PageRun, data []byte) error {
			if r.Kind == image.PageZero {
				return pf.AddZero(r.Addr, uint64(r.NPages))
			}
			return pf.AddData(r.Addr, data)
		})
		pr.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := pf.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteCheckpoint(c); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
}

// sleeper checkpoints (and kills) a `sleep` running as uid/gid 65534.
func sleeper(t *testing.T, uid uint32) (pid int, img string) {
	t.Helper()
	testutil.RequireRoot(t)
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	img = filepath.Join(t.TempDir(), "img")
	checkpointKill(t, cmd, img)
	return cmd.Process.Pid, img
}

// addMapping appends a mapping of path to the image's process.
func addMapping(t *testing.T, path string, flags, prot uint32) func(*image.Checkpoint) {
	id, err := fileid.Of(path)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *image.Checkpoint) {
		p := &c.Processes[0]
		v := image.VMA{Start: 0x10000000, End: 0x10001000, Prot: prot, Flags: flags, Kind: image.VMAFile, File: &id, Name: path}
		p.MM.VMAs = append([]image.VMA{v}, p.MM.VMAs...)
	}
}

func assertFree(t *testing.T, pid int) {
	t.Helper()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("pid %d exists after a refused restore", pid)
	}
}

// TestForeignFileRefused: an image edited to map a root-only file into a
// non-root process is refused, because files are opened as the process.
func TestForeignFileRefused(t *testing.T) {
	pid, img := sleeper(t, 65534)
	bad := filepath.Join(t.TempDir(), "bad")
	rewrite(t, img, bad, addMapping(t, "/etc/shadow", image.MapPrivate, image.ProtRead))
	_, err := restorer.Restore(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "open /etc/shadow as uid 65534") || !errors.Is(err, syscall.EACCES) {
		t.Fatalf("restore of an image mapping /etc/shadow into uid 65534: %v", err)
	}
	t.Log(err)
	assertFree(t, pid)
	restored(t, img) // the unedited image restores
}

// TestForeignDescriptorRefused: the same for an open descriptor, opened in
// the batch of the files step: the error names the descriptor and the
// open, and nothing is left.
func TestForeignDescriptorRefused(t *testing.T) {
	pid, img := sleeper(t, 65534)
	bad := filepath.Join(t.TempDir(), "bad")
	rewrite(t, img, bad, func(c *image.Checkpoint) {
		p := &c.Processes[0]
		p.FDs = append(p.FDs, image.FD{Num: 9, Kind: image.FDFile, Path: "/etc/shadow", Flags: syscall.O_RDONLY})
	})
	_, err := restorer.Restore(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "fd 9: open /etc/shadow as uid 65534") || !errors.Is(err, syscall.EACCES) {
		t.Fatalf("restore of an image with /etc/shadow open in uid 65534: %v", err)
	}
	t.Log(err)
	assertFree(t, pid)
}

// TestSharedWritableNeedsWrite: a shared mapping may be writable only if
// the process's user may write the file; read-only it is fine.
func TestSharedWritableNeedsWrite(t *testing.T) {
	pid, img := sleeper(t, 65534)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // the test's own temp root
	f := filepath.Join(dir, "shared.dat")
	os.WriteFile(f, make([]byte, 4096), 0o644)
	rw := filepath.Join(t.TempDir(), "rw")
	rewrite(t, img, rw, addMapping(t, f, image.MapShared, image.ProtRead|image.ProtWrite))
	_, err := restorer.Restore(context.Background(), rw)
	if err == nil || !strings.Contains(err.Error(), "open "+f) || !errors.Is(err, syscall.EACCES) {
		t.Fatalf("writable shared mapping of a read-only file: %v", err)
	}
	assertFree(t, pid)
	ro := filepath.Join(t.TempDir(), "ro")
	rewrite(t, img, ro, addMapping(t, f, image.MapShared, image.ProtRead))
	res := restored(t, ro)
	maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", res.PID))
	if !strings.Contains(string(maps), "10000000-10001000 r--s 00000000") {
		t.Errorf("read-only shared mapping not restored:\n%s", maps)
	}
}

// TestChangedFile: a file whose contents changed since the checkpoint is
// refused with its name; once it is back, the restore works.
func TestChangedFile(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	p := startWorkload(t, "fds", dir, "nopipe")
	img := filepath.Join(t.TempDir(), "img")
	if _, err := dumper.Checkpoint(context.Background(), p.PID, img, dumper.Options{Kill: true}); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	ro := filepath.Join(dir, "ro.txt")
	orig, err := os.ReadFile(ro)
	if err != nil {
		t.Fatal(err)
	}
	changed := append([]byte(nil), orig...)
	changed[7] ^= 1
	os.WriteFile(ro, changed, 0o644)
	_, err = restorer.Restore(context.Background(), img)
	if !errors.Is(err, fileid.ErrMismatch) || !strings.Contains(err.Error(), ro) {
		t.Fatalf("restore with %s changed: %v", ro, err)
	}
	t.Log(err)
	assertFree(t, p.PID)
	os.WriteFile(ro, orig, 0o644)
	restored(t, img)
	if err := p.Verify(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestBadImages: corrupted, truncated and incomplete images and a taken PID
// each give a clear error and leave no process behind.
func TestBadImages(t *testing.T) {
	testutil.RequireRoot(t)
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	img := filepath.Join(t.TempDir(), "img")
	if _, err := dumper.Checkpoint(context.Background(), pid, img, dumper.Options{}); err != nil {
		t.Fatal(err)
	}
	_, err := restorer.Restore(context.Background(), img)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d is in use", pid)) {
		t.Errorf("restore over a live pid: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	for _, tc := range []struct {
		name string
		harm func(dir string)
		want string
	}{
		{"page byte flipped", func(dir string) { flip(t, filepath.Join(dir, image.PagesFile(int32(pid))), 5000) }, "checksum mismatch"},
		{"checkpoint.img flipped", func(dir string) { flip(t, filepath.Join(dir, image.CheckpointFile), 100) }, "checkpoint.img"},
		{"checkpoint.img truncated", func(dir string) { os.Truncate(filepath.Join(dir, image.CheckpointFile), 50) }, "checkpoint.img"},
		{"no COMPLETE", func(dir string) { os.Remove(filepath.Join(dir, image.CompleteFile)) }, "incomplete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "img")
			copyDir(t, img, dir)
			tc.harm(dir)
			_, err := restorer.Restore(context.Background(), dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line containing %q", err, tc.want)
			}
			t.Log(err)
			assertFree(t, pid)
		})
	}
}

func flip(t *testing.T, path string, off int64) {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) <= off {
		t.Fatalf("flip %s at %d: %v (%d bytes)", path, off, err, len(b))
	}
	b[off] ^= 0x40
	os.WriteFile(path, b, 0o600)
}

func copyDir(t *testing.T, src, dst string) {
	os.MkdirAll(dst, 0o700)
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(src, e.Name()))
		os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600)
	}
}

// TestBatchedCallFails: an image with an rseq area the kernel refuses
// fails the restore inside the batch of the process state (calls after
// it in the batch run all the same), naming the call, and leaves no task
// behind.
func TestBatchedCallFails(t *testing.T) {
	pid, img := sleeper(t, 65534)
	bad := filepath.Join(t.TempDir(), "bad")
	rewrite(t, img, bad, func(c *image.Checkpoint) {
		th := &c.Processes[0].Threads[0]
		if th.Rseq == nil {
			t.Skip("the sleeper has no rseq area (glibc before 2.35)")
		}
		th.Rseq.Len = 8 // shorter than struct rseq: EINVAL
	})
	_, err := restorer.Restore(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "restore process state: rseq: ") || !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("restore of an image with an 8-byte rseq area: %v", err)
	}
	t.Log(err)
	assertFree(t, pid)
}
