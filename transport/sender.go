package transport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/pierrec/lz4/v4"
	"github.com/quic-go/quic-go"
)

// sendBuffers is the number of batch buffers that circulate between the
// caller (filling one, or reading into a lent one), the compressor and the
// writer, so that reading pages, compressing and sending overlap. With lz4
// the compressor has one more, its spare, from the start. The pipeline
// cannot deadlock: the writer never waits for a buffer, the compressor
// never takes one from the pool, and the caller is the only one that
// waits for a free one.
const sendBuffers = 3

// SendStats counts what a PageSender sent.
type SendStats struct {
	PagesData uint64 // pages sent as data
	PagesZero uint64 // pages sent as zero bits
	RawBytes  uint64 // bytes of page data before compression
	WireBytes uint64 // bytes written to the stream, headers included
	Batches   uint64 // data batches (markers not counted)
	// CopiedBytes is the page data AddData copied into batch buffers.
	// Pages read into lent buffers (Lend, Commit) are not copied.
	CopiedBytes uint64
	// SqueezedBytes is the page data moved inside lent buffers: to close
	// the holes of zero pages when a batch goes raw, and of skipped pages.
	SqueezedBytes uint64
}

// PageSender sends pages in batches. Its methods are not safe for
// concurrent use; the caller's goroutine fills batches while two others
// compress and write them.
type PageSender struct {
	s          *quic.Stream
	cfg        Config
	cur        *batchBuf
	lent       *batchBuf // lent to the caller (Lend), until Commit
	round      uint32
	stopCtx    func() bool
	stopStream func() bool
	closed     bool // CloseSend was called
	waited     bool // the sender is done (Wait, or CloseSend failed)

	free   chan *batchBuf // buffers nobody uses
	toComp chan *batchBuf // filled, for the compressor
	toSend chan *batchBuf // encoded, for the writer
	wg     sync.WaitGroup

	errOnce sync.Once
	done    chan struct{} // closed by fail
	err     error

	pagesData, pagesZero, rawBytes atomic.Uint64
	wireBytes, batches             atomic.Uint64
	copied, squeezed               atomic.Uint64
}

func newPageSender(ctx context.Context, s *quic.Stream, cfg Config) *PageSender {
	p := &PageSender{
		s:      s,
		cfg:    cfg,
		free:   make(chan *batchBuf, sendBuffers),
		toComp: make(chan *batchBuf),
		toSend: make(chan *batchBuf, 1),
		done:   make(chan struct{}),
	}
	for range sendBuffers {
		p.free <- newBatchBuf(cfg.MaxBatch)
	}
	p.stopCtx = watch(ctx, func() { p.fail(fmt.Errorf("page sender: %w", ctx.Err())) })
	// The stream's context ends with the connection: an idle sender must
	// not keep its goroutines.
	p.stopStream = watch(s.Context(), func() {
		p.fail(fmt.Errorf("page sender: %w", context.Cause(s.Context())))
	})
	p.wg.Add(2)
	go p.compressLoop()
	go p.writeLoop()
	return p
}

// fail records the first error, stops the pipeline and resets the stream
// so that nothing stays blocked on it.
func (p *PageSender) fail(err error) {
	p.errOnce.Do(func() {
		p.err = err
		close(p.done)
		p.s.CancelWrite(codeCanceled)
		p.s.CancelRead(codeCanceled)
	})
}

// failed returns the pipeline's error, if any.
func (p *PageSender) failed() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// compressLoop encodes the filled buffers, trying lz4 when configured. It
// keeps a spare buffer to compress into: whichever of input and spare does
// not go out becomes the next spare. Were the spare returned to the pool,
// the caller could take it first, and compression would wait for the
// writer instead of overlapping with it.
func (p *PageSender) compressLoop() {
	defer p.wg.Done()
	defer close(p.toSend)
	var c *lz4.Compressor
	var spare *batchBuf
	if p.cfg.Compress {
		c, spare = new(lz4.Compressor), newBatchBuf(p.cfg.MaxBatch)
	}
	for {
		var b *batchBuf
		select {
		case b = <-p.toComp:
		case <-p.done:
			return
		}
		if b == nil {
			return // closed by Close
		}
		out := b.encode(c, spare)
		p.squeezed.Add(uint64(b.moved))
		if out == spare {
			spare = b
		}
		select {
		case p.toSend <- out:
		case <-p.done:
			return
		}
	}
}

// writeLoop writes the encoded batches, one write each.
func (p *PageSender) writeLoop() {
	defer p.wg.Done()
	for b := range p.toSend {
		if _, err := p.s.Write(b.wire); err != nil {
			p.fail(fmt.Errorf("page sender: write: %w", err))
			return
		}
		p.wireBytes.Add(uint64(len(b.wire)))
		if b.kind == batchData {
			p.batches.Add(1)
		}
		p.free <- b
	}
}

// take returns a free buffer, or nil once the pipeline failed.
func (p *PageSender) take() *batchBuf {
	select {
	case b := <-p.free:
		b.reset()
		return b
	case <-p.done:
		return nil
	}
}

// current returns the batch being filled.
func (p *PageSender) current() (*batchBuf, error) {
	if p.closed {
		return nil, ErrClosed
	}
	if p.lent != nil {
		return nil, errLent
	}
	if p.cur == nil {
		if p.cur = p.take(); p.cur == nil {
			return nil, p.err
		}
	}
	return p.cur, nil
}

