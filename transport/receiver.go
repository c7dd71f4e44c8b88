package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"

	"github.com/quic-go/quic-go"
)

// PageReceiver reads the batches of one page stream. Next and Close are
// not safe for concurrent use; a Batch's Each and Pages may run on another
// goroutine while Next receives the following batches (see SetDepth).
type PageReceiver struct {
	s       *quic.Stream
	hdr     [batchHeaderLen]byte
	slots   []slot // batch n uses slots[n % len]: the last len batches stay valid
	round   uint32 // round in progress: last round ended + 1
	batches uint64
	pages   uint64
	gen     uint64      // generation of the last data batch (Next's goroutine only)
	dead    atomic.Bool // failed or closed: every Batch is stale
	err     error       // sticky: io.EOF after the end, or the failure
}

// slot holds one received batch.
type slot struct {
	gen  atomic.Uint64 // generation of the batch it holds (or is receiving)
	body []byte        // reused; at most MaxBatchLimit plus metadata
	dec  decoded
}

func newPageReceiver(s *quic.Stream) *PageReceiver {
	return &PageReceiver{s: s, slots: make([]slot, 1)}
}

// SetDepth keeps the data of the last n batches valid (default 1: only
// the last), so that a consumer may write one batch while the next is
// being received. Call it before the first Next.
func (r *PageReceiver) SetDepth(n int) {
	if n >= 1 && r.gen == 0 {
		r.slots = make([]slot, n)
	}
}

func (r *PageReceiver) slot(gen uint64) *slot { return &r.slots[gen%uint64(len(r.slots))] }

// live reports whether the batch of generation gen is still valid: its
// slot has not been taken by a later batch, and the stream did not fail.
func (r *PageReceiver) live(gen uint64) bool {
	return !r.dead.Load() && r.slot(gen).gen.Load() == gen
}

// Batch is one received batch: pages of a round, or the end marker of a
// round. Its page data is valid until the next data batch is received
// (or the next depth data batches, see SetDepth).
type Batch struct {
	Round      uint32
	IsRoundEnd bool

	r   *PageReceiver // nil for markers
	gen uint64
}

// Pages returns the number of pages the batch describes (0 for markers).
func (b Batch) Pages() uint64 {
	if b.r == nil || !b.r.live(b.gen) {
		return 0
	}
	return b.r.slot(b.gen).dec.npages
}

// Each calls fn for every run of pages, in order: zero runs have
// zero=true and nil data; data runs carry npages*PageSize bytes, valid
// as long as the batch is (see Batch). An error from fn stops the walk
// and is returned. Each may be called again while the batch is valid.
func (b Batch) Each(fn func(addr uint64, data []byte, zero bool, npages uint64) error) error {
	if b.r == nil {
		return nil
	}
	if !b.r.live(b.gen) {
		return ErrStaleBatch
	}
	return b.r.slot(b.gen).dec.each(fn)
}

// Next returns the next batch, and io.EOF once the sender closed the
// stream after the last batch; the sender's Close then learns that every
// page arrived. Ending ctx unblocks Next; if it ends while a batch is half
// read the stream is reset and Next keeps failing.
func (r *PageReceiver) Next(ctx context.Context) (Batch, error) {
	if r.err != nil {
		return Batch{}, r.err
	}
	n, err := readFull(ctx, r.s, r.hdr[:])
	if err != nil {
		if n == 0 && ctx.Err() != nil {
			return Batch{}, fmt.Errorf("page receiver: %w", err)
		}
		return Batch{}, r.fail(streamErr("page receiver", err))
	}
	h, err := parseBatchHeader(r.hdr[:])
	if err != nil {
		return Batch{}, r.fail(fmt.Errorf("page receiver: %w", err))
	}
	if err := r.checkRound(&h); err != nil {
		return Batch{}, r.fail(err)
	}
	switch h.kind {
	case batchEnd:
		return Batch{}, r.finish(ctx)
	case batchRoundEnd:
		r.round = h.round + 1
		return Batch{Round: h.round, IsRoundEnd: true}, nil
	}
	r.gen++ // a data batch takes the next slot
	if err := r.readBody(ctx, &h); err != nil {
		return Batch{}, r.fail(err)
	}
	r.batches++
	r.pages += r.slot(r.gen).dec.npages
	return Batch{Round: h.round, r: r, gen: r.gen}, nil
}

// checkRound checks that batches come in round order: data batches and the
// end marker carry the round in progress, round markers one not below it.
func (r *PageReceiver) checkRound(h *batchHeader) error {
	ok := h.round == r.round
	if h.kind == batchRoundEnd {
		ok = h.round >= r.round && h.round != math.MaxUint32
	}
	if !ok {
		return protoErrorf("page receiver: %s of round %d during round %d", kindName(h.kind), h.round, r.round)
	}
	return nil
}

func kindName(kind byte) string {
	switch kind {
	case batchRoundEnd:
		return "round marker"
	case batchEnd:
		return "end marker"
	}
	return "batch"
}

// readBody reads and decodes the rest of a data batch.
func (r *PageReceiver) readBody(ctx context.Context, h *batchHeader) error {
	sl := r.slot(r.gen)
	sl.gen.Store(r.gen) // earlier batches of this slot are stale from now on
	n := h.bodyLen()
	if cap(sl.body) < n {
		sl.body = make([]byte, n)
	}
	body := sl.body[:n]
	if _, err := readFull(ctx, r.s, body); err != nil {
		return streamErr("page receiver", err)
	}
	if err := sl.dec.decode(h, body); err != nil {
		return fmt.Errorf("page receiver: %w", err)
	}
	return nil
}

// finish checks that the stream ends after the end marker, then acks.
func (r *PageReceiver) finish(ctx context.Context) error {
	var extra [1]byte
	if n, err := readFull(ctx, r.s, extra[:]); n != 0 || !errors.Is(err, io.EOF) {
		if n == 0 && ctx.Err() != nil {
			return r.fail(fmt.Errorf("page receiver: %w", err))
		}
		return r.fail(protoErrorf("page receiver: stream goes on after its end marker (%v)", err))
	}
	ack := makeAck(r.round, r.batches, r.pages)
	if err := writeAll(ctx, r.s, ack[:]); err != nil {
		return r.fail(fmt.Errorf("page receiver: ack: %w", err))
	}
	if err := r.s.Close(); err != nil {
		return r.fail(fmt.Errorf("page receiver: ack: %w", err))
	}
	r.err = io.EOF
	return io.EOF
}

// fail makes err sticky and resets the stream, so that the sender fails
// too instead of waiting.
func (r *PageReceiver) fail(err error) error {
	r.err = err
	r.dead.Store(true)
	r.s.CancelRead(codeProtocol)
	r.s.CancelWrite(codeProtocol)
	return err
}

// Close abandons the stream unless it already ended: the sender's calls
// then fail.
func (r *PageReceiver) Close() error {
	if r.err == nil {
		r.err = ErrClosed
		r.dead.Store(true)
		r.s.CancelRead(codeCanceled)
		r.s.CancelWrite(codeCanceled)
	}
	return nil
}
