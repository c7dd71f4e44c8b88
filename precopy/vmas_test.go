package precopy

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/image"
)

func anonVMA(start, end uint64, prot uint32) image.VMA {
	return image.VMA{Start: start, End: end, Prot: prot, Flags: image.MapPrivate | image.MapAnonymous, Kind: image.VMAAnon}
}

func fileVMA(start, end uint64, flags uint32) image.VMA {
	return image.VMA{Start: start, End: end, Prot: image.ProtRead | image.ProtWrite, Flags: flags, Kind: image.VMAFile, Name: "/f"}
}

// TestLayoutSpans: pending pages listed at different times, overlapping
// and out of order, are cut to the mappings of the layout that take pages,
// each readable as its mapping is.
func TestLayoutSpans(t *testing.T) {
	const p = image.PageSize
	vmas := []image.VMA{
		anonVMA(0x10*p, 0x20*p, image.ProtRead|image.ProtWrite),
		anonVMA(0x20*p, 0x28*p, 0), // PROT_NONE: read through /proc/PID/mem
		fileVMA(0x30*p, 0x38*p, image.MapShared),
		fileVMA(0x38*p, 0x40*p, image.MapPrivate),
		{Start: 0x50 * p, End: 0x52 * p, Prot: image.ProtRead, Flags: image.MapPrivate, Kind: image.VMAVVar},
	}
	pending := []dumper.Span{
		{Start: 0x3c * p, End: 0x60 * p, Readable: true}, // private file, then gone, vvar, gone
		{Start: 0x08 * p, End: 0x12 * p, Readable: true}, // before the first mapping, into it
		{Start: 0x11 * p, End: 0x24 * p, Readable: true}, // overlaps, into the PROT_NONE one
		{Start: 0x30 * p, End: 0x31 * p, Readable: true}, // shared file: the file is the truth
	}
	want := []dumper.Span{
		{Start: 0x10 * p, End: 0x20 * p, Readable: true},
		{Start: 0x20 * p, End: 0x24 * p, Readable: false},
		{Start: 0x3c * p, End: 0x40 * p, Readable: true},
	}
	if got := layoutSpans(pending, vmas); !slices.Equal(got, want) {
		t.Fatalf("layoutSpans = %v, want %v", got, want)
	}
	if got := layoutSpans(nil, vmas); len(got) != 0 {
		t.Fatalf("layoutSpans(nil) = %v", got)
	}
}

// TestRetracked: mappings over a range whose tracking failed count as new,
// once.
func TestRetracked(t *testing.T) {
	a, b, c := anonVMA(0x1000, 0x3000, 3), anonVMA(0x3000, 0x5000, 1), anonVMA(0x8000, 0x9000, 3)
	got := retracked([]image.VMA{b}, []image.VMA{a, b, c}, []Range{{Start: 0x2000, End: 0x4000}})
	if want := []image.VMA{b, a}; !slices.EqualFunc(got, want, image.VMA.Same) {
		t.Fatalf("retracked = %v, want %v", got, want)
	}
	if got := retracked(nil, []image.VMA{a, b, c}, nil); len(got) != 0 {
		t.Fatalf("retracked without ranges = %v", got)
	}
}

// TestCanTrack: every private mapping but the kernel's own, whatever its
// protection.
func TestCanTrack(t *testing.T) {
	for _, tc := range []struct {
		v    image.VMA
		want bool
	}{
		{anonVMA(0x1000, 0x2000, image.ProtRead|image.ProtWrite), true},
		{anonVMA(0x1000, 0x2000, image.ProtRead), true},
		{anonVMA(0x1000, 0x2000, 0), true},
		{fileVMA(0x1000, 0x2000, image.MapPrivate), true},
		{fileVMA(0x1000, 0x2000, image.MapShared), false},
		{image.VMA{Start: 0x1000, End: 0x3000, Prot: 3, Flags: image.MapShared | image.MapAnonymous, Kind: image.VMAAnon}, false},
		{image.VMA{Start: 0x1000, End: 0x3000, Prot: 5, Flags: image.MapPrivate, Kind: image.VMAVDSO}, false},
	} {
		if got := canTrack(tc.v); got != tc.want {
			t.Errorf("canTrack(%+v) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestPrivateFileParts(t *testing.T) {
	vmas := []image.VMA{anonVMA(0x1000, 0x4000, 3), fileVMA(0x4000, 0x8000, image.MapPrivate), fileVMA(0x8000, 0x9000, image.MapShared)}
	spans := []dumper.Span{{Start: 0x2000, End: 0x5000}, {Start: 0x6000, End: 0x9000}}
	if got, want := privateFileParts(spans, vmas), []Range{{Start: 0x4000, End: 0x5000}, {Start: 0x6000, End: 0x8000}}; !slices.Equal(got, want) {
		t.Fatalf("privateFileParts = %v, want %v", got, want)
	}
}

// diffVMAs walks both layouts once and answers as the plain membership
// test it replaced: added is what cur has and prev has not, removed the
// other way round, each in its layout's order.
func TestDiffVMAs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	layout := func() []image.VMA {
		var vs []image.VMA
		for at := uint64(0x10000); len(vs) < 40; {
			at += uint64(r.IntN(2)) * image.PageSize
			end := at + uint64(1+r.IntN(3))*image.PageSize
			if r.IntN(3) > 0 { // leave holes
				vs = append(vs, image.VMA{Start: at, End: end, Prot: uint32(r.IntN(2)), Kind: image.VMAAnon})
			}
			at = end
		}
		return vs
	}
	notIn := func(a, b []image.VMA) []image.VMA {
		var out []image.VMA
		for _, v := range a {
			if !slices.ContainsFunc(b, v.Same) {
				out = append(out, v)
			}
		}
		return out
	}
	for iter := range 500 {
		prev := layout()
		cur := layout()
		if iter%2 == 0 { // mostly the same layout, a few changes
			cur = slices.Clone(prev)
			for range r.IntN(4) {
				k := r.IntN(len(cur))
				switch r.IntN(3) {
				case 0:
					cur[k].Prot ^= 1
				case 1:
					cur = slices.Delete(cur, k, k+1)
				case 2:
					cur[k].End = cur[k].Start + image.PageSize
				}
			}
		}
		added, removed := diffVMAs(prev, cur)
		if want := notIn(cur, prev); !slices.EqualFunc(added, want, image.VMA.Same) {
			t.Fatalf("#%d: added %v, want %v", iter, added, want)
		}
		if want := notIn(prev, cur); !slices.EqualFunc(removed, want, image.VMA.Same) {
			t.Fatalf("#%d: removed %v, want %v", iter, removed, want)
		}
	}
}