// flush hands the current batch, if any, to the compressor.
func (p *PageSender) flush() error {
	if p.cur == nil || p.cur.npages == 0 {
		return p.failed()
	}
	return p.push(p.cur, p.round)
}

// push hands b, a batch of round, to the compressor.
func (p *PageSender) push(b *batchBuf, round uint32) error {
	if p.cur == b {
		p.cur = nil
	}
	b.round = round
	select {
	case p.toComp <- b:
		return nil
	case <-p.done:
		return p.err
	}
}

// checkRange checks the address and length of pages to add.
func checkRange(addr, npages uint64) error {
	if addr%PageSize != 0 {
		return fmt.Errorf("page address %#x is not page aligned", addr)
	}
	if npages > (maxAddress-min(addr, maxAddress))>>pageShift {
		return fmt.Errorf("pages at %#x+%d pages beyond address %#x", addr, npages, uint64(maxAddress))
	}
	return nil
}

// AddData queues the pages in data (a multiple of PageSize) at addr. data
// is copied, so the caller may reuse it when AddData returns. Zero pages
// found in data travel as bits.
func (p *PageSender) AddData(addr uint64, data []byte) error {
	if len(data)%PageSize != 0 {
		return fmt.Errorf("page data of %d bytes is not a multiple of %d", len(data), PageSize)
	}
	n := uint64(len(data)) >> pageShift
	if err := checkRange(addr, n); err != nil {
		return err
	}
	for done := uint64(0); done < n; {
		b, err := p.current()
		if err != nil {
			return err
		}
		before := b.ndata
		k := b.addData(addr+done<<pageShift, data[done<<pageShift:])
		p.pagesData.Add(uint64(b.ndata - before))
		p.pagesZero.Add(k - uint64(b.ndata-before))
		p.rawBytes.Add(uint64(b.ndata-before) << pageShift)
		p.copied.Add(uint64(b.ndata-before) << pageShift)
		if done += k; done < n {
			if err := p.flush(); err != nil {
				return err
			}
		}
	}
	return p.failed()
}

// AddZero queues npages zero pages at addr.
func (p *PageSender) AddZero(addr uint64, npages uint64) error {
	if err := checkRange(addr, npages); err != nil {
		return err
	}
	for done := uint64(0); done < npages; {
		b, err := p.current()
		if err != nil {
			return err
		}
		k := b.addZero(addr+done<<pageShift, npages-done)
		p.pagesZero.Add(k)
		if done += k; done < npages {
			if err := p.flush(); err != nil {
				return err
			}
		}
	}
	return p.failed()
}

// marker flushes the current batch and queues a marker of the given kind
// and round.
func (p *PageSender) marker(kind byte, round uint32) error {
	if p.lent != nil {
		return errLent
	}
	if err := p.flush(); err != nil {
		return err
	}
	b := p.take()
	if b == nil {
		return p.err
	}
	b.kind = kind
	return p.push(b, round)
}

// EndRound flushes the pages queued so far and sends the end marker of
// round. Round numbers must increase from call to call; the first may be
// any (0 or 1 are usual). Data batches carry the round in progress: one
// more than the round last ended, 0 before the first EndRound.
func (p *PageSender) EndRound(round uint32) error {
	if p.closed {
		return ErrClosed
	}
	if round < p.round || round == math.MaxUint32 {
		return fmt.Errorf("end of round %d: rounds must increase (round %d in progress)", round, p.round)
	}
	if err := p.marker(batchRoundEnd, round); err != nil {
		return err
	}
	p.round = round + 1
	return nil
}

// Stats returns what was queued and sent so far.
func (p *PageSender) Stats() SendStats {
	return SendStats{
		PagesData: p.pagesData.Load(),
		PagesZero: p.pagesZero.Load(),
		RawBytes:  p.rawBytes.Load(),
		WireBytes: p.wireBytes.Load(),
		Batches:   p.batches.Load(),

		CopiedBytes:   p.copied.Load(),
		SqueezedBytes: p.squeezed.Load(),
	}
}

// Close flushes, sends the end of the stream and waits until the receiver
// acknowledged every batch: a nil error means every page arrived. On error
// the stream is reset.
func (p *PageSender) Close() error {
	if err := p.CloseSend(); err != nil {
		return err
	}
	return p.Wait()
}

// CloseSend is the first half of Close: it flushes and writes the end of
// the stream, without waiting for the receiver. The caller may do other
// work (send the final state) before it calls Wait.
func (p *PageSender) CloseSend() error {
	if p.closed {
		return ErrClosed
	}
	if p.lent != nil { // as every other call while lent: the sender stays usable
		return errLent
	}
	err := p.marker(batchEnd, p.round)
	p.closed = true
	close(p.toComp)
	p.wg.Wait()
	if err == nil {
		err = p.failed()
	}
	if err == nil {
		err = p.closeStream()
	}
	if err != nil {
		p.finish(err)
	}
	return err
}

// Wait is the second half of Close: it waits until the receiver
// acknowledged every batch.
func (p *PageSender) Wait() error {
	if !p.closed {
		return errors.New("page sender: Wait before CloseSend")
	}
	if p.waited {
		return p.failed()
	}
	err := p.failed()
	if err == nil {
		err = p.awaitAck()
	}
	p.finish(err)
	return err
}

// finish ends the sender: the stream is reset on error.
func (p *PageSender) finish(err error) {
	if err != nil {
		p.fail(err)
	}
	p.waited = true
	p.stopCtx()
	p.stopStream()
}
