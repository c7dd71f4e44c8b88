package transport

import (
	"encoding/binary"
	"io"
	"math/bits"

	"github.com/pierrec/lz4/v4"
)

// PageSize is the size of the pages a batch carries.
const PageSize = 4096

// Batch wire format (see doc.go).
const (
	pageShift      = 12
	batchHeaderLen = 40
	batchMagic     = 'B'

	batchData     = 1 // pages
	batchRoundEnd = 2 // round marker
	batchEnd      = 3 // end of stream

	compNone = 0
	compLZ4  = 1

	flagAllZero = 1 // every page is zero: no bitmap, no data
	// flagDense: the (lz4) data holds every page of the extents in order,
	// zero pages included (the bitmap still marks them). A sender that read
	// pages straight into its buffer sends them where they lie; lz4 makes
	// the zero pages nearly free.
	flagDense = 2

	maxBatchPages = 1 << 18 // 1 GiB of address space per batch
	maxExtents    = 2048
	maxExtentLen  = binary.MaxVarintLen64 + 3 // gap + npages (< 2^21)
	maxBitmapLen  = maxBatchPages / 8
	// metaRoom is the room in front of the page data where the sender
	// writes header, extents and bitmap, so that a batch goes out in one write.
	metaRoom = 64 << 10
	// maxAddress bounds every page address, so that address arithmetic
	// cannot overflow (user space ends far below it).
	maxAddress = 1 << 63
)

// batchHeader is the fixed part of a batch.
type batchHeader struct {
	kind, comp, flags byte
	round             uint32
	base              uint64
	npages, nexts     uint32
	extLen, bitmapLen uint32
	rawLen, wireLen   uint32
}

// bodyLen is the number of bytes that follow the header.
func (h *batchHeader) bodyLen() int {
	return int(h.extLen) + int(h.bitmapLen) + int(h.wireLen)
}

func (h *batchHeader) put(b []byte) {
	_ = b[batchHeaderLen-1]
	b[0], b[1], b[2], b[3] = batchMagic, h.kind, h.comp, h.flags
	le := binary.LittleEndian
	le.PutUint32(b[4:], h.round)
	le.PutUint64(b[8:], h.base)
	le.PutUint32(b[16:], h.npages)
	le.PutUint32(b[20:], h.nexts)
	le.PutUint32(b[24:], h.extLen)
	le.PutUint32(b[28:], h.bitmapLen)
	le.PutUint32(b[32:], h.rawLen)
	le.PutUint32(b[36:], h.wireLen)
}

// parseBatchHeader decodes and checks everything the header alone tells,
// so that no buffer is sized from an unchecked length.
func parseBatchHeader(b []byte) (batchHeader, error) {
	if len(b) < batchHeaderLen {
		return batchHeader{}, io.ErrUnexpectedEOF
	}
	le := binary.LittleEndian
	h := batchHeader{
		kind: b[1], comp: b[2], flags: b[3],
		round: le.Uint32(b[4:]), base: le.Uint64(b[8:]),
		npages: le.Uint32(b[16:]), nexts: le.Uint32(b[20:]),
		extLen: le.Uint32(b[24:]), bitmapLen: le.Uint32(b[28:]),
		rawLen: le.Uint32(b[32:]), wireLen: le.Uint32(b[36:]),
	}
	if b[0] != batchMagic {
		return h, protoErrorf("batch magic %#x, want %#x", b[0], batchMagic)
	}
	switch h.kind {
	case batchRoundEnd, batchEnd:
		if h != (batchHeader{kind: h.kind, round: h.round}) {
			return h, protoErrorf("marker batch with nonzero fields")
		}
		return h, nil
	case batchData:
		return h, h.checkData()
	}
	return h, protoErrorf("unknown batch kind %d", h.kind)
}

