package restorer_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/migrate-dev/migrate/restorer"
)

// sleepLayout returns the layout of a sleep process that is gone by then,
// so that its PID is free for a Stream.
func sleepLayout(t *testing.T) *image.Checkpoint {
	t.Helper()
	testutil.RequireRoot(t)
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s, err := dumper.Seize(cmd.Process.Pid)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	vmas, err := s.Mappings()
	var layout *image.Checkpoint
	if err == nil {
		layout, err = s.Layout(vmas)
	}
	s.Kill()
	cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return layout
}

func vmasOf(c *image.Checkpoint) []image.VMA { return c.Processes[0].MM.VMAs }

// TestStreamRefusesBadLayouts: layouts and pages from a source are checked
// like an image: each refusal names the problem, and the half-built
// process is killed by Abort.
func TestStreamRefusesBadLayouts(t *testing.T) {
	layout := sleepLayout(t)
	s, err := restorer.BeginStream(context.Background(), layout)
	if err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	defer func() {
		s.Abort()
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("pid %d survives Abort", pid)
		}
	}()
	var anon, vdso int = -1, -1
	for i, v := range vmasOf(layout) {
		switch {
		case v.Kind == image.VMAVDSO:
			vdso = i
		case v.Kind != image.VMAFile && !v.Kind.Special() && anon < 0 && v.Prot&image.ProtWrite != 0:
			anon = i // the stack at least
		}
	}
	if anon < 0 || vdso < 0 {
		t.Fatalf("sleep has no writable anonymous mapping (not even a stack) or no vdso: %v", vmasOf(layout))
	}
	edited := func(edit func([]image.VMA) []image.VMA) *image.Checkpoint {
		c := *layout
		c.Processes = slices.Clone(layout.Processes)
		c.Processes[0].MM.VMAs = edit(slices.Clone(vmasOf(layout)))
		return &c
	}
	for _, tc := range []struct {
		name  string
		c     *image.Checkpoint
		fresh []restorer.Range
		want  string
	}{
		{"changed, not sent anew", edited(func(vs []image.VMA) []image.VMA {
			vs[anon].Prot &^= image.ProtWrite
			return vs
		}), nil, "changed but is not sent anew"},
		{"vdso moved", edited(func(vs []image.VMA) []image.VMA {
			vs[vdso].Start, vs[vdso].End = vs[vdso].Start-1<<30, vs[vdso].End-1<<30
			slices.SortFunc(vs, func(a, b image.VMA) int { return int(int64(a.Start>>12) - int64(b.Start>>12)) })
			return vs
		}), nil, "moved"},
		{"overlapping mappings", edited(func(vs []image.VMA) []image.VMA {
			vs[0].End = vs[1].Start + image.PageSize
			return vs
		}), nil, "overlaps"},
		{"over the restore area", edited(func(vs []image.VMA) []image.VMA {
			// The first place the restorer tries for its area.
			v := image.VMA{Start: 0x2000_0000_0000, End: 0x2000_0000_1000, Prot: image.ProtRead | image.ProtWrite,
				Flags: image.MapPrivate | image.MapAnonymous, Kind: image.VMAAnon}
			vs = append(vs, v)
			slices.SortFunc(vs, func(a, b image.VMA) int { return int(int64(a.Start>>12) - int64(b.Start>>12)) })
			return vs
		}), []restorer.Range{{Start: 0x2000_0000_0000, End: 0x2000_0000_1000}}, "restore area"},
		{"another pid", func() *image.Checkpoint {
			c := edited(func(vs []image.VMA) []image.VMA { return vs })
			c.Processes[0].PID++
			return c
		}(), nil, "layout of pid"},
	} {
		err := s.Update(tc.c, tc.fresh)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Pages only where the layout takes them.
	page := make([]byte, image.PageSize)
	for _, tc := range []struct {
		name string
		addr uint64
		want string
	}{
		{"outside the mappings", 0x1000, "outside the process's mappings"},
		{"into the vdso", vmasOf(layout)[vdso].Start, "does not take page contents"},
		{"misaligned", vmasOf(layout)[anon].Start + 8, "malformed"},
	} {
		err := s.WriteBatch(func(fn func(uint64, []byte, bool, uint64) error) error {
			return fn(tc.addr, page, false, 1)
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("page %s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// A good page still goes in (the lowest page of the stack, say).
	err = s.WriteBatch(func(fn func(uint64, []byte, bool, uint64) error) error {
		return fn(vmasOf(layout)[anon].Start, page, false, 1)
	})
	if err != nil {
		t.Errorf("a page into a writable anonymous mapping: %v", err)
	}
}

// TestStreamRoundDone: a read-only mapping opened to take a page gets its
// own protection back at RoundDone, and opens again for the next round's.
func TestStreamRoundDone(t *testing.T) {
	layout := sleepLayout(t)
	s, err := restorer.BeginStream(context.Background(), layout)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	ro := slices.IndexFunc(vmasOf(layout), func(v image.VMA) bool {
		return v.Kind == image.VMAFile && v.CarriesPages() && v.Prot == image.ProtRead
	})
	if ro < 0 {
		t.Skip("sleep has no read-only private file mapping here")
	}
	v := vmasOf(layout)[ro]
	perms := func() string {
		maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", s.PID()))
		prefix := fmt.Sprintf("%x-", v.Start)
		for line := range strings.Lines(string(maps)) {
			if strings.HasPrefix(line, prefix) {
				return strings.Fields(line)[1]
			}
		}
		return "(not mapped)"
	}
	page := make([]byte, image.PageSize)
	write := func() {
		t.Helper()
		if err := s.WriteBatch(func(fn func(uint64, []byte, bool, uint64) error) error { return fn(v.Start, page, false, 1) }); err != nil {
			t.Fatal(err)
		}
	}
	write()
	if p := perms(); p != "rw-p" {
		t.Fatalf("mapping %#x-%#x is %s while it takes pages, want rw-p", v.Start, v.End, p)
	}
	if err := s.RoundDone(); err != nil {
		t.Fatal(err)
	}
	if p := perms(); p != "r--p" {
		t.Fatalf("mapping %#x-%#x is %s after RoundDone, want r--p", v.Start, v.End, p)
	}
	write()
	if p := perms(); p != "rw-p" {
		t.Fatalf("mapping %#x-%#x is %s in the next round, want rw-p", v.Start, v.End, p)
	}
}

// TestStreamFill: the first copy of a page into an anonymous mapping made
// in the round goes in by UFFDIO_COPY (FilledPages counts it), a page sent
// twice in the round is written over, the mapping is registered only until
// the round ends, and the next round writes into it, present pages or not,
// as before. Without the userfaultfd FilledPages stays 0 and the test
// fails; without the close at RoundDone the registration is still seen.
func TestStreamFill(t *testing.T) {
	layout := sleepLayout(t)
	const base, npages = 0x200000000000, 64
	vmas := vmasOf(layout)
	extra := image.VMA{Start: base, End: base + npages*image.PageSize, Prot: image.ProtRead | image.ProtWrite,
		Flags: image.MapPrivate | image.MapAnonymous, Kind: image.VMAAnon}
	i, _ := slices.BinarySearchFunc(vmas, extra.Start, func(v image.VMA, a uint64) int { return cmp.Compare(v.Start, a) })
	layout.Processes[0].MM.VMAs = slices.Insert(vmas, i, extra)
	s, err := restorer.BeginStream(context.Background(), layout)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	page := func(b byte) []byte { return bytes.Repeat([]byte{b}, image.PageSize) }
	data := bytes.Join([][]byte{page(1), page(2), page(3), page(4)}, nil)
	write := func(runs ...func(fn func(uint64, []byte, bool, uint64) error) error) {
		t.Helper()
		for _, run := range runs {
			if err := s.WriteBatch(run); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func(addr uint64, d []byte) func(fn func(uint64, []byte, bool, uint64) error) error {
		return func(fn func(uint64, []byte, bool, uint64) error) error {
			return fn(addr, d, false, uint64(len(d))/image.PageSize)
		}
	}
	// Pages 0-3, then 2-5 (2 and 3 again, over present pages).
	write(run(base, data), run(base+2*image.PageSize, bytes.Join([][]byte{page(5), page(6), page(7), page(8)}, nil)))
	if got := s.Stats().FilledPages; got != 6 {
		t.Errorf("FilledPages %d after 8 pages (6 distinct) into a new mapping, want 6", got)
	}
	registered := func() bool {
		smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", s.PID()))
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(string(smaps), fmt.Sprintf("%x-", base))
		_, flags, _ := strings.Cut(rest, "VmFlags:")
		flags, _, _ = strings.Cut(flags, "\n")
		return slices.Contains(strings.Fields(flags), "um")
	}
	if !registered() {
		t.Error("the new mapping is not registered for missing pages during its round")
	}
	if err := s.RoundDone(); err != nil {
		t.Fatal(err)
	}
	if registered() {
		t.Fatal("the mapping is still registered after RoundDone")
	}
	// Next round: page 1 (present) and page 9 (missing) by process_vm_writev.
	write(run(base+image.PageSize, page(9)), run(base+9*image.PageSize, page(10)))
	if got := s.Stats().FilledPages; got != 6 {
		t.Errorf("FilledPages %d after the next round's writes, want still 6", got)
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", s.PID()))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	got := make([]byte, 10*image.PageSize)
	if _, err := mem.ReadAt(got, base); err != nil {
		t.Fatal(err)
	}
	for p, want := range []byte{1, 9, 5, 6, 7, 8, 0, 0, 0, 10} {
		if !bytes.Equal(got[p*image.PageSize:(p+1)*image.PageSize], page(want)) {
			t.Errorf("page %d holds %d..., want all %d", p, got[p*image.PageSize], want)
		}
	}
}
