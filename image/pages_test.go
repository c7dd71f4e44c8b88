package image

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// writePages writes a mix of runs and returns the data file, the map and
// the expected contents by address (nil for zero pages).
func writePages(t *testing.T) ([]byte, *PageMap, map[uint64][]byte) {
	t.Helper()
	var buf bytes.Buffer
	pw := NewPageWriter(&buf, 42)
	want := make(map[uint64][]byte)
	add := func(addr uint64, npages int, seed byte) {
		data := fill(npages*PageSize, seed)
		if err := pw.AddData(addr, data); err != nil {
			t.Fatal(err)
		}
		for i := range npages {
			want[addr+uint64(i)*PageSize] = data[i*PageSize : (i+1)*PageSize]
		}
	}
	zero := func(addr uint64, npages uint64) {
		if err := pw.AddZero(addr, npages); err != nil {
			t.Fatal(err)
		}
		for i := range npages {
			want[addr+i*PageSize] = nil
		}
	}
	add(0x400000, 1, 1)
	add(0x401000, 2, 2)                    // merges with the previous run
	zero(0x403000, 3)                      // new zero run
	zero(0x406000, 1)                      // merges
	add(0x7f0000000000, MaxRunPages+10, 3) // fills one run, starts another
	add(0x7ffd00000000, 1, 4)
	return buf.Bytes(), pw.Map(), want
}