// checkData checks the header of a data batch.
func (h *batchHeader) checkData() error {
	switch {
	case h.flags&^(flagAllZero|flagDense) != 0:
		return protoErrorf("unknown batch flags %#x", h.flags)
	case h.flags == flagAllZero|flagDense:
		return protoErrorf("batch both all zero and dense")
	case h.comp != compNone && h.comp != compLZ4:
		return protoErrorf("unknown compression %d", h.comp)
	case h.base%PageSize != 0 || h.base >= maxAddress:
		return protoErrorf("bad base address %#x", h.base)
	case h.npages == 0 || h.npages > maxBatchPages:
		return protoErrorf("batch of %d pages, want 1..%d", h.npages, maxBatchPages)
	case h.nexts == 0 || h.nexts > maxExtents || h.nexts > h.npages:
		return protoErrorf("%d extents for %d pages", h.nexts, h.npages)
	case h.extLen < 2*h.nexts || h.extLen > maxExtentLen*h.nexts:
		return protoErrorf("%d bytes of extents for %d extents", h.extLen, h.nexts)
	}
	if h.flags&flagAllZero != 0 {
		if h.bitmapLen != 0 || h.rawLen != 0 || h.wireLen != 0 || h.comp != compNone {
			return protoErrorf("all-zero batch with a bitmap or data")
		}
		return nil
	}
	switch {
	case h.bitmapLen != (h.npages+7)/8:
		return protoErrorf("bitmap of %d bytes for %d pages", h.bitmapLen, h.npages)
	case h.rawLen == 0 || h.rawLen%PageSize != 0 || h.rawLen > MaxBatchLimit ||
		uint64(h.rawLen) > uint64(h.npages)*PageSize:
		return protoErrorf("%d bytes of page data for %d pages", h.rawLen, h.npages)
	case h.comp == compNone && h.wireLen != h.rawLen:
		return protoErrorf("uncompressed data of %d bytes, want %d", h.wireLen, h.rawLen)
	case h.comp == compLZ4 && (h.wireLen == 0 || h.wireLen >= h.rawLen):
		return protoErrorf("lz4 data of %d bytes for %d raw", h.wireLen, h.rawLen)
	}
	if h.flags&flagDense != 0 {
		return h.checkDense()
	}
	return nil
}

// checkDense checks what the header of a dense batch tells: its data
// holds every page, and only lz4 makes carrying zero pages worth it (a
// raw batch leaves them out).
func (h *batchHeader) checkDense() error {
	switch {
	case uint64(h.rawLen) != uint64(h.npages)*PageSize:
		return protoErrorf("dense batch of %d pages with %d bytes of data", h.npages, h.rawLen)
	case h.comp != compLZ4:
		return protoErrorf("dense batch not compressed")
	}
	return nil
}

// extent is a run of contiguous pages.
type extent struct {
	addr, npages uint64
}

func (e extent) end() uint64 { return e.addr + e.npages<<pageShift }

// decoded is a decoded data batch. Its slices alias the receive buffer and
// the decompression buffer, both reused by the next batch.
type decoded struct {
	exts    []extent
	allZero bool
	bitmap  []byte // bit set: zero page
	data    []byte // the non-zero pages, in order; every page when dense
	dense   bool
	npages  uint64
	raw     []byte // decompression buffer
	lz4Size int    // wire size of the data when it was compressed
}

// decode decodes the body of a data batch whose header h was checked.
func (d *decoded) decode(h *batchHeader, body []byte) error {
	if len(body) != h.bodyLen() {
		return io.ErrUnexpectedEOF
	}
	ext, rest := body[:h.extLen], body[h.extLen:]
	bm, payload := rest[:h.bitmapLen], rest[h.bitmapLen:]
	if err := d.decodeExtents(h, ext); err != nil {
		return err
	}
	d.bitmap, d.data, d.lz4Size = nil, nil, 0
	d.allZero, d.dense = h.flags&flagAllZero != 0, h.flags&flagDense != 0
	if d.allZero {
		return nil
	}
	if err := checkBitmap(h, bm); err != nil {
		return err
	}
	d.bitmap = bm
	return d.decodeData(h, payload)
}

