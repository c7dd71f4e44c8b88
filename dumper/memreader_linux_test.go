package dumper

import (
	"bytes"
	"os"
	"slices"
	"testing"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/internal/testutil"
	"golang.org/x/sys/unix"
)

// pageCollector is a PageSink that keeps what it gets.
type pageCollector struct {
	data map[uint64][]byte
	zero map[uint64]bool
}

func newPageCollector() *pageCollector {
	return &pageCollector{data: map[uint64][]byte{}, zero: map[uint64]bool{}}
}

func (c *pageCollector) AddData(addr uint64, data []byte) error {
	for i := 0; i < len(data); i += pageSize {
		c.data[addr+uint64(i)] = slices.Clone(data[i : i+pageSize])
	}
	return nil
}

func (c *pageCollector) AddZero(addr uint64, npages uint64) error {
	for i := range npages {
		c.zero[addr+i*pageSize] = true
	}
	return nil
}

// TestMemReaderSkips reads this process's own memory: a tolerant copy
// leaves out a page that is not mapped and reports it (Skipped); later
// copies, tolerant or not, with the page mapped again, carry every page.
// Chunk buffers are reused from copy to copy, and a reused chunk once
// kept the skip marks of its last use: pages were left out silently,
// in the frozen last round of a migration too.
func TestMemReaderSkips(t *testing.T) {
	const n = 4
	mem := testutil.MapPages(t, n)
	for i := range mem {
		mem[i] = byte(i/pageSize + 1)
	}
	start := testutil.AddrOf(mem)
	hole := start + pageSize
	if _, _, errno := unix.Syscall(unix.SYS_MUNMAP, uintptr(hole), pageSize, 0); errno != 0 {
		t.Fatal(errno)
	}
	r, err := NewMemReader(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	spans := []Span{{Start: start, End: start + n*pageSize, Readable: true}}

	r.SetTolerant(true)
	c := newPageCollector()
	if err := r.Copy(spans, c); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.data[hole]; ok || len(c.data) != n-1 {
		t.Fatalf("tolerant copy with page %#x unmapped: got pages %v", hole, keys(c.data))
	}
	if got, want := r.Skipped(), []Span{{Start: hole, End: hole + pageSize, Readable: true}}; !slices.Equal(got, want) {
		t.Fatalf("Skipped() = %v, want %v", got, want)
	}
	if got := r.Skipped(); len(got) != 0 {
		t.Fatalf("second Skipped() = %v, want nothing", got)
	}

	// Map the page again and copy often enough to reuse every chunk.
	if _, _, errno := unix.Syscall6(unix.SYS_MMAP, uintptr(hole), pageSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED, ^uintptr(0), 0); errno != 0 {
		t.Fatal(errno)
	}
	mem[pageSize] = 2
	for _, tolerant := range []bool{true, false, false, false, false} {
		r.SetTolerant(tolerant)
		c := newPageCollector()
		if err := r.Copy(spans, c); err != nil {
			t.Fatal(err)
		}
		for i := range uint64(n) {
			if p := c.data[start+i*pageSize]; p == nil || !bytes.Equal(p, mem[i*pageSize:(i+1)*pageSize]) {
				t.Fatalf("copy (tolerant %v): page %d missing or wrong (have pages %v)", tolerant, i, keys(c.data))
			}
		}
		if got := r.Skipped(); len(got) != 0 {
			t.Fatalf("Skipped() = %v after a complete copy", got)
		}
	}
}

func keys(m map[uint64][]byte) []uint64 {
	var out []uint64
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestWantedMarkers: a PTE marker (what userfaultfd write-protection
// leaves on empty pages and on dropped private file pages) shows in
// pagemap as swapped with the last swap type; it is no page of the
// process's own. A page really swapped out is.
func TestWantedMarkers(t *testing.T) {
	const swapped = 1 << 62
	anon := mapping{vma: image.VMA{Kind: image.VMAAnon, Flags: image.MapPrivate}, content: contentPrivate}
	file := mapping{vma: image.VMA{Kind: image.VMAFile, Flags: image.MapPrivate}, content: contentPrivate}
	s := &pageSaver{}
	for _, tc := range []struct {
		e          procfs.PagemapEntry
		anon, file bool
	}{
		{0, false, false},
		{swapped | pteMarkerSwapType, false, false},
		{swapped | 0, true, true},
		{swapped | 3<<5 | 1, true, true},
	} {
		if got := s.wanted(anon, tc.e); got != tc.anon {
			t.Errorf("wanted(anonymous, %#x) = %v", uint64(tc.e), got)
		}
		if got := s.wanted(file, tc.e); got != tc.file {
			t.Errorf("wanted(private file, %#x) = %v", uint64(tc.e), got)
		}
	}
}

func TestUnordered(t *testing.T) {
	v := func(s, e uint64) image.VMA { return image.VMA{Start: s, End: e} }
	for _, tc := range []struct {
		vmas []image.VMA
		want int
	}{
		{nil, -1},
		{[]image.VMA{v(0x1000, 0x3000), v(0x3000, 0x4000), v(0x8000, 0x9000)}, -1},
		// A mapping that grew while maps was read, listed twice.
		{[]image.VMA{v(0x1000, 0x3000), v(0x5000, 0x6000), v(0x5000, 0x9000)}, 2},
		{[]image.VMA{v(0x5000, 0x6000), v(0x1000, 0x2000)}, 1},
	} {
		if got := unordered(tc.vmas); got != tc.want {
			t.Errorf("unordered(%v) = %d, want %d", tc.vmas, got, tc.want)
		}
	}
}
