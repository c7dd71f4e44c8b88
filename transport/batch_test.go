package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// run is one AddData (data != nil) or AddZero (zero pages) call.
type run struct {
	addr uint64
	data []byte
	zero uint64
}

// codec holds the buffers of a test encoder and decoder.
type codec struct {
	b, spare *batchBuf
	c        lz4.Compressor
	dec      decoded
}

var codecPool = sync.Pool{New: func() any {
	return &codec{b: newBatchBuf(MaxBatchLimit), spare: newBatchBuf(MaxBatchLimit)}
}}

// encode encodes runs as one batch; it fails if they do not fit.
func (k *codec) encode(tb testing.TB, runs []run, compress bool) []byte {
	tb.Helper()
	k.b.reset()
	for _, r := range runs {
		if r.data != nil {
			if n := k.b.addData(r.addr, r.data); n != uint64(len(r.data)/PageSize) {
				tb.Fatalf("addData took %d pages of %d", n, len(r.data)/PageSize)
			}
		} else if n := k.b.addZero(r.addr, r.zero); n != r.zero {
			tb.Fatalf("addZero took %d pages of %d", n, r.zero)
		}
	}
	var c *lz4.Compressor
	if compress {
		c = &k.c
	}
	return k.b.encode(c, k.spare).wire
}

// decode decodes one whole encoded batch.
// decodeMemory decodes b and applies its runs to a fresh memory.
func (k *codec) decodeMemory(b []byte) (batchHeader, memory, error) {
	h, err := k.decode(b)
	if err != nil {
		return h, nil, err
	}
	got := memory{}
	return h, got, k.dec.each(got.put)
}

func (k *codec) decode(b []byte) (batchHeader, error) {
	h, err := parseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if h.kind != batchData {
		if len(b) != batchHeaderLen {
			return h, protoErrorf("marker with a body")
		}
		return h, nil
	}
	return h, k.dec.decode(&h, b[batchHeaderLen:])
}

// crun is a canonical run: maximal, zero-ness by content.
type crun struct {
	addr, n uint64
	zero    bool
	data    []byte
}

// canon lists the runs of a decoded batch, splitting data runs where
// pages happen to be zero and merging neighbours of the same kind.
func canon(d *decoded) []crun {
	var out []crun
	push := func(addr uint64, zero bool, page []byte) {
		if k := len(out) - 1; k >= 0 && out[k].zero == zero && out[k].addr+out[k].n*PageSize == addr {
			out[k].n++
			out[k].data = append(out[k].data, page...)
			return
		}
		out = append(out, crun{addr: addr, n: 1, zero: zero, data: append([]byte(nil), page...)})
	}
	d.each(func(addr uint64, data []byte, zero bool, n uint64) error {
		if zero {
			if k := len(out) - 1; k >= 0 && out[k].zero && out[k].addr+out[k].n*PageSize == addr {
				out[k].n += n
			} else {
				out = append(out, crun{addr: addr, n: n, zero: true})
			}
			return nil
		}
		for i := range n {
			p := data[i*PageSize : (i+1)*PageSize]
			if isZeroPage(p) {
				push(addr+i*PageSize, true, nil)
			} else {
				push(addr+i*PageSize, false, p)
			}
		}
		return nil
	})
	return out
}

func sameRuns(a, b []crun) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].addr != b[i].addr || a[i].n != b[i].n || a[i].zero != b[i].zero || !bytes.Equal(a[i].data, b[i].data) {
			return false
		}
	}
	return true
}

// runsToMemory expands runs as the sender saw them.
func runsToMemory(runs []run) memory {
	m := memory{}
	for _, r := range runs {
		if r.data != nil {
			m.add(r.addr, r.data)
		} else {
			m.addZero(r.addr, r.zero)
		}
	}
	return m
}