// decodeExtents reads the (gap, npages) varint pairs.
func (d *decoded) decodeExtents(h *batchHeader, b []byte) error {
	d.exts, d.npages = d.exts[:0], 0
	pos := h.base
	for i := uint32(0); i < h.nexts; i++ {
		gap, k := binary.Uvarint(b)
		if k <= 0 {
			return protoErrorf("bad extent %d gap", i)
		}
		b = b[k:]
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return protoErrorf("bad extent %d length", i)
		}
		b = b[k:]
		switch {
		case (i == 0) != (gap == 0):
			return protoErrorf("extent %d: gap of %d pages", i, gap)
		case n == 0 || n > uint64(h.npages)-d.npages:
			return protoErrorf("extent %d: %d pages, %d left", i, n, uint64(h.npages)-d.npages)
		case gap > (maxAddress-pos)>>pageShift || n > (maxAddress-pos)>>pageShift-gap:
			return protoErrorf("extent %d beyond the address limit", i)
		}
		e := extent{addr: pos + gap<<pageShift, npages: n}
		d.exts = append(d.exts, e)
		d.npages += n
		pos = e.end()
	}
	if len(b) != 0 || d.npages != uint64(h.npages) {
		return protoErrorf("extents cover %d pages, header says %d (%d bytes left)", d.npages, h.npages, len(b))
	}
	return nil
}

// checkBitmap checks the padding bits and that the data length matches the
// number of non-zero pages. A dense batch has zero pages (else it would
// not be dense) and non-zero ones (else it would be all zero), and its lz4
// block is smaller than its non-zero pages (else they go raw).
func checkBitmap(h *batchHeader, bm []byte) error {
	if tail := h.npages % 8; tail != 0 && bm[len(bm)-1]>>tail != 0 {
		return protoErrorf("bitmap padding bits set")
	}
	zeros := 0
	for _, x := range bm {
		zeros += bits.OnesCount8(x)
	}
	data := int(h.npages) - zeros
	if h.flags&flagDense == 0 {
		if data*PageSize != int(h.rawLen) {
			return protoErrorf("%d non-zero pages but %d bytes of data", data, h.rawLen)
		}
		return nil
	}
	switch {
	case zeros == 0 || data == 0:
		return protoErrorf("dense batch of %d pages with %d zero pages", h.npages, zeros)
	case int(h.wireLen) >= data*PageSize:
		return protoErrorf("dense lz4 data of %d bytes for %d non-zero pages", h.wireLen, data)
	}
	return nil
}

// decodeData decompresses the page data once, into the reused buffer.
func (d *decoded) decodeData(h *batchHeader, payload []byte) error {
	if h.comp == compNone {
		d.data = payload
		return nil
	}
	if cap(d.raw) < int(h.rawLen) {
		d.raw = make([]byte, h.rawLen)
	}
	raw := d.raw[:h.rawLen]
	n, err := lz4.UncompressBlock(payload, raw)
	if err != nil || n != len(raw) {
		return protoErrorf("lz4 data does not decompress to %d bytes", len(raw))
	}
	d.data, d.lz4Size = raw, len(payload)
	return nil
}

func (d *decoded) isZero(i uint64) bool {
	return d.allZero || d.bitmap[i>>3]>>(i&7)&1 != 0
}

// each calls fn for every run of pages of the same kind, in order.
func (d *decoded) each(fn func(addr uint64, data []byte, zero bool, npages uint64) error) error {
	var page uint64 // index of the page in the batch
	off := 0        // offset in d.data
	for _, e := range d.exts {
		for i := uint64(0); i < e.npages; {
			zero := d.isZero(page + i)
			j := i + 1
			for j < e.npages && d.isZero(page+j) == zero {
				j++
			}
			addr, n := e.addr+i<<pageShift, j-i
			var err error
			if zero {
				err = fn(addr, nil, true, n)
			} else {
				if d.dense { // data by page index, not by rank among non-zero pages
					off = int(page+i) << pageShift
				}
				end := off + int(n)<<pageShift
				err = fn(addr, d.data[off:end:end], false, n)
				off = end
			}
			if err != nil {
				return err
			}
			i = j
		}
		page += e.npages
	}
	return nil
}
