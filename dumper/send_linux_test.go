package dumper

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/migrate-dev/migrate/transport"
)

// quicPair connects two transport endpoints over loopback and returns the
// dialed (sending) and accepted (receiving) connections.
func quicPair(tb testing.TB, cfg transport.Config) (dialed, accepted *transport.Conn) {
	tb.Helper()
	caPEM, caKey, err := transport.NewCA("dumper-test-ca")
	if err != nil {
		tb.Fatal(err)
	}
	node := func(name string) *transport.Identity {
		cert, key, err := transport.IssueNode(caPEM, caKey, name, []net.IP{net.IPv4(127, 0, 0, 1)})
		if err != nil {
			tb.Fatal(err)
		}
		id, err := transport.NewIdentity(caPEM, cert, key)
		if err != nil {
			tb.Fatal(err)
		}
		return id
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := transport.Listen(ctx, "127.0.0.1:0", node("node-b"), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	acc := make(chan *transport.Conn, 1)
	go func() {
		c, _ := l.Accept(ctx)
		acc <- c
	}()
	dialed, err = transport.Dial(ctx, l.Addr().String(), node("node-a"), "node-b", cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { dialed.Close() })
	if accepted = <-acc; accepted == nil {
		tb.Fatal("no connection accepted")
	}
	tb.Cleanup(func() { accepted.Close() })
	return dialed, accepted
}

// receivePages reads page streams until the connection ends, calling fn
// for every run of every batch (fn runs on the receiving goroutine).
func receivePages(ctx context.Context, c *transport.Conn, fn func(addr uint64, data []byte, zero bool, n uint64) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		for {
			r, err := c.AcceptPages(ctx)
			if err != nil {
				done <- nil
				return
			}
			for {
				b, err := r.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err == nil {
					err = b.Each(fn)
				}
				if err != nil {
					done <- err
					return
				}
			}
		}
	}()
	return done
}

// BenchmarkStageMemReaderSend is the whole source side of a round with its
// destination's receiving end: MemReader.Copy of bigmem's 1 GiB of mixed
// pages (half random, a quarter zero, a quarter text, in that order) into a
// PageSender (lz4 on, the default) over loopback QUIC, to a receiver that
// copies each data run into one reused buffer, as BenchmarkStageQUIC's.
// One op is one page stream: the whole GiB, until the receiver acked it.
// cpu-s/GiB is both ends. copied/mem is the share of the page data the
// source copied after reading it (AddData's copy into the batch buffer:
// 1 before the sender lent its buffers, 0 since), squeezed/mem the share
// moved inside lent buffers to close the holes of zero pages in batches
// sent raw.
func BenchmarkStageMemReaderSend(b *testing.B) {
	const size = 1 << 30
	r, spans := bigmemSpans(b)
	dialed, accepted := quicPair(b, transport.DefaultConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	mem := make([]byte, transport.MaxBatchLimit)
	var pages uint64
	recv := receivePages(ctx, accepted, func(addr uint64, data []byte, zero bool, n uint64) error {
		if !zero {
			copy(mem, data)
		}
		pages += n
		return nil
	})
	send := func() transport.SendStats {
		s, err := dialed.OpenPages(ctx)
		if err != nil {
			b.Fatal(err)
		}
		err = r.Copy(spans, s)
		if errors.Is(err, syscall.EPERM) {
			b.Skipf("reading bigmem: %v", err)
		}
		if err == nil {
			err = s.Close()
		}
		if err != nil {
			b.Fatal(err)
		}
		return s.Stats()
	}
	send() // warm up: buffers, connection windows
	b.SetBytes(size)
	b.ReportAllocs()
	var st transport.SendStats
	cpu := testutil.CPUTime(b)
	for b.Loop() {
		s := send()
		st.WireBytes += s.WireBytes
		st.CopiedBytes += s.CopiedBytes
		st.SqueezedBytes += s.SqueezedBytes
	}
	testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*size)
	total := float64(int64(b.N) * size)
	b.ReportMetric(float64(st.WireBytes)/total, "wire/mem")
	b.ReportMetric(float64(st.CopiedBytes)/total, "copied/mem")
	b.ReportMetric(float64(st.SqueezedBytes)/total, "squeezed/mem")
	dialed.Close()
	if err := <-recv; err != nil {
		b.Fatal(err)
	}
	if want := uint64(b.N+1) * size / pageSize; pages != want {
		b.Fatalf("received %d pages, want %d", pages, want)
	}
}
