//go:build linux

package procfs

import (
	"os"
	"reflect"
	"testing"

	"github.com/migrate-dev/migrate/internal/testutil"
)

func TestLivePresentRuns(t *testing.T) {
	const pages = 8
	ps := uint64(os.Getpagesize())
	mem := testutil.MapPages(t, pages)
	addr := testutil.AddrOf(mem)
	for _, i := range []uint64{1, 3, 4, 7} {
		mem[i*ps] = 1
	}
	want := []Run{
		{addr + ps, addr + 2*ps},
		{addr + 3*ps, addr + 5*ps},
		{addr + 7*ps, addr + 8*ps},
	}
	runs, err := PresentRuns(os.Getpid(), addr, addr+pages*ps)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(runs, want) {
		t.Fatalf("runs %#x, want %#x", runs, want)
	}

	// One entry per read exercises merging across chunks.
	pm, err := OpenPagemap(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	pm.chunk = 1
	if runs, err = pm.PresentRuns(addr, addr+pages*ps); err != nil || !reflect.DeepEqual(runs, want) {
		t.Fatalf("chunked runs %#x, %v, want %#x", runs, err, want)
	}
	if runs, err = pm.PresentRuns(addr, addr); err != nil || runs != nil {
		t.Fatalf("empty range: %v, %v", runs, err)
	}
}

func TestLiveReadEntries(t *testing.T) {
	ps := uint64(os.Getpagesize())
	mem := testutil.MapPages(t, 4)
	addr := testutil.AddrOf(mem)
	mem[2*ps] = 1
	pm, err := OpenPagemap(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	pm.chunk = 3
	es := make([]PagemapEntry, 4)
	if err := pm.ReadEntries(addr, es); err != nil {
		t.Fatal(err)
	}
	for i, e := range es {
		if e.Present() != (i == 2) || e.Swapped() {
			t.Errorf("page %d: entry %#x", i, uint64(e))
		}
	}
	if !es[2].Exclusive() || es[2].FileOrSharedAnon() {
		t.Errorf("touched anonymous page: entry %#x", uint64(es[2]))
	}
	if es[2].PFN() == 0 {
		t.Log("PFN hidden (no CAP_SYS_ADMIN)")
	}
}

func TestLivePagemapBadRange(t *testing.T) {
	pm, err := OpenPagemap(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	for _, r := range []Run{{1, 4096}, {4096, 4097}, {8192, 4096}} {
		if _, err := pm.PresentRuns(r.Start, r.End); err == nil {
			t.Errorf("range %#x accepted", r)
		}
	}
	if err := pm.ReadEntries(^uint64(0)&^4095, make([]PagemapEntry, 2)); err == nil {
		t.Error("overflowing ReadEntries accepted")
	}
	// Above the user address space the kernel returns no data.
	if _, err := pm.PresentRuns(0xffffffffff600000, 0xffffffffff601000); err == nil {
		t.Error("read of [vsyscall] succeeded")
	}
}
