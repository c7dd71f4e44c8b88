package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// Stream preface: every stream starts with "mg", the protocol version and
// the stream kind.
const (
	prefaceLen      = 4
	protocolVersion = 1
	kindControl     = 1
	kindPages       = 2
	kindHello       = 3 // the server's unidirectional stream
)

func preface(kind byte) [prefaceLen]byte {
	return [prefaceLen]byte{'m', 'g', protocolVersion, kind}
}

func parsePreface(p [prefaceLen]byte) (byte, error) {
	if p[0] != 'm' || p[1] != 'g' {
		return 0, protoErrorf("bad stream preface %x", p)
	}
	if p[2] != protocolVersion {
		return 0, protoErrorf("stream protocol version %d, want %d", p[2], protocolVersion)
	}
	if p[3] != kindControl && p[3] != kindPages && p[3] != kindHello {
		return 0, protoErrorf("unknown stream kind %d", p[3])
	}
	return p[3], nil
}

// watch calls expire once if ctx ends before stop is called. stop waits for
// a running expire to return and reports whether it ran.
func watch(ctx context.Context, expire func()) (stop func() bool) {
	if ctx.Done() == nil {
		return func() bool { return false }
	}
	var mu sync.Mutex
	stopped, fired := false, false
	cancel := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			fired = true
			expire()
		}
	})
	return func() bool {
		if cancel() {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		return fired
	}
}

// past is a deadline that has always expired.
var past = time.Unix(1, 0)

// isTimeout reports whether err is a deadline error.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readFull fills b from s; ctx's end unblocks it through the read deadline.
// It returns the number of bytes read, so that callers can tell a clean
// stop (n == 0) from a stream left in the middle of a message.
func readFull(ctx context.Context, s *quic.Stream, b []byte) (int, error) {
	stop := watch(ctx, func() { s.SetReadDeadline(past) })
	n, err := io.ReadFull(s, b)
	if stop() {
		s.SetReadDeadline(time.Time{})
		if err != nil && isTimeout(err) {
			err = ctx.Err()
		}
	}
	return n, err
}

// writeAll writes b to s; ctx's end unblocks it through the write deadline.
func writeAll(ctx context.Context, s *quic.Stream, b []byte) error {
	stop := watch(ctx, func() { s.SetWriteDeadline(past) })
	_, err := s.Write(b)
	if stop() {
		s.SetWriteDeadline(time.Time{})
		if err != nil && isTimeout(err) {
			err = ctx.Err()
		}
	}
	return err
}

// streamErr names the direction and operation of a stream error.
func streamErr(op string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %w: stream ended early", op, ErrProtocol)
	}
	return fmt.Errorf("%s: %w", op, err)
}
