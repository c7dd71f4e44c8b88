package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// kill makes the listener's side vanish without a word, as if its host
// died: no CONNECTION_CLOSE, no more packets.
func kill(l *Listener) {
	l.tr.Close()
	l.udp.Close()
}

// A receiver that dies makes AddData and Close fail within the idle
// timeout instead of hanging.
func TestPagesReceiverDies(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IdleTimeout = time.Second
	for _, when := range []string{"sending", "closing"} {
		t.Run(when, func(t *testing.T) {
			dialed, accepted, l := connPair(t, cfg)
			ctx := testCtx(t, 30*time.Second)
			s, err := dialed.OpenPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			go drain(ctx, accepted)
			r := rand.New(rand.NewPCG(10, 10))
			data := randomPages(r, 256)
			if when == "closing" {
				// Little enough that Close waits for the ack, not for a write.
				data = data[:PageSize]
			}
			if err := s.AddData(0, data); err != nil {
				t.Fatal(err)
			}
			kill(l)
			start := time.Now()
			if when == "sending" {
				for addr := uint64(1 << 20); err == nil && time.Since(start) < 20*time.Second; addr += 1 << 20 {
					err = s.AddData(addr, data)
				}
				if err == nil {
					t.Fatal("AddData kept succeeding after the receiver died")
				}
				t.Logf("AddData: %v after %v", err, time.Since(start))
			}
			err = s.Close()
			if err == nil {
				t.Fatal("Close succeeded after the receiver died")
			}
			if d := time.Since(start); d > cfg.IdleTimeout+3*time.Second {
				t.Errorf("noticed after %v, idle timeout %v", d, cfg.IdleTimeout)
			}
			t.Logf("Close: %v after %v", err, time.Since(start))
		})
	}
}

// Cancelling the context of OpenPages aborts the sender promptly.
func TestPagesCancel(t *testing.T) {
	dialed, accepted, _ := connPair(t, DefaultConfig())
	ctx, cancel := context.WithCancel(context.Background())
	s, err := dialed.OpenPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := accepted.AcceptPages(testCtx(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_ = rc // never read: the sender blocks on flow control
	data := randomPages(rand.New(rand.NewPCG(11, 11)), 256)
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	for addr := uint64(0); err == nil && time.Since(start) < 10*time.Second; addr += 1 << 20 {
		err = s.AddData(addr, data)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("AddData: got %v, want context.Canceled", err)
	}
	if err := s.Close(); !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
		t.Errorf("Close: %v", err)
	}
	// The receiver learns that the stream was abandoned.
	for {
		if _, err = rc.Next(testCtx(t, 5*time.Second)); err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		t.Errorf("receiver: got io.EOF for an aborted stream")
	}
}

// A receiver that gives up makes the sender fail, not hang.
func TestPagesReceiverCloses(t *testing.T) {
	_, s, rc := pageStream(t, DefaultConfig(), 10*time.Second)
	rc.Close()
	var err error
	data := randomPages(rand.New(rand.NewPCG(12, 12)), 256)
	start := time.Now()
	for addr := uint64(0); err == nil && time.Since(start) < 5*time.Second; addr += 1 << 20 {
		err = s.AddData(addr, data)
	}
	if err == nil {
		err = s.Close()
	}
	if err == nil {
		t.Fatal("sender did not notice the receiver's Close")
	}
	t.Log(err)
}

func TestPagesBadCalls(t *testing.T) {
	_, s := drainedSender(t, DefaultConfig(), 10*time.Second)
	if err := s.AddData(0x1001, make([]byte, PageSize)); err == nil {
		t.Error("unaligned address accepted")
	}
	if err := s.AddData(0x1000, make([]byte, 100)); err == nil {
		t.Error("partial page accepted")
	}
	if err := s.AddZero(maxAddress-PageSize, 2); err == nil {
		t.Error("pages beyond the address limit accepted")
	}
	if err := s.EndRound(3); err != nil {
		t.Fatal(err)
	}
	if err := s.EndRound(3); err == nil {
		t.Error("EndRound(3) accepted twice")
	}
	if err := s.EndRound(math.MaxUint32); err == nil {
		t.Error("EndRound(MaxUint32) accepted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.AddZero(0, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("AddZero after Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

// Closing the connection under an idle sender ends it.
func TestPagesConnClosed(t *testing.T) {
	dialed, accepted, _ := connPair(t, DefaultConfig())
	ctx := testCtx(t, 10*time.Second)
	go drain(ctx, accepted)
	s, err := dialed.OpenPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddZero(0, 1); err != nil {
		t.Fatal(err)
	}
	dialed.Close()
	start := time.Now()
	for err == nil && time.Since(start) < 5*time.Second {
		err = s.AddZero(PageSize, 1)
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("AddZero kept succeeding on a closed connection")
	}
	if err := s.Close(); err == nil {
		t.Fatal("Close succeeded on a closed connection")
	}
}

// A receiver fed bad streams fails with a protocol error, never io.EOF.
func TestReceiverHostile(t *testing.T) {
	k := codecPool.Get().(*codec)
	defer codecPool.Put(k)
	enc := func(round uint32, kind byte, runs []run) []byte {
		k.b.reset()
		for _, r := range runs {
			k.b.addZero(r.addr, r.zero)
		}
		k.b.kind, k.b.round = kind, round
		return bytes.Clone(k.b.encode(nil, nil).wire)
	}
	zero := []run{{addr: 0x1000, zero: 4}}
	tests := map[string][]byte{
		"wrong round":        enc(5, batchData, zero),
		"marker goes back":   append(enc(0, batchRoundEnd, nil), enc(0, batchRoundEnd, nil)...),
		"end of wrong round": enc(2, batchEnd, nil),
		"garbage":            []byte("GET / HTTP/1.1\r\n\r\n" + strings.Repeat("x", 40)),
		"no end marker":      enc(0, batchData, zero),
		"bytes after end":    append(enc(0, batchEnd, nil), 1),
	}
	dialed, accepted, _ := connPair(t, DefaultConfig())
	ctx := testCtx(t, 10*time.Second)
	for name, wire := range tests {
		s, err := dialed.open(ctx, kindPages)
		if err != nil {
			t.Fatal(err)
		}
		s.Write(wire)
		s.Close()
		rc, err := accepted.AcceptPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			_, err = rc.Next(ctx)
		}
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: got %v, want a protocol error", name, err)
		}
		s.CancelRead(0)
	}
}
