package transport

import (
	"context"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/quic-go/quic-go"
)

const mib = 1 << 20

var pageKinds = []string{"random", "zero", "text", "mixed"}

// BenchmarkCodec encodes and decodes 1 MiB batches without a network.
func BenchmarkCodec(b *testing.B) {
	for _, kind := range pageKinds {
		for _, compress := range []bool{true, false} {
			name := kind + map[bool]string{true: "/lz4", false: "/raw"}[compress]
			b.Run(name, func(b *testing.B) { benchCodec(b, kind, compress) })
		}
	}
}

func benchCodec(b *testing.B, kind string, compress bool) {
	r := rand.New(rand.NewPCG(20, 20))
	const batches = 16
	data := pagesOf(kind, r, batches*mib/PageSize)
	k := &codec{b: newBatchBuf(mib), spare: newBatchBuf(mib)}
	var wire, pages int
	b.SetBytes(mib)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		chunk := data[i%batches*mib : (i%batches+1)*mib]
		i++
		enc := k.encode(b, []run{{addr: 0x10000000, data: chunk}}, compress)
		wire += len(enc)
		if _, err := k.decode(enc); err != nil {
			b.Fatal(err)
		}
		k.dec.each(func(addr uint64, data []byte, zero bool, n uint64) error {
			pages += int(n)
			return nil
		})
	}
	if pages != i*mib/PageSize {
		b.Fatalf("decoded %d pages, want %d", pages, i*mib/PageSize)
	}
	b.ReportMetric(float64(wire)/float64(i*mib), "wire/raw")
}

// BenchmarkPages sends mixed pages end to end over loopback QUIC, one
// 1 MiB AddData per iteration; MB/s counts page memory.
func BenchmarkPages(b *testing.B) {
	for _, compress := range []bool{true, false} {
		b.Run(map[bool]string{true: "lz4", false: "raw"}[compress], func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Compress = compress
			benchPages(b, cfg, "mixed")
		})
	}
}

func benchPages(b *testing.B, cfg Config, kind string) {
	dialed, accepted, _ := connPair(b, cfg)
	ctx := testCtx(b, time.Minute)
	go sink(ctx, accepted)
	r := rand.New(rand.NewPCG(21, 21))
	const chunks = 64
	data := pagesOf(kind, r, chunks*mib/PageSize)
	s, err := dialed.OpenPages(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(mib)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), testutil.CPUTime(b)
	for i := 0; i < b.N; i++ {
		if err := s.AddData(uint64(i)*mib, data[i%chunks*mib:(i%chunks+1)*mib]); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	b.StopTimer()
	testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*mib)
	st := s.Stats()
	b.ReportMetric(float64(st.WireBytes)/mib/secs, "wireMiB/s")
	b.ReportMetric(float64(b.N)/secs, "memMiB/s")
}

// sink receives page streams like a restorer would, copying each data run
// into memory (one reused buffer here) and skipping zero runs.
func sink(ctx context.Context, c *Conn) {
	mem := make([]byte, MaxBatchLimit)
	for {
		rc, err := c.AcceptPages(ctx)
		if err != nil {
			return
		}
		for {
			bt, err := rc.Next(ctx)
			if err != nil {
				break
			}
			bt.Each(func(addr uint64, data []byte, zero bool, n uint64) error {
				if !zero {
					copy(mem, data)
				}
				return nil
			})
		}
	}
}

// BenchmarkBareQUIC is the yardstick: 1 MiB writes of random bytes on one
// quic-go stream with the same TLS and QUIC configuration.
func BenchmarkBareQUIC(b *testing.B) { bareQUIC(b) }

// bareQUIC writes 1 MiB of random bytes per op on one quic-go stream and
// reports the CPU time of both ends per GiB.
func bareQUIC(b *testing.B) {
	a, srv := testIDs(b)
	cfg := DefaultConfig()
	ln, err := quic.ListenAddr("127.0.0.1:0", srv.ServerTLS(), cfg.quicConfig(false))
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ctx := testCtx(b, time.Minute)
	got := make(chan int64, 1)
	go func() {
		qc, err := ln.Accept(ctx)
		if err != nil {
			got <- -1
			return
		}
		s, err := qc.AcceptStream(ctx)
		if err != nil {
			got <- -1
			return
		}
		n, _ := io.Copy(io.Discard, s)
		s.Write([]byte{1})
		s.Close()
		got <- n
	}()
	qc, err := quic.DialAddr(ctx, ln.Addr().String(), a.ClientTLS("node-b"), cfg.quicConfig(true))
	if err != nil {
		b.Fatal(err)
	}
	defer qc.CloseWithError(0, "")
	s, err := qc.OpenStreamSync(ctx)
	if err != nil {
		b.Fatal(err)
	}
	buf := randomPages(rand.New(rand.NewPCG(22, 22)), mib/PageSize)
	b.SetBytes(mib)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testutil.CPUTime(b)
	for i := 0; i < b.N; i++ {
		if _, err := s.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	io.ReadAll(s) // the receiver's ack: everything arrived
	b.StopTimer()
	testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*mib)
	if n := <-got; n != int64(b.N)*mib {
		b.Fatalf("received %d bytes, want %d", n, int64(b.N)*mib)
	}
}
