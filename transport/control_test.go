package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"
)

// controlPair opens a control stream from the dialed side and accepts it.
func controlPair(t *testing.T) (opened, accepted *Control) {
	t.Helper()
	dialed, acc, _ := connPair(t, DefaultConfig())
	ctx := testCtx(t, 10*time.Second)
	opened, err := dialed.OpenControl(ctx)
	if err != nil {
		t.Fatal(err)
	}
	accepted, err = acc.AcceptControl(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return opened, accepted
}

type msg struct {
	typ     uint16
	payload []byte
}

func TestControlRoundTrip(t *testing.T) {
	a, b := controlPair(t)
	ctx := testCtx(t, 10*time.Second)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	msgs := []msg{{1, []byte("hello")}, {2, nil}, {0xffff, big}, {7, []byte{0}}}
	for _, dir := range [][2]*Control{{a, b}, {b, a}} {
		from, to := dir[0], dir[1]
		errc := make(chan error, 1)
		go func() {
			for _, m := range msgs {
				if err := from.Send(ctx, m.typ, m.payload); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		for _, m := range msgs {
			typ, payload, err := to.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if typ != m.typ || !bytes.Equal(payload, m.payload) {
				t.Fatalf("got type %d, %d bytes; want type %d, %d bytes", typ, len(payload), m.typ, len(m.payload))
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Recv(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("after Close: got %v, want io.EOF", err)
	}
}

func TestControlOversize(t *testing.T) {
	a, b := controlPair(t)
	ctx := testCtx(t, 10*time.Second)
	if err := a.Send(ctx, 1, make([]byte, MaxFrameSize+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Send: got %v, want ErrFrameTooLarge", err)
	}
	// The stream is still usable after a refused Send.
	if err := a.Send(ctx, 2, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if typ, _, err := b.Recv(ctx); err != nil || typ != 2 {
		t.Fatalf("got %d, %v", typ, err)
	}
	// A peer announcing too large a frame is refused before allocation.
	var h [frameHeaderLen]byte
	binary.LittleEndian.PutUint16(h[0:], 3)
	binary.LittleEndian.PutUint32(h[4:], MaxFrameSize+1)
	if _, err := a.s.Write(h[:]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Recv(ctx); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Recv: got %v, want ErrFrameTooLarge", err)
	}
	if _, _, err := b.Recv(ctx); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Recv after a bad frame: got %v, want the same error", err)
	}
}

func TestControlCancelRecv(t *testing.T) {
	a, b := controlPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if _, _, err := b.Recv(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Recv took %v to notice the cancel", d)
	}
	// Nothing was read: the stream still works.
	ctx = testCtx(t, 5*time.Second)
	if err := a.Send(ctx, 9, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if typ, p, err := b.Recv(ctx); err != nil || typ != 9 || string(p) != "after" {
		t.Fatalf("got %d %q %v", typ, p, err)
	}
	// A deadline works the same way.
	dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer dcancel()
	if _, _, err := b.Recv(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

func TestControlFrameHeader(t *testing.T) {
	frame, err := appendFrame(nil, 0x1234, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range frameHeaderLen {
		if _, _, err := parseFrameHeader(frame[:i]); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	typ, n, err := parseFrameHeader(frame)
	if err != nil || typ != 0x1234 || n != len("payload") {
		t.Fatalf("got %d %d %v", typ, n, err)
	}
	frame[2] = 1
	if _, _, err := parseFrameHeader(frame); !errors.Is(err, ErrProtocol) {
		t.Fatalf("flags: got %v", err)
	}
}

func FuzzControlFrame(f *testing.F) {
	for _, m := range []msg{{1, []byte("hello")}, {0, nil}, {0xffff, bytes.Repeat([]byte{7}, 300)}} {
		frame, _ := appendFrame(nil, m.typ, m.payload)
		f.Add(frame)
	}
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, n, err := parseFrameHeader(data)
		if err != nil {
			return
		}
		if n > MaxFrameSize {
			t.Fatalf("length %d accepted", n)
		}
		if len(data) < frameHeaderLen+n {
			return // a stream would wait for the rest
		}
		payload := data[frameHeaderLen : frameHeaderLen+n]
		again, err := appendFrame(nil, typ, payload)
		if err != nil || !bytes.Equal(again, data[:frameHeaderLen+n]) {
			t.Fatalf("re-encoding differs: %x vs %x (%v)", again, data[:frameHeaderLen+n], err)
		}
	})
}

// Streams with a bad preface are reset and never reach Accept*.
func TestBadPreface(t *testing.T) {
	dialed, accepted, _ := connPair(t, DefaultConfig())
	ctx := testCtx(t, 5*time.Second)
	for _, p := range [][]byte{[]byte("GET /"), {'m', 'g', 9, kindPages}, {'m', 'g', protocolVersion, kindHello}} {
		s, err := dialed.qc.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(p); err != nil {
			t.Fatal(err)
		}
		var b [1]byte
		if _, err := s.Read(b[:]); err == nil {
			t.Errorf("preface %q: stream not reset", p)
		}
	}
	short := testCtx(t, 200*time.Millisecond)
	if _, err := accepted.AcceptPages(short); err == nil {
		t.Error("a bad stream reached AcceptPages")
	}
	if _, err := accepted.AcceptControl(short); err == nil {
		t.Error("a bad stream reached AcceptControl")
	}
	// The connection still works.
	c, err := dialed.OpenControl(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	a, err := accepted.AcceptControl(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if typ, _, err := a.Recv(ctx); err != nil || typ != 1 {
		t.Fatalf("got %d %v", typ, err)
	}
}
