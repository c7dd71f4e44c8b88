package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"
)

// lentPages is what a reader puts in a lent buffer: page i at addrs[i].
type lentPages struct {
	addrs      []uint64
	data       []byte
	zero, skip []bool
}

// lentOf lays out pages as a reader would: runs of pages at ascending
// addresses with holes between them; skip marks (every skipEvery-th page,
// 0 for none) pages that are left out.
func lentOf(data []byte, base uint64, runLen, skipEvery int) lentPages {
	n := len(data) / PageSize
	l := lentPages{data: data, zero: make([]bool, n)}
	if skipEvery > 0 {
		l.skip = make([]bool, n)
	}
	addr := base
	for i := range n {
		if i > 0 && i%runLen == 0 {
			addr += 3 * PageSize // a hole
		}
		l.addrs = append(l.addrs, addr)
		addr += PageSize
		l.zero[i] = isZeroPage(data[i*PageSize : (i+1)*PageSize])
		if skipEvery > 0 && i%skipEvery == skipEvery-1 {
			l.skip[i] = true
		}
	}
	return l
}

// want is the memory a receiver must end up with.
func (l lentPages) want() memory {
	m := memory{}
	for i, a := range l.addrs {
		if l.skip == nil || !l.skip[i] {
			m.add(a, l.data[i*PageSize:(i+1)*PageSize])
		}
	}
	return m
}

// squeeze is the number of bytes a batch of l moves: Commit closes the
// holes of skipped pages (moving every kept page after the first), then a
// raw batch those of zero pages.
func (l lentPages) squeeze(compressed bool) (moved int) {
	var kept []bool // zero marks of the kept pages, in order
	for i := range l.addrs {
		if l.skip != nil && l.skip[i] {
			continue
		}
		if len(kept) != i {
			moved += PageSize
		}
		kept = append(kept, l.zero[i])
	}
	if compressed {
		return moved
	}
	w := 0
	for i, zero := range kept {
		if zero {
			continue
		}
		if w != i {
			moved += PageSize
		}
		w++
	}
	return moved
}

// encodeLent fills the codec's buffer as Lend and Commit do and encodes it.
func (k *codec) encodeLent(tb testing.TB, l lentPages, compress bool) (wire []byte, moved int) {
	tb.Helper()
	if err := checkCommit(k.b, l.addrs, l.zero, l.skip); err != nil {
		tb.Fatal(err)
	}
	copy(k.b.buf[metaRoom:], l.data)
	k.b.reset()
	k.b.fillLent(l.addrs, l.zero, l.skip)
	var c *lz4.Compressor
	if compress {
		c = &k.c
	}
	return k.b.encode(c, k.spare).wire, k.b.moved
}

// lentCases are lent buffers of every kind of content.
func lentCases(r *rand.Rand) map[string]lentPages {
	zeroRandom := randomPages(r, 64)
	clear(zeroRandom[10*PageSize : 20*PageSize])
	return map[string]lentPages{
		"mixed":       lentOf(mixedPages(r, 256), 0x10000, 37, 0),
		"mixed/skips": lentOf(mixedPages(r, 200), 0x7f0000000000, 50, 7),
		"text":        lentOf(textPages(r, 100), 0x400000, 100, 0),
		"zero":        lentOf(make([]byte, 300*PageSize), 0x400000, 300, 0),
		// lz4 does not beat the non-zero pages alone: sent raw, squeezed.
		"random+zero": lentOf(zeroRandom, 0x1000, 64, 0),
		"one":         lentOf(textPages(r, 1), 0x1000, 1, 0),
	}
}

// Lent buffers round-trip, raw and lz4: dense when lz4 wins and there are
// zero pages, squeezed when raw, and a raw batch never carries a zero page.
func TestLendRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(40, 40))
	k := codecPool.Get().(*codec)
	defer codecPool.Put(k)
	for name, l := range lentCases(r) {
		for _, compress := range []bool{false, true} {
			wire, moved := k.encodeLent(t, l, compress)
			h, got, err := k.decodeMemory(wire)
			if err != nil {
				t.Fatalf("%s compress=%v: %v", name, compress, err)
			}
			l.want().equal(t, got)
			checkLentHeader(t, name, compress, h, k.dec.npages)
			if h.comp == compNone && h.flags == 0 {
				checkNoZeroPages(t, name, k.dec.data)
			}
			if want := l.squeeze(h.comp == compLZ4 || h.flags == flagAllZero); moved != want {
				t.Errorf("%s compress=%v: moved %d bytes, want %d", name, compress, moved, want)
			}
		}
	}
}

