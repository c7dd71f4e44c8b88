package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// awaitAck checks the receiver's ack (after closeStream).
func (p *PageSender) awaitAck() error {
	var ack [ackLen]byte
	// The stream's reset (ctx, fail) unblocks the read.
	if _, err := readFull(context.Background(), p.s, ack[:]); err != nil {
		return p.ackErr(streamErr("page sender: waiting for the ack", err))
	}
	want := makeAck(p.round, p.batches.Load(), p.pagesData.Load()+p.pagesZero.Load())
	if ack != want {
		return fmt.Errorf("%w: ack %x, want %x", ErrNotAcked, ack, want)
	}
	// Read the receiver's end of stream too: only then does QUIC release
	// the stream and its credit.
	var extra [1]byte
	if n, err := readFull(context.Background(), p.s, extra[:]); n != 0 || !errors.Is(err, io.EOF) {
		return p.ackErr(protoErrorf("page sender: bytes after the ack (%v)", err))
	}
	return nil
}

// closeStream ends the stream's send side: the receiver acks only once it
// saw the stream end after the end marker.
func (p *PageSender) closeStream() error {
	// Closing ends the stream's context: stop watching it first.
	if p.stopStream(); p.failed() != nil {
		return p.err
	}
	if err := p.s.Close(); err != nil {
		return fmt.Errorf("page sender: close: %w", err)
	}
	return nil
}

// ackErr prefers the reason the sender failed (ctx) over the stream error
// that failure caused.
func (p *PageSender) ackErr(err error) error {
	if e := p.failed(); e != nil {
		return e
	}
	return err
}

// Ack: what the receiver got, sent back after the end of the stream.
const (
	ackLen   = 24
	ackMagic = 'A'
)

func makeAck(rounds uint32, batches, pages uint64) [ackLen]byte {
	var a [ackLen]byte
	a[0] = ackMagic
	binary.LittleEndian.PutUint32(a[4:], rounds)
	binary.LittleEndian.PutUint64(a[8:], batches)
	binary.LittleEndian.PutUint64(a[16:], pages)
	return a
}
