package transport

import (
	"bytes"
	"encoding/binary"

	"github.com/pierrec/lz4/v4"
)

// zeroPage is compared against to find zero pages.
var zeroPage [PageSize]byte

func isZeroPage(p []byte) bool { return bytes.Equal(p, zeroPage[:]) }

// batchBuf collects one batch on the sending side. Page data is copied to
// buf[metaRoom:] (AddData), or read there by the caller (Lend, Commit);
// encode writes header, extents and bitmap right in front of it, so that
// the batch leaves in a single write. The buffer is sized for an lz4 block
// of the data too, so that any batchBuf can receive the compressed form of
// another.
type batchBuf struct {
	buf     []byte
	maxData int // data pages that fit
	ndata   int
	exts    []extent
	bitmap  []byte // bit set: zero page
	npages  uint64
	// dense: the data holds every page, zero ones included, in order (a
	// lent buffer); else only the non-zero pages.
	dense   bool
	moved   int // bytes encode moved to squeeze zero pages out
	kind    byte
	round   uint32
	scratch []byte // encoded extents
	wire    []byte // the encoded batch, set by encode
}

func newBatchBuf(maxBatch int) *batchBuf {
	return &batchBuf{
		buf:     make([]byte, metaRoom+lz4.CompressBlockBound(maxBatch)),
		maxData: maxBatch / PageSize,
	}
}

func (b *batchBuf) reset() {
	b.ndata, b.npages, b.kind, b.round = 0, 0, batchData, 0
	b.dense, b.moved = false, 0
	b.exts, b.bitmap, b.wire = b.exts[:0], b.bitmap[:0], nil
}

// extend adds n pages at addr to the extents, or reports that they need
// a new batch (too many extents, or addr goes backwards).
func (b *batchBuf) extend(addr, n uint64) bool {
	if k := len(b.exts); k > 0 {
		last := &b.exts[k-1]
		switch end := last.end(); {
		case addr == end:
			last.npages += n
			return true
		case addr < end || k == maxExtents:
			return false
		}
	}
	b.exts = append(b.exts, extent{addr: addr, npages: n})
	return true
}

// growBitmap makes room for the bits of n more pages.
func (b *batchBuf) growBitmap(n uint64) {
	for want := int((b.npages + n + 7) / 8); len(b.bitmap) < want; {
		b.bitmap = append(b.bitmap, 0)
	}
}

// addData adds the pages of data at addr, as bits when they are zero, and
// returns how many pages it took: fewer when the batch is full.
func (b *batchBuf) addData(addr uint64, data []byte) uint64 {
	n := uint64(len(data)) >> pageShift
	var i uint64
	for ; i < n && b.npages < maxBatchPages; i++ {
		page := data[i<<pageShift : (i+1)<<pageShift]
		zero := isZeroPage(page)
		if !zero && b.ndata == b.maxData || !b.extend(addr+i<<pageShift, 1) {
			break
		}
		if !zero {
			copy(b.buf[metaRoom+b.ndata<<pageShift:], page)
		}
		b.markPage(zero)
	}
	return i
}

// markPage counts the next page of the batch (its extent added already):
// a zero bit, or one more data page.
func (b *batchBuf) markPage(zero bool) {
	b.growBitmap(1)
	if zero {
		b.bitmap[b.npages>>3] |= 1 << (b.npages & 7)
	} else {
		b.ndata++
	}
	b.npages++
}

// addZero adds n zero pages at addr and returns how many it took.
func (b *batchBuf) addZero(addr, n uint64) uint64 {
	n = min(n, maxBatchPages-b.npages)
	if n == 0 || !b.extend(addr, n) {
		return 0
	}
	b.growBitmap(n)
	for i, end := b.npages, b.npages+n; i < end; {
		if i&7 == 0 && end-i >= 8 {
			b.bitmap[i>>3] = 0xff
			i += 8
			continue
		}
		b.bitmap[i>>3] |= 1 << (i & 7)
		i++
	}
	b.npages += n
	return n
}