func TestPageRoundTrip(t *testing.T) {
	data, m, want := writePages(t)
	wantRuns := []PageRun{
		{Addr: 0x400000, NPages: 3, Kind: PageData, Offset: 0},
		{Addr: 0x403000, NPages: 4, Kind: PageZero},
		{Addr: 0x7f0000000000, NPages: MaxRunPages, Kind: PageData, Offset: 3 * PageSize},
		{Addr: 0x7f0000000000 + MaxRunPages*PageSize, NPages: 10, Kind: PageData, Offset: (3 + MaxRunPages) * PageSize},
		{Addr: 0x7ffd00000000, NPages: 1, Kind: PageData, Offset: (13 + MaxRunPages) * PageSize},
	}
	for i := range min(len(m.Runs), len(wantRuns)) {
		wantRuns[i].CRC = m.Runs[i].CRC // the reads below check the CRCs
	}
	if !reflect.DeepEqual(m.Runs, wantRuns) {
		t.Fatalf("runs:\n got %+v\nwant %+v", m.Runs, wantRuns)
	}
	if m.PID != 42 || m.DataSize != uint64(len(data)) {
		t.Fatalf("PID %d DataSize %d, data %d bytes", m.PID, m.DataSize, len(data))
	}
	// Through the encoded map, as a reader would see it.
	enc, err := EncodePageMap(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := DecodePageMap(enc)
	if err != nil || !reflect.DeepEqual(m2, m) {
		t.Fatalf("page map round trip: %v\n got %+v\nwant %+v", err, m2, m)
	}
	pr, err := NewPageReader(m2, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = pr.Each(func(r PageRun, b []byte) error {
		for i := range uint64(r.NPages) {
			addr := r.Addr + i*PageSize
			w, ok := want[addr]
			switch {
			case !ok:
				t.Errorf("unexpected page %#x", addr)
			case r.Kind == PageZero && (b != nil || w != nil):
				t.Errorf("zero page %#x: data %v, want %v", addr, b != nil, w != nil)
			case r.Kind == PageData && !bytes.Equal(b[i*PageSize:(i+1)*PageSize], w):
				t.Errorf("page %#x differs", addr)
			}
			seen++
		}
		return nil
	})
	if err != nil || seen != len(want) {
		t.Fatalf("Each: %v, saw %d pages of %d", err, seen, len(want))
	}
}

func TestPageCorruptByte(t *testing.T) {
	data, m, _ := writePages(t)
	data[4*PageSize+17] ^= 0x40 // inside the run at 0x7f0000000000
	pr, err := NewPageReader(m, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.ReadRun(0, nil); err != nil {
		t.Fatalf("intact run: %v", err)
	}
	_, err = pr.ReadRun(2, nil)
	wantErr(t, err, ErrChecksum, "process 42 page run 2 at 0x7f0000000000 (256 pages): checksum mismatch")
	err = pr.Each(func(PageRun, []byte) error { return nil })
	wantErr(t, err, ErrChecksum, "at 0x7f0000000000")
	if _, err := pr.ReadRun(99, nil); err == nil {
		t.Error("ReadRun out of range succeeded")
	}
}

func TestPageReaderSize(t *testing.T) {
	data, m, _ := writePages(t)
	_, err := NewPageReader(m, bytes.NewReader(data), int64(len(data)-1))
	wantErr(t, err, ErrTruncated, "page map says")
	_, err = NewPageReader(m, bytes.NewReader(data), int64(len(data)+1))
	wantErr(t, err, ErrFormat, "page map says")
	// A reader that returns less than the size promised.
	pr, err := NewPageReader(m, bytes.NewReader(data[:PageSize]), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = pr.ReadRun(0, nil)
	wantErr(t, err, ErrTruncated, "truncated at byte 4096")
}

func TestPageWriterRejects(t *testing.T) {
	page := fill(PageSize, 1)
	tests := []struct {
		name string
		add  func(pw *PageWriter) error
		want string
	}{
		{"misaligned", func(pw *PageWriter) error { return pw.AddData(0x1001, page) }, "page run at 0x1001: address not page-aligned"},
		{"length", func(pw *PageWriter) error { return pw.AddData(0x1000, page[:100]) }, "length 100 is not a multiple of 4096"},
		{"empty", func(pw *PageWriter) error { return pw.AddData(0x1000, nil) }, "no pages"},
		{"zero empty", func(pw *PageWriter) error { return pw.AddZero(0x1000, 0) }, "no pages"},
		{"wrap", func(pw *PageWriter) error { return pw.AddZero(^uint64(0)&^(PageSize-1), 1) }, "wrap around"},
		{"overlap", func(pw *PageWriter) error {
			pw.AddData(0x10000, append(page, page...))
			return pw.AddZero(0x11000, 1)
		}, "page run at 0x11000: overlaps or precedes the previous run ending at 0x12000"},
		{"descending", func(pw *PageWriter) error {
			pw.AddZero(0x10000, 1)
			return pw.AddData(0x1000, page)
		}, "overlaps or precedes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.add(NewPageWriter(new(bytes.Buffer), 1)), ErrInvalid, tt.want)
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPageWriterWriteError(t *testing.T) {
	pw := NewPageWriter(failWriter{}, 1)
	err := pw.AddData(0x1000, fill(PageSize, 1))
	wantErr(t, err, nil, "writing page data at 0x1000: disk full")
	if err2 := pw.AddZero(0x9000, 1); err2 != err {
		t.Errorf("error not sticky: %v", err2)
	}
}

func TestPageMapValidate(t *testing.T) {
	vmas := []VMA{{Start: 0x1000, End: 0x3000}, {Start: 0x3000, End: 0x5000}, {Start: 0x8000, End: 0x9000}}
	base := func() *PageMap {
		return &PageMap{PID: 9, DataSize: 2 * PageSize, Runs: []PageRun{
			{Addr: 0x1000, NPages: 2, Kind: PageData, Offset: 0},
			{Addr: 0x3000, NPages: 2, Kind: PageZero},
			{Addr: 0x8000, NPages: 1, Kind: PageData, Offset: PageSize},
		}}
	}
	if err := base().Validate(vmas); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(m *PageMap)
		want string
	}{
		{"misaligned", func(m *PageMap) { m.Runs[0].Addr = 0x1800 }, "process 9 page run 0 at 0x1800 (2 pages): address not page-aligned"},
		{"empty", func(m *PageMap) { m.Runs[1].NPages = 0 }, "run 1 at 0x3000 (0 pages): no pages"},
		{"overlap", func(m *PageMap) { m.Runs[1].Addr = 0x2000 }, "run 1 at 0x2000 (2 pages): overlaps or precedes the previous run ending at 0x3000"},
		{"wrap", func(m *PageMap) { m.Runs[2].Addr = ^uint64(0) &^ (PageSize - 1) }, "wraps around"},
		{"kind", func(m *PageMap) { m.Runs[1].Kind = 7 }, "unknown kind page-kind-7"},
		{"zero offset", func(m *PageMap) { m.Runs[1].Offset = PageSize }, "zero run with an offset or checksum"},
		{"data offset", func(m *PageMap) { m.Runs[2].Offset = 100 }, "data offset 100 not page-aligned"},
		{"beyond data", func(m *PageMap) { m.Runs[2].Offset = 2 * PageSize }, "beyond the 8192 bytes of page data"},
		{"far beyond", func(m *PageMap) { m.Runs[2].Offset = 1 << 62 }, "beyond the 8192 bytes"},
		{"long run", func(m *PageMap) { m.Runs[0].NPages = MaxRunPages + 1 }, "data run longer than 256 pages"},
		{"outside", func(m *PageMap) { m.Runs[2].Addr = 0x6000 }, "run 2 at 0x6000 (1 pages): not inside any VMA"},
		{"past end", func(m *PageMap) { m.Runs[1].NPages = 3 }, "run 1 at 0x3000 (3 pages): extends past the VMA ending at 0x5000"},
		{"past last", func(m *PageMap) { m.Runs[2].NPages = 2; m.DataSize = 3 * PageSize }, "extends past the VMA ending at 0x9000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			tt.edit(m)
			wantErr(t, m.Validate(vmas), ErrInvalid, tt.want)
		})
	}
	// A run spanning two adjacent VMAs is fine.
	m := base()
	m.Runs[0].NPages, m.Runs[1].Addr, m.DataSize = 3, 0x4000, 4*PageSize
	m.Runs[1].NPages = 1
	m.Runs[2].Offset = 3 * PageSize
	if err := m.Validate(vmas); err != nil {
		t.Fatal(err)
	}
}