// checkLentHeader checks how a lent buffer of the lentCases was encoded.
func checkLentHeader(t *testing.T, name string, compress bool, h batchHeader, npages uint64) {
	t.Helper()
	dense := compress && (name == "mixed" || name == "mixed/skips")
	wantFlags := byte(0)
	switch {
	case name == "zero":
		wantFlags = flagAllZero
	case dense:
		wantFlags = flagDense
	}
	if h.flags != wantFlags {
		t.Errorf("%s compress=%v: flags %#x, want %#x", name, compress, h.flags, wantFlags)
	}
	if dense && uint64(h.rawLen) != npages*PageSize {
		t.Errorf("%s: dense batch of %d pages with rawLen %d", name, npages, h.rawLen)
	}
}

func checkNoZeroPages(t *testing.T, name string, data []byte) {
	t.Helper()
	for p := 0; p < len(data); p += PageSize {
		if isZeroPage(data[p : p+PageSize]) {
			t.Fatalf("%s: raw batch carries a zero page at offset %d", name, p)
		}
	}
}

// Bad dense batches are refused.
func TestBatchDenseCorrupt(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 41))
	k := codecPool.Get().(*codec)
	defer codecPool.Put(k)
	wire, _ := k.encodeLent(t, lentOf(mixedPages(r, 64), 0x10000, 64, 0), true)
	good := bytes.Clone(wire)
	if h, err := k.decode(good); err != nil || h.flags != flagDense {
		t.Fatalf("not a dense batch: %+v, %v", h, err)
	}
	raw := bytes.Clone(k.dec.data)
	le := binary.LittleEndian
	bitmap := func(b []byte) []byte {
		off := batchHeaderLen + int(le.Uint32(b[24:]))
		return b[off : off+int(le.Uint32(b[28:]))]
	}
	mutations := map[string]func(b []byte) []byte{
		"both flags": func(b []byte) []byte { b[3] = flagAllZero | flagDense; return b },
		"not dense":  func(b []byte) []byte { b[3] = 0; return b },
		"raw": func(b []byte) []byte {
			// The same pages, uncompressed: a raw batch must not carry zero pages.
			b[2] = compNone
			le.PutUint32(b[36:], le.Uint32(b[32:]))
			return append(b[:len(b)-int(le.Uint32(good[36:]))], raw...)
		},
		"rawLen":    func(b []byte) []byte { le.PutUint32(b[32:], le.Uint32(b[32:])-PageSize); return b },
		"no zero":   func(b []byte) []byte { clear(bitmap(b)); return b },
		"all zero":  func(b []byte) []byte { bm := bitmap(b); clear(bm); setBits(bm, 64); return b },
		"few pages": func(b []byte) []byte { bm := bitmap(b); clear(bm); setBits(bm, 64); bm[0] &^= 1; return b },
	}
	for name, mutate := range mutations {
		b := mutate(bytes.Clone(good))
		if _, err := k.decode(b); !errors.Is(err, ErrProtocol) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: got %v, want a protocol error", name, err)
		}
	}
	for i := range len(good) {
		if _, err := k.decode(good[:i]); err == nil {
			t.Fatalf("prefix of %d/%d bytes decoded", i, len(good))
		}
	}
}

// setBits sets the first n bits of bm.
func setBits(bm []byte, n int) {
	for i := range n {
		bm[i>>3] |= 1 << (i & 7)
	}
}