// encode encodes the batch. With c non-nil it tries lz4 into spare; when
// that is smaller the encoded batch lives in spare. It returns the buffer
// that holds the encoded batch in its wire field.
func (b *batchBuf) encode(c *lz4.Compressor, spare *batchBuf) *batchBuf {
	h := batchHeader{kind: b.kind, round: b.round}
	if b.kind != batchData {
		b.wire = b.place(&h, nil, nil, nil)
		return b
	}
	b.encodeExtents(&h)
	if b.ndata == 0 {
		h.flags = flagAllZero
		b.wire = b.place(&h, b.scratch, nil, nil)
		return b
	}
	h.bitmapLen = uint32(len(b.bitmap))
	if c != nil && spare != nil {
		if payload, ok := b.compress(&h, c, spare); ok {
			spare.kind, spare.wire = b.kind, spare.place(&h, b.scratch, b.bitmap, payload)
			return spare
		}
	}
	raw := b.rawData()
	h.rawLen, h.wireLen = uint32(len(raw)), uint32(len(raw))
	b.wire = b.place(&h, b.scratch, b.bitmap, raw)
	return b
}

// encodeExtents writes the extents to scratch and their fields to h.
func (b *batchBuf) encodeExtents(h *batchHeader) {
	b.scratch = b.scratch[:0]
	prev := b.exts[0].addr
	for _, e := range b.exts {
		b.scratch = binary.AppendUvarint(b.scratch, (e.addr-prev)>>pageShift)
		b.scratch = binary.AppendUvarint(b.scratch, e.npages)
		prev = e.end()
	}
	h.base, h.npages, h.nexts = b.exts[0].addr, uint32(b.npages), uint32(len(b.exts))
	h.extLen = uint32(len(b.scratch))
}

// compress compresses the data into spare and reports whether the block
// is smaller than the non-zero pages alone, which is what would go raw. A
// dense buffer is compressed as it is, zero pages and all (a dense batch).
func (b *batchBuf) compress(h *batchHeader, c *lz4.Compressor, spare *batchBuf) ([]byte, bool) {
	n := b.ndata
	if b.dense {
		n = int(b.npages)
	}
	in := b.buf[metaRoom : metaRoom+n<<pageShift]
	out := spare.buf[metaRoom : metaRoom+b.ndata<<pageShift-1]
	k, err := c.CompressBlock(in, out)
	if err != nil || k == 0 {
		return nil, false
	}
	h.comp, h.rawLen, h.wireLen = compLZ4, uint32(len(in)), uint32(k)
	if b.dense && b.ndata < int(b.npages) {
		h.flags = flagDense
	}
	return out[:k], true
}

// rawData returns the non-zero pages, in order. A dense buffer's zero
// pages are squeezed out first, so that a raw batch never carries any.
func (b *batchBuf) rawData() []byte {
	data := b.buf[metaRoom:]
	if b.dense && b.ndata < int(b.npages) {
		w := 0
		for i := range int(b.npages) {
			if b.bitmap[i>>3]>>(i&7)&1 != 0 {
				continue
			}
			if w != i {
				copy(data[w<<pageShift:(w+1)<<pageShift], data[i<<pageShift:(i+1)<<pageShift])
				b.moved += PageSize
			}
			w++
		}
	}
	b.dense = false
	return data[:b.ndata<<pageShift]
}

// place writes header, extents and bitmap in front of payload, which
// starts at metaRoom in b.buf, and returns the whole batch.
func (b *batchBuf) place(h *batchHeader, ext, bitmap, payload []byte) []byte {
	start := metaRoom - batchHeaderLen - len(ext) - len(bitmap)
	h.put(b.buf[start:])
	off := start + batchHeaderLen
	off += copy(b.buf[off:], ext)
	copy(b.buf[off:], bitmap)
	return b.buf[start : metaRoom+len(payload)]
}
