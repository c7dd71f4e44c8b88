package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// receiveAll reads a page stream to its end, into one memory per round.
// delay slows it down before each batch.
func receiveAll(ctx context.Context, r *PageReceiver, delay time.Duration, got *atomic.Uint64) ([]memory, error) {
	rounds := []memory{{}}
	var inProgress uint32 // 0, then one more than the last round ended
	for {
		time.Sleep(delay)
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return rounds[:len(rounds)-1], nil
		}
		if err != nil {
			return nil, err
		}
		if b.IsRoundEnd {
			rounds = append(rounds, memory{})
			inProgress = b.Round + 1
			continue
		}
		if b.Round != inProgress {
			return nil, fmt.Errorf("data batch of round %d during round %d", b.Round, inProgress)
		}
		if err := rounds[len(rounds)-1].apply(b); err != nil {
			return nil, err
		}
		if got != nil {
			got.Add(b.Pages())
		}
	}
}

// pagePlan is what a sender sends in one round.
func pagePlan(r *rand.Rand, round int) []run {
	base := uint64(0x7f0000000000) + uint64(round)*0x100000000
	var runs []run
	addr := base
	for i, kind := range []string{"random", "zero", "text", "mixed", "text", "random", "mixed"} {
		n := 1 + r.IntN(300)
		if kind == "zero" || i == 4 {
			runs = append(runs, run{addr: addr, zero: uint64(n)})
			addr += uint64(n) * PageSize
		}
		runs = append(runs, run{addr: addr, data: pagesOf(kind, r, n)})
		addr += uint64(n+1+r.IntN(50)) * PageSize // leave a hole
	}
	// A run that goes backwards starts a new batch.
	runs = append(runs, run{addr: base - 64*PageSize, data: pagesOf("text", r, 3)})
	return runs
}

func TestPagesRoundTrip(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "raw", true: "lz4"}[compress], func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Compress = compress
			cfg.MaxBatch = 256 << 10 // several batches per round
			testPages(t, cfg, map[bool]uint32{false: 0, true: 1}[compress])
		})
	}
}

