package image

import (
	"io"
	"testing"
)

// bigCheckpoint returns one process with n VMAs.
func bigCheckpoint(n int) *Checkpoint {
	c := smallCheckpoint()
	p := &c.Processes[0]
	p.MM.VMAs = p.MM.VMAs[:0]
	lib := &FileID{Path: "/usr/lib/x86_64-linux-gnu/libc.so.6", Size: 2 << 20, Mode: 0o100755, BuildID: fill(20, 1)}
	for i := range n {
		v := VMA{Start: 0x7f0000000000 + uint64(i)*0x10000, Prot: ProtRead | ProtWrite, Flags: MapPrivate | MapAnonymous, Kind: VMAAnon}
		v.End = v.Start + 0x4000
		if i%4 == 0 {
			v.Flags, v.Kind, v.File, v.Name, v.Offset = MapPrivate, VMAFile, lib, lib.Path, 0x1000
		}
		p.MM.VMAs = append(p.MM.VMAs, v)
	}
	return c
}

func BenchmarkMarshal1000VMAs(b *testing.B) {
	c := bigCheckpoint(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal1000VMAs(b *testing.B) {
	p, err := Marshal(bigCheckpoint(1000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPageWriter(b *testing.B) {
	for _, size := range []int{PageSize, 64 << 10, 1 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			data := fill(size, 1)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			pw := NewPageWriter(io.Discard, 1)
			addr := uint64(0x10000000)
			for b.Loop() {
				if err := pw.AddData(addr, data); err != nil {
					b.Fatal(err)
				}
				addr += uint64(size) + PageSize // a gap: no merging across calls
			}
		})
	}
}

func BenchmarkPageReader(b *testing.B) {
	const size = 64 << 20
	buf := &sliceWriter{}
	pw := NewPageWriter(buf, 1)
	if err := pw.AddData(0x10000000, fill(size, 3)); err != nil {
		b.Fatal(err)
	}
	pr, err := NewPageReader(pw.Map(), buf, int64(len(buf.b)))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if err := pr.Each(func(PageRun, []byte) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func (w *sliceWriter) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(w.b)) {
		return 0, io.EOF
	}
	n := copy(p, w.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
