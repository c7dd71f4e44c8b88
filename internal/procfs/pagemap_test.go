package procfs

import (
	"encoding/binary"
	"math"
	"reflect"
	"testing"
)

const (
	pmP = pmPresent
	pmS = pmSwapped
)

// pagemapBytes encodes entries as /proc/PID/pagemap does.
func pagemapBytes(es ...uint64) []byte {
	var b []byte
	for _, e := range es {
		b = binary.LittleEndian.AppendUint64(b, e)
	}
	return b
}

func TestAppendPresentRuns(t *testing.T) {
	tests := []struct {
		name     string
		runs     []Run
		in       []byte
		start    uint64
		pageSize uint64
		want     []Run
		wantErr  bool
	}{
		{name: "empty", pageSize: 4096},
		{name: "none present", in: pagemapBytes(0, pmFileShare, pmSoftDirty), start: 0x1000, pageSize: 4096},
		{
			name: "present and swapped", in: pagemapBytes(pmP|123, pmP, 0, pmS|0x21, 0, pmP|pmFileShare),
			start: 0x10000, pageSize: 4096,
			want: []Run{{0x10000, 0x12000}, {0x13000, 0x14000}, {0x15000, 0x16000}},
		},
		{
			name: "extends previous chunk", runs: []Run{{0x1000, 0x3000}}, in: pagemapBytes(pmP, 0, pmP),
			start: 0x3000, pageSize: 4096, want: []Run{{0x1000, 0x4000}, {0x5000, 0x6000}},
		},
		{
			name: "gap from previous chunk", runs: []Run{{0x1000, 0x2000}}, in: pagemapBytes(pmP),
			start: 0x3000, pageSize: 4096, want: []Run{{0x1000, 0x2000}, {0x3000, 0x4000}},
		},
		{name: "last page", in: pagemapBytes(pmP), start: math.MaxUint64 - 0x1fff, pageSize: 4096,
			want: []Run{{math.MaxUint64 - 0x1fff, math.MaxUint64 - 0xfff}}},
		{name: "huge pages", in: pagemapBytes(pmP, pmP), start: 1 << 21, pageSize: 1 << 21,
			want: []Run{{1 << 21, 3 << 21}}},
		{name: "short entry", in: pagemapBytes(pmP)[:7], pageSize: 4096, wantErr: true},
		{name: "unaligned start", in: pagemapBytes(pmP), start: 0x1001, pageSize: 4096, wantErr: true},
		{name: "zero page size", in: pagemapBytes(pmP), pageSize: 0, wantErr: true},
		{name: "odd page size", in: pagemapBytes(pmP), pageSize: 3000, wantErr: true},
		{name: "overflow", in: pagemapBytes(pmP, pmP), start: math.MaxUint64 - 0xfff, pageSize: 4096, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendPresentRuns(tt.runs, tt.in, tt.start, tt.pageSize)
			checkErr(t, err, tt.wantErr)
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#x, want %#x", got, tt.want)
			}
		})
	}
}

func TestPagemapEntry(t *testing.T) {
	es, err := ParsePagemap(pagemapBytes(pmP|pmExclusive|pmSoftDirty|0x1234, pmS|pmUffdWP|0xabc<<5|3, pmGuard|pmFileShare))
	if err != nil {
		t.Fatal(err)
	}
	p, s, g := es[0], es[1], es[2]
	if !p.Present() || p.Swapped() || !p.Exclusive() || !p.SoftDirty() || p.PFN() != 0x1234 || p.SwapType() != 0 || p.UffdWP() {
		t.Errorf("present entry %#x decoded wrong", uint64(p))
	}
	if s.Present() || !s.Swapped() || s.SwapType() != 3 || s.SwapOffset() != 0xabc || s.PFN() != 0 || !s.UffdWP() {
		t.Errorf("swapped entry %#x decoded wrong", uint64(s))
	}
	if !g.Guard() || !g.FileOrSharedAnon() || g.Present() || g.Swapped() || g.SwapOffset() != 0 {
		t.Errorf("guard entry %#x decoded wrong", uint64(g))
	}
	if _, err := ParsePagemap(make([]byte, 12)); err == nil {
		t.Error("accepted 12 bytes")
	}
}

func FuzzPagemap(f *testing.F) {
	f.Add(pagemapBytes(pmP, 0, pmS, pmP), uint64(0x1000), uint64(4096))
	f.Add(pagemapBytes(pmP), uint64(math.MaxUint64-0xfff), uint64(4096))
	f.Fuzz(func(t *testing.T, b []byte, start, pageSize uint64) {
		es, perr := ParsePagemap(b)
		runs, err := AppendPresentRuns(nil, b, start, pageSize)
		checkFormatErr(t, err)
		checkFormatErr(t, perr)
		if err != nil {
			return
		}
		var pages uint64
		for i, r := range runs {
			if r.Start >= r.End || r.Start < start || (r.End-r.Start)%pageSize != 0 ||
				(i > 0 && r.Start <= runs[i-1].End) {
				t.Fatalf("bad run %d %#x in %#x", i, r, runs)
			}
			pages += (r.End - r.Start) / pageSize
		}
		var want uint64
		for _, e := range es {
			if e.Present() || e.Swapped() {
				want++
			}
		}
		if pages != want {
			t.Fatalf("runs cover %d pages, %d are present", pages, want)
		}
	})
}