// Lent buffers go over a real page stream: every page arrives once, with
// its bytes, at its address; nothing is copied on the sending side; raw
// batches carry no zero page (the wire holds little more than the non-zero
// pages).
func TestLendPages(t *testing.T) {
	for _, compress := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.Compress = compress
		cfg.MaxBatch = 1 << 20 // buffers of 256 pages, which the sends fill
		ctx, s, rc := pageStream(t, cfg, 30*time.Second)
		r := rand.New(rand.NewPCG(42, 42))
		sends := []lentPages{
			lentOf(mixedPages(r, 256), 0x10000, 37, 0),
			lentOf(mixedPages(r, 100), 0x10000000, 100, 9),
			lentOf(make([]byte, 20*PageSize), 0x20000000, 5, 0),
			lentOf(mixedPages(r, 256), 0x30000000, 256, 0),
		}
		want := memory{}
		var squeeze int
		for _, l := range sends {
			for a, p := range l.want() {
				want[a] = p
			}
			squeeze += l.squeeze(compress)
		}
		got := make(chan []memory, 1)
		go func() {
			rounds, err := receiveAll(ctx, rc, 0, nil)
			if err != nil {
				t.Error(err)
			}
			got <- rounds
		}()
		for _, l := range sends {
			commitLent(t, s, l)
		}
		if err := s.EndRound(0); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		rounds := <-got
		if len(rounds) != 1 {
			t.Fatalf("compress=%v: %d rounds received", compress, len(rounds))
		}
		want.equal(t, rounds[0])
		checkLentStats(t, compress, s.Stats(), squeeze)
	}
}

// commitLent sends l through Lend and Commit.
func commitLent(t *testing.T, s *PageSender, l lentPages) {
	t.Helper()
	buf, err := s.Lend()
	if err != nil {
		t.Fatal(err)
	}
	if len(buf) < len(l.data) {
		t.Fatalf("lent %d bytes, want %d", len(buf), len(l.data))
	}
	copy(buf, l.data)
	if err := s.Commit(l.addrs, l.zero, l.skip); err != nil {
		t.Fatal(err)
	}
}

func checkLentStats(t *testing.T, compress bool, st SendStats, squeeze int) {
	t.Helper()
	if st.CopiedBytes != 0 {
		t.Errorf("compress=%v: %d bytes of lent pages copied", compress, st.CopiedBytes)
	}
	if !compress {
		if int(st.SqueezedBytes) != squeeze {
			t.Errorf("raw: squeezed %d bytes, want %d", st.SqueezedBytes, squeeze)
		}
		// Metadata is far below a page per batch: a zero page on the wire
		// would show.
		if st.WireBytes >= st.RawBytes+st.Batches*PageSize {
			t.Errorf("raw: %d bytes on the wire for %d bytes of non-zero pages in %d batches",
				st.WireBytes, st.RawBytes, st.Batches)
		}
	}
}

// Commit checks what it is given, gives the buffer back on error, and the
// other calls wait for the lent buffer.
func TestLendMisuse(t *testing.T) {
	_, s := drainedSender(t, DefaultConfig(), 30*time.Second)
	if err := s.Commit(nil, nil, nil); err == nil {
		t.Error("commit without a lent buffer accepted")
	}
	page := []uint64{0x1000}
	for name, c := range map[string]struct {
		addrs      []uint64
		zero, skip []bool
	}{
		"descending": {[]uint64{0x2000, 0x1000}, []bool{false, false}, nil},
		"twice":      {[]uint64{0x2000, 0x2000}, []bool{false, false}, nil},
		"unaligned":  {[]uint64{0x1001}, []bool{false}, nil},
		"beyond":     {[]uint64{maxAddress}, []bool{false}, nil},
		"zero marks": {page, nil, nil},
		"skip marks": {page, []bool{false}, []bool{}},
		"too many":   {make([]uint64, 257), make([]bool, 257), nil},
	} {
		if _, err := s.Lend(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lend(); !errors.Is(err, errLent) {
			t.Fatalf("%s: second Lend: %v", name, err)
		}
		if err := s.AddZero(0x1000, 1); !errors.Is(err, errLent) {
			t.Fatalf("%s: AddZero while lent: %v", name, err)
		}
		if err := s.EndRound(1); !errors.Is(err, errLent) {
			t.Fatalf("%s: EndRound while lent: %v", name, err)
		}
		if err := s.CloseSend(); !errors.Is(err, errLent) {
			t.Fatalf("%s: CloseSend while lent: %v", name, err)
		}
		if err := s.Commit(c.addrs, c.zero, c.skip); err == nil {
			t.Errorf("%s: commit accepted", name)
		}
	}
	// Every buffer came back: the sender still works.
	r := rand.New(rand.NewPCG(43, 43))
	for range 2 * sendBuffers {
		commitLent(t, s, lentOf(mixedPages(r, 8), 0x1000, 8, 0))
	}
	if _, err := s.Lend(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.PagesData+st.PagesZero != 2*sendBuffers*8 {
		t.Errorf("sent %d pages, want %d", st.PagesData+st.PagesZero, 2*sendBuffers*8)
	}
}