func testRuns(r *rand.Rand) map[string][]run {
	return map[string][]run{
		"random":   {{addr: 0x10000, data: randomPages(r, 8)}},
		"text":     {{addr: 0x7f0000000000, data: textPages(r, 256)}},
		"zero":     {{addr: 0x400000, zero: 1000}},
		"zerodata": {{addr: 0x400000, data: make([]byte, 3*PageSize)}},
		"mixed": {
			{addr: 0x1000, data: mixedPages(r, 17)},
			{addr: 0x12000, zero: 5},
			{addr: 0x20000, data: textPages(r, 3)},
			{addr: 0x23000, data: randomPages(r, 2)},
			{addr: 0x7ffff000, zero: 1},
			{addr: 0x80000000, data: mixedPages(r, 40)},
		},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	k := codecPool.Get().(*codec)
	for name, runs := range testRuns(r) {
		for _, compress := range []bool{false, true} {
			wire := k.encode(t, runs, compress)
			h, got, err := k.decodeMemory(wire)
			if err != nil {
				t.Fatalf("%s compress=%v: %v", name, compress, err)
			}
			runsToMemory(runs).equal(t, got)
			wantComp := byte(compNone)
			if compress && (name == "text" || name == "mixed") {
				wantComp = compLZ4
			}
			if h.comp != wantComp {
				t.Errorf("%s compress=%v: compression %d, want %d", name, compress, h.comp, wantComp)
			}
			if allZero := h.flags&flagAllZero != 0; allZero != (name == "zero" || name == "zerodata") {
				t.Errorf("%s: all-zero flag %v", name, allZero)
			}
		}
	}
}

func TestBatchLimits(t *testing.T) {
	b := newBatchBuf(4 * PageSize)
	b.reset()
	r := rand.New(rand.NewPCG(2, 2))
	if n := b.addData(0, randomPages(r, 6)); n != 4 {
		t.Errorf("data beyond MaxBatch: took %d pages, want 4", n)
	}
	if n := b.addZero(4*PageSize, maxBatchPages); n != maxBatchPages-4 {
		t.Errorf("zero pages beyond the batch limit: took %d", n)
	}
	b.reset()
	for i := range maxExtents {
		if b.addZero(uint64(2*i)*PageSize, 1) != 1 {
			t.Fatalf("extent %d refused", i)
		}
	}
	if b.addZero(uint64(2*maxExtents)*PageSize, 1) != 0 {
		t.Error("extent beyond maxExtents accepted")
	}
	b.reset()
	b.addZero(0x10000, 1)
	if b.addZero(0x1000, 1) != 0 {
		t.Error("backwards address accepted in the same batch")
	}
}

func TestBatchMarkers(t *testing.T) {
	b := newBatchBuf(PageSize)
	for _, kind := range []byte{batchRoundEnd, batchEnd} {
		b.reset()
		b.kind, b.round = kind, 7
		wire := b.encode(nil, nil).wire
		h, err := parseBatchHeader(wire)
		if err != nil || len(wire) != batchHeaderLen || h.kind != kind || h.round != 7 {
			t.Fatalf("marker %d: %+v, %d bytes, %v", kind, h, len(wire), err)
		}
	}
}

// Every proper prefix of a batch must fail to decode.
func TestBatchPrefixes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	k := codecPool.Get().(*codec)
	for _, compress := range []bool{false, true} {
		wire := bytes.Clone(k.encode(t, testRuns(r)["mixed"], compress))
		for i := range len(wire) {
			if _, err := k.decode(wire[:i]); err == nil {
				t.Fatalf("compress=%v: prefix of %d/%d bytes decoded", compress, i, len(wire))
			} else if i < batchHeaderLen && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("short header: %v", err)
			}
		}
	}
}

// Bad headers are refused; random corruption never panics.
func TestBatchCorrupt(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	k := codecPool.Get().(*codec)
	good := bytes.Clone(k.encode(t, testRuns(r)["mixed"], true))
	le := binary.LittleEndian
	mutations := map[string]func(b []byte) []byte{
		"magic":      func(b []byte) []byte { b[0] = 'X'; return b },
		"kind":       func(b []byte) []byte { b[1] = 9; return b },
		"comp":       func(b []byte) []byte { b[2] = 2; return b },
		"flags":      func(b []byte) []byte { b[3] = 2; return b },
		"unaligned":  func(b []byte) []byte { le.PutUint64(b[8:], 0x1001); return b },
		"no pages":   func(b []byte) []byte { le.PutUint32(b[16:], 0); return b },
		"huge pages": func(b []byte) []byte { le.PutUint32(b[16:], maxBatchPages+1); return b },
		"pages":      func(b []byte) []byte { le.PutUint32(b[16:], le.Uint32(b[16:])+1); return b },
		"extents":    func(b []byte) []byte { le.PutUint32(b[20:], maxExtents+1); return b },
		"bitmap":     func(b []byte) []byte { le.PutUint32(b[28:], 1); return b },
		"raw":        func(b []byte) []byte { le.PutUint32(b[32:], MaxBatchLimit+PageSize); return b },
		"wire":       func(b []byte) []byte { le.PutUint32(b[36:], le.Uint32(b[32:])); return b },
		"lz4 short":  func(b []byte) []byte { le.PutUint32(b[36:], le.Uint32(b[36:])-1); return b[:len(b)-1] },
		"padding bits": func(b []byte) []byte {
			b[batchHeaderLen+int(le.Uint32(b[24:]))+int(le.Uint32(b[28:]))-1] |= 0x80
			return b
		},
		"first gap": func(b []byte) []byte { b[batchHeaderLen] = 1; return b },
	}
	for name, mutate := range mutations {
		b := mutate(bytes.Clone(good))
		if _, err := k.decode(b); !errors.Is(err, ErrProtocol) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: got %v, want a protocol error", name, err)
		}
	}
	for range 20000 {
		b := bytes.Clone(good)
		for range 1 + r.IntN(3) {
			b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		}
		k.decode(b)
	}
}

