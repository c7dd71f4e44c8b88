package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/quic-go/quic-go"
)

// Control frames: u16 type, u16 flags (0), u32 length, payload.
const (
	frameHeaderLen = 8
	// MaxFrameSize is the largest control payload.
	MaxFrameSize = 16 << 20
	// payloadStep is how far a receiver allocates ahead of the bytes that
	// actually arrived, so that a lying length costs little.
	payloadStep = 64 << 10
)

// Control is a stream of typed messages. One goroutine may Send while
// another Receives.
type Control struct {
	s *quic.Stream

	sendMu  sync.Mutex
	sendErr error // sticky once a frame went out in part

	recvMu  sync.Mutex
	recvErr error // sticky once a frame was read in part
}

// appendFrame appends the frame (typ, payload) to dst.
func appendFrame(dst []byte, typ uint16, payload []byte) ([]byte, error) {
	if len(payload) > MaxFrameSize {
		return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, len(payload), MaxFrameSize)
	}
	dst = binary.LittleEndian.AppendUint16(dst, typ)
	dst = binary.LittleEndian.AppendUint16(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...), nil
}

// parseFrameHeader checks a frame header and returns the type and the
// payload length.
func parseFrameHeader(b []byte) (typ uint16, n int, err error) {
	if len(b) < frameHeaderLen {
		return 0, 0, io.ErrUnexpectedEOF
	}
	typ = binary.LittleEndian.Uint16(b)
	if flags := binary.LittleEndian.Uint16(b[2:]); flags != 0 {
		return 0, 0, protoErrorf("control frame flags %#x, want 0", flags)
	}
	size := binary.LittleEndian.Uint32(b[4:])
	if size > MaxFrameSize {
		return 0, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, size, MaxFrameSize)
	}
	return typ, int(size), nil
}

// Send sends one message. Frames larger than MaxFrameSize are refused. A
// Send that fails or is cancelled midway may have sent part of the frame:
// the stream is reset and later calls fail too.
func (c *Control) Send(ctx context.Context, typ uint16, payload []byte) error {
	frame, err := appendFrame(make([]byte, 0, frameHeaderLen+len(payload)), typ, payload)
	if err != nil {
		return fmt.Errorf("control send: %w", err)
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.sendErr != nil {
		return c.sendErr
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("control send: %w", err)
	}
	if err := writeAll(ctx, c.s, frame); err != nil {
		// Part of the frame may be out: the stream cannot carry more.
		c.sendErr = fmt.Errorf("control send: %w", err)
		c.s.CancelWrite(codeCanceled)
		return c.sendErr
	}
	return nil
}

// Recv waits for the next message. It returns io.EOF when the peer closed
// the control stream. Ending ctx unblocks it; if the cancelled call had read
// part of a frame the stream is unusable and later calls fail too.
func (c *Control) Recv(ctx context.Context) (typ uint16, payload []byte, err error) {
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	if c.recvErr != nil {
		return 0, nil, c.recvErr
	}
	var h [frameHeaderLen]byte
	n, err := readFull(ctx, c.s, h[:])
	switch {
	case err == nil:
	case n == 0 && errors.Is(err, io.EOF):
		c.recvErr = io.EOF
		return 0, nil, io.EOF
	case n == 0 && ctx.Err() != nil:
		return 0, nil, fmt.Errorf("control recv: %w", err)
	default:
		return 0, nil, c.failRecv(err)
	}
	typ, size, err := parseFrameHeader(h[:])
	if err != nil {
		return 0, nil, c.failRecv(err)
	}
	payload, err = readPayload(ctx, c.s, size)
	if err != nil {
		return 0, nil, c.failRecv(err)
	}
	return typ, payload, nil
}

// failRecv makes err sticky and tells the peer to stop sending.
func (c *Control) failRecv(err error) error {
	c.recvErr = streamErr("control recv", err)
	c.s.CancelRead(codeProtocol)
	return c.recvErr
}

// readPayload reads n bytes, growing the buffer as the bytes arrive.
func readPayload(ctx context.Context, s *quic.Stream, n int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	buf := make([]byte, 0, min(n, payloadStep))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		k, err := readFull(ctx, s, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// Close ends the control stream in both directions: the peer's Recv
// returns io.EOF once it has read what was sent, and its Send fails.
func (c *Control) Close() error {
	c.s.CancelRead(codeCanceled)
	return c.s.Close()
}