// testPages sends 4 rounds numbered from first.
func testPages(t *testing.T, cfg Config, first uint32) {
	ctx, s, rc := pageStream(t, cfg, 30*time.Second)
	type result struct {
		rounds []memory
		err    error
	}
	done := make(chan result, 1)
	go func() {
		rounds, err := receiveAll(ctx, rc, 0, nil)
		done <- result{rounds, err}
	}()
	r := rand.New(rand.NewPCG(7, 7))
	var want []memory
	var dataPages, zeroPages uint64
	for round := range 4 {
		plan := pagePlan(r, round)
		m := runsToMemory(plan)
		want = append(want, m)
		for _, p := range m {
			if p == nil {
				zeroPages++
			} else {
				dataPages++
			}
		}
		sendRuns(t, s, plan)
		if err := s.EndRound(first + uint32(round)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.rounds) != len(want) {
		t.Fatalf("got %d rounds, want %d", len(res.rounds), len(want))
	}
	for i := range want {
		want[i].equal(t, res.rounds[i])
	}
	st := s.Stats()
	t.Logf("%+v", st)
	if st.PagesData != dataPages || st.PagesZero != zeroPages || st.RawBytes != dataPages*PageSize {
		t.Errorf("stats %+v; want %d data pages, %d zero pages", st, dataPages, zeroPages)
	}
	if cfg.Compress && st.WireBytes >= st.RawBytes {
		t.Errorf("lz4 on mixed pages: %d wire bytes for %d raw", st.WireBytes, st.RawBytes)
	}
	if !cfg.Compress && st.WireBytes < st.RawBytes {
		t.Errorf("raw: %d wire bytes for %d raw", st.WireBytes, st.RawBytes)
	}
}

// sendRuns sends runs, reusing (and scribbling over) the caller's buffer
// to check that the sender copies.
func sendRuns(t *testing.T, s *PageSender, runs []run) {
	t.Helper()
	for _, r := range runs {
		var err error
		if r.data != nil {
			buf := append([]byte(nil), r.data...)
			err = s.AddData(r.addr, buf)
			for i := range buf {
				buf[i] = 0xee
			}
		} else {
			err = s.AddZero(r.addr, r.zero)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Text compresses; zero pages are never sent as data.
func TestPagesStats(t *testing.T) {
	_, s := drainedSender(t, DefaultConfig(), 30*time.Second)
	r := rand.New(rand.NewPCG(8, 8))
	sendRuns(t, s, []run{
		{addr: 0x100000, data: textPages(r, 512)},
		{addr: 0x400000, data: make([]byte, 256*PageSize)},
		{addr: 0x800000, zero: 100000},
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.PagesData != 512 || st.PagesZero != 256+100000 || st.RawBytes != 512*PageSize {
		t.Errorf("stats %+v", st)
	}
	if st.WireBytes >= st.RawBytes*7/10 {
		t.Errorf("text: %d wire bytes for %d raw", st.WireBytes, st.RawBytes)
	}
}

// drain receives every page stream of c and discards the pages.
func drain(ctx context.Context, c *Conn) {
	for {
		rc, err := c.AcceptPages(ctx)
		if err != nil {
			return
		}
		go receiveAll(ctx, rc, 0, nil)
	}
}

// Close returns only once the receiver has every page.
func TestPagesCloseWaits(t *testing.T) {
	ctx, s, rc := pageStream(t, DefaultConfig(), 30*time.Second)
	var got atomic.Uint64
	go receiveAll(ctx, rc, 20*time.Millisecond, &got)
	r := rand.New(rand.NewPCG(9, 9))
	const n = 2048
	sendRuns(t, s, []run{{addr: 0, data: randomPages(r, n)}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if g := got.Load(); g != n {
		t.Fatalf("Close returned when the receiver had %d of %d pages", g, n)
	}
}

// CloseSend returns before the (slow) receiver has every page; the
// receiver then reaches the end of the stream without the sender's Wait
// (a migration's destination finishes before the source waits); Wait
// returns once the receiver has every page.
func TestPagesCloseSendThenWait(t *testing.T) {
	ctx, s, rc := pageStream(t, DefaultConfig(), 30*time.Second)
	if err := s.Wait(); err == nil {
		t.Fatal("Wait before CloseSend succeeded")
	}
	var got atomic.Uint64
	received := make(chan error, 1)
	go func() {
		_, err := receiveAll(ctx, rc, 20*time.Millisecond, &got)
		received <- err
	}()
	r := rand.New(rand.NewPCG(9, 10))
	const n = 2048 // 8 batches, 20 ms each at the receiver
	sendRuns(t, s, []run{{addr: 0, data: randomPages(r, n)}})
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if g := got.Load(); g == n {
		t.Errorf("CloseSend waited for the receiver's %d pages", g)
	}
	select {
	case err := <-received:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver did not see the end of the stream after CloseSend")
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if g := got.Load(); g != n {
		t.Fatalf("Wait returned when the receiver had %d of %d pages", g, n)
	}
	if err := s.Wait(); err != nil {
		t.Errorf("a second Wait: %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("Close after CloseSend: %v, want ErrClosed", err)
	}
}

// Many streams one after the other on a connection with Streams = 1: each
// finished stream gives its credit back.
func TestPagesSequentialStreams(t *testing.T) {
	dialed, accepted, _ := connPair(t, DefaultConfig())
	ctx := testCtx(t, 30*time.Second)
	go drain(ctx, accepted)
	for i := range 10 {
		s, err := dialed.OpenPages(ctx)
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		if err := s.AddZero(0, 10); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
}

// Streams page streams run at once on one connection.
func TestPagesParallelStreams(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Streams = 3
	dialed, accepted, _ := connPair(t, cfg)
	ctx := testCtx(t, 30*time.Second)
	type result struct {
		rounds []memory
		err    error
	}
	results := make(chan result, cfg.Streams)
	go func() {
		for range cfg.Streams {
			rc, err := accepted.AcceptPages(ctx)
			if err != nil {
				results <- result{err: err}
				return
			}
			go func() {
				rounds, err := receiveAll(ctx, rc, 0, nil)
				results <- result{rounds, err}
			}()
		}
	}()
	senders := make([]*PageSender, cfg.Streams)
	for i := range senders {
		var err error
		if senders[i], err = dialed.OpenPages(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(13, 13))
	want := runsToMemory([]run{{addr: 0, data: mixedPages(r, 300)}})
	errs := make(chan error, len(senders))
	for _, s := range senders {
		go func() {
			for a, p := range want {
				var err error
				if p == nil {
					err = s.AddZero(a, 1)
				} else {
					err = s.AddData(a, p)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			if err := s.EndRound(0); err != nil {
				errs <- err
				return
			}
			errs <- s.Close()
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for range senders {
		res := <-results
		if res.err != nil {
			t.Fatal(res.err)
		}
		want.equal(t, res.rounds[0])
	}
}

// With SetDepth(2) a batch stays valid, contents intact, while the next
// one is received, and goes stale at the one after.
func TestPagesDepth(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Compress = false
	ctx, s, rc := pageStream(t, cfg, 30*time.Second)
	rc.SetDepth(2)
	r := rand.New(rand.NewPCG(10, 10))
	want := [][]byte{randomPages(r, 1), randomPages(r, 1), randomPages(r, 1)}
	go func() {
		for i, p := range want {
			s.AddData(uint64(i+1)<<20, p)
			s.EndRound(uint32(i + 1)) // one batch per round
		}
		s.Close()
	}()
	var data []Batch
	for len(data) < 3 {
		b, err := rc.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !b.IsRoundEnd {
			data = append(data, b)
		}
		if len(data) == 2 && !b.IsRoundEnd {
			check := func(b Batch, want []byte) {
				t.Helper()
				err := b.Each(func(_ uint64, d []byte, _ bool, _ uint64) error {
					if !bytes.Equal(d, want) {
						t.Error("batch contents changed while the next was received")
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			check(data[0], want[0])
			check(data[1], want[1])
		}
	}
	if err := data[0].Each(func(uint64, []byte, bool, uint64) error { return nil }); !errors.Is(err, ErrStaleBatch) {
		t.Fatalf("batch two Nexts old: %v, want ErrStaleBatch", err)
	}
}