// fuzzCodec is reused by every run of FuzzBatch in a worker: its buffers
// are too big to allocate per input.
var (
	fuzzMu    sync.Mutex
	fuzzCodec *codec
)

func FuzzBatch(f *testing.F) {
	k := codecPool.Get().(*codec)
	// Tiny seeds (zero runs, lz4 blocks of repetitive pages) keep the
	// fuzzer's inputs small: it spends its time minimizing large ones.
	rep := bytes.Repeat([]byte("page data "), 2*PageSize/10+1)[:2*PageSize]
	seeds := [][]run{
		{{addr: 0x1000, data: rep}},
		{{addr: 0x400000, zero: 1000}},
		{{addr: 0x1000, data: rep[:PageSize]}, {addr: 0x2000, zero: 3}, {addr: 0x9000, data: rep[PageSize:]}},
		{{addr: 0x1000, zero: 2}, {addr: 0x5000, data: rep[:PageSize]}, {addr: 0x7fff0000, zero: 9}},
	}
	for _, runs := range seeds {
		f.Add(bytes.Clone(k.encode(f, runs, true)))
	}
	// Dense batches: lent buffers with zero pages, lz4 on.
	for _, l := range []lentPages{
		lentOf(append(make([]byte, PageSize), rep...), 0x1000, 3, 0),
		lentOf(append(append(bytes.Clone(rep), make([]byte, 3*PageSize)...), rep...), 0x7fff0000, 2, 0),
	} {
		wire, _ := k.encodeLent(f, l, true)
		if h, err := parseBatchHeader(wire); err != nil || h.flags != flagDense {
			f.Fatalf("dense seed: flags %#x, %v", h.flags, err)
		}
		f.Add(bytes.Clone(wire))
	}
	for _, kind := range []byte{batchRoundEnd, batchEnd} {
		k.b.reset()
		k.b.kind = kind
		f.Add(bytes.Clone(k.b.encode(nil, nil).wire))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzMu.Lock()
		defer fuzzMu.Unlock()
		if fuzzCodec == nil {
			fuzzCodec = codecPool.Get().(*codec)
		}
		k := fuzzCodec
		h, err := k.decode(data)
		if err != nil || h.kind != batchData {
			return
		}
		want := canon(&k.dec)
		// Re-encode what was decoded, with and without lz4.
		var runs []run
		k.dec.each(func(addr uint64, data []byte, zero bool, n uint64) error {
			if zero {
				runs = append(runs, run{addr: addr, zero: n})
			} else {
				runs = append(runs, run{addr: addr, data: bytes.Clone(data)})
			}
			return nil
		})
		for _, compress := range []bool{false, true} {
			wire := k.encode(t, runs, compress)
			if _, err := k.decode(wire); err != nil {
				t.Fatalf("re-encoded batch does not decode: %v", err)
			}
			if got := canon(&k.dec); !sameRuns(want, got) {
				t.Fatalf("re-encoded batch differs")
			}
			// And as a lent buffer (dense when lz4 wins), if it fits one.
			l, ok := lentFromRuns(runs, k.b.lendPages())
			if !ok {
				continue
			}
			wire, _ = k.encodeLent(t, l, compress)
			if _, err := k.decode(wire); err != nil {
				t.Fatalf("re-encoded lent batch does not decode: %v", err)
			}
			if got := canon(&k.dec); !sameRuns(want, got) {
				t.Fatalf("re-encoded lent batch differs")
			}
		}
	})
}

// lentFromRuns lays runs out as a lent buffer, if they fit in max pages.
func lentFromRuns(runs []run, max int) (lentPages, bool) {
	var l lentPages
	for _, r := range runs {
		n := r.zero
		if r.data != nil {
			n = uint64(len(r.data) / PageSize)
		}
		if len(l.addrs)+int(n) > max {
			return l, false
		}
		for i := range n {
			l.addrs = append(l.addrs, r.addr+i*PageSize)
			if r.data == nil {
				l.data = append(l.data, zeroPage[:]...)
				l.zero = append(l.zero, true)
				continue
			}
			p := r.data[i*PageSize : (i+1)*PageSize]
			l.data = append(l.data, p...)
			l.zero = append(l.zero, isZeroPage(p))
		}
	}
	return l, true
}
