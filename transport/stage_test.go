package transport

import (
	"math/rand/v2"
	"testing"

	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/pierrec/lz4/v4"
)

// Stage microbenchmarks of the page path that live in transport: zero-page
// detection (stage c), lz4 alone (d), batch framing (e) and the QUIC page
// stream (f). Each reports MB/s of page memory and cpu-s/GiB, the CPU
// seconds this process spent per GiB, which is also the number of cores
// the stage needs to sustain 1 GiB/s. docs/ARCHITECTURE.md lists all
// stages.

// BenchmarkStageZeroDetect runs the zero-page test of the page path,
// isZeroPage, over every page of 1 MiB batches. The dumper finds zero pages
// with the same comparison (bytes.Equal against a zero page) while it
// reads, and the sender's addData checks the pages it gets again. A zero
// page costs a full 4 KiB compare; any other page usually stops at its
// first bytes.
func BenchmarkStageZeroDetect(b *testing.B) {
	for _, kind := range []string{"mixed", "zero", "text", "random"} {
		b.Run(kind, func(b *testing.B) {
			const batches = 16
			data := pagesOf(kind, rand.New(rand.NewPCG(30, 30)), batches*mib/PageSize)
			b.SetBytes(mib)
			b.ReportAllocs()
			zeros, i := 0, 0
			cpu := testutil.CPUTime(b)
			for b.Loop() {
				batch := data[i%batches*mib : (i%batches+1)*mib]
				i++
				for p := 0; p < len(batch); p += PageSize {
					if isZeroPage(batch[p : p+PageSize]) {
						zeros++
					}
				}
			}
			testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*mib)
			b.ReportMetric(float64(zeros)/float64(b.N*mib/PageSize), "zero/page")
		})
	}
}

// nonZeroPages returns n MiB of the non-zero pages of the given content, as
// the codec hands them to lz4 (zero pages travel as bitmap bits).
func nonZeroPages(kind string, r *rand.Rand, n int) []byte {
	var out []byte
	for len(out) < n*mib {
		for p := pagesOf(kind, r, mib/PageSize); len(p) > 0 && len(out) < n*mib; p = p[PageSize:] {
			if !isZeroPage(p[:PageSize]) {
				out = append(out, p[:PageSize]...)
			}
		}
	}
	return out
}

// BenchmarkStageLZ4 measures lz4 alone on the page data of a 1 MiB batch,
// as batchBuf.encode calls it (CompressBlock into a buffer one byte
// smaller than the input, so that incompressible data gives up) and as the
// receiver's decode undoes it. Zero pages are left out first, as the codec
// does. MB/s counts the uncompressed bytes. Random data does not compress:
// the sender then sends it raw and nothing is decompressed.
func BenchmarkStageLZ4(b *testing.B) {
	for _, kind := range []string{"mixed", "text", "random"} {
		const batches = 16
		raw := nonZeroPages(kind, rand.New(rand.NewPCG(31, 31)), batches)
		var c lz4.Compressor
		comp := make([][]byte, batches)
		for i := range comp {
			out := make([]byte, mib-1)
			if k, err := c.CompressBlock(raw[i*mib:(i+1)*mib], out); err == nil && k > 0 {
				comp[i] = out[:k]
			}
		}
		b.Run(kind+"/compress", func(b *testing.B) {
			out := make([]byte, mib-1)
			b.SetBytes(mib)
			b.ReportAllocs()
			var wire int64
			i := 0
			cpu := testutil.CPUTime(b)
			for b.Loop() {
				k, err := c.CompressBlock(raw[i%batches*mib:(i%batches+1)*mib], out)
				i++
				if err != nil || k == 0 {
					k = mib // sent raw
				}
				wire += int64(k)
			}
			testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*mib)
			b.ReportMetric(float64(wire)/float64(int64(b.N)*mib), "wire/raw")
		})
		b.Run(kind+"/decompress", func(b *testing.B) {
			for _, block := range comp {
				if block == nil {
					b.Skip("incompressible: sent raw, nothing to decompress")
				}
			}
			dst := make([]byte, mib)
			b.SetBytes(mib)
			b.ReportAllocs()
			i := 0
			cpu := testutil.CPUTime(b)
			for b.Loop() {
				n, err := lz4.UncompressBlock(comp[i%batches], dst)
				i++
				if err != nil || n != mib {
					b.Fatalf("decompressed %d bytes, %v", n, err)
				}
			}
			testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*mib)
		})
	}
}

// BenchmarkStageFraming measures BenchmarkCodec's work on mixed content
// with its CPU time: a 1 MiB batch built from pages (zero detection, copy,
// extents, bitmap), encoded and decoded again, without lz4 ("raw") and with
// it. The "lent" ones build the batch as Commit does from a buffer the
// pages were read into (zero marks given, nothing copied; the copy into
// the buffer stands for the read): raw squeezes the
// zero pages out (squeezed/raw: the share of the bytes moved), lz4 sends
// them inside a dense block.
func BenchmarkStageFraming(b *testing.B) {
	benchFraming(b)
	data := pagesOf("mixed", rand.New(rand.NewPCG(32, 32)), mib/PageSize)
	l := lentOf(data, 0x10000000, mib/PageSize, 0)
	for _, compress := range []bool{false, true} {
		b.Run(map[bool]string{true: "mixed/lent-lz4", false: "mixed/lent-raw"}[compress], func(b *testing.B) {
			k := &codec{b: newBatchBuf(mib), spare: newBatchBuf(mib)}
			b.SetBytes(mib)
			b.ReportAllocs()
			var wire, moved int64
			cpu := testutil.CPUTime(b)
			for b.Loop() {
				enc, m := k.encodeLent(b, l, compress)
				wire, moved = wire+int64(len(enc)), moved+int64(m)
				if _, err := k.decode(enc); err != nil {
					b.Fatal(err)
				}
				k.dec.each(func(addr uint64, data []byte, zero bool, n uint64) error { return nil })
			}
			testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*mib)
			b.ReportMetric(float64(wire)/float64(int64(b.N)*mib), "wire/raw")
			b.ReportMetric(float64(moved)/float64(int64(b.N)*mib), "squeezed/raw")
		})
	}
}

// benchFraming is BenchmarkStageFraming's AddData part.
func benchFraming(b *testing.B) {
	const batches = 16
	data := pagesOf("mixed", rand.New(rand.NewPCG(32, 32)), batches*mib/PageSize)
	for _, compress := range []bool{false, true} {
		b.Run(map[bool]string{true: "mixed/lz4", false: "mixed/raw"}[compress], func(b *testing.B) {
			k := &codec{b: newBatchBuf(mib), spare: newBatchBuf(mib)}
			b.SetBytes(mib)
			b.ReportAllocs()
			var wire int64
			pages, i := 0, 0
			cpu := testutil.CPUTime(b)
			for b.Loop() {
				enc := k.encode(b, []run{{addr: 0x10000000, data: data[i%batches*mib : (i%batches+1)*mib]}}, compress)
				i++
				wire += int64(len(enc))
				if _, err := k.decode(enc); err != nil {
					b.Fatal(err)
				}
				k.dec.each(func(addr uint64, data []byte, zero bool, n uint64) error {
					pages += int(n)
					return nil
				})
			}
			testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*mib)
			if pages != b.N*mib/PageSize {
				b.Fatalf("decoded %d pages, want %d", pages, b.N*mib/PageSize)
			}
			b.ReportMetric(float64(wire)/float64(int64(b.N)*mib), "wire/raw")
		})
	}
}

// BenchmarkStageQUIC measures the network stage with its CPU time over
// loopback: "pages/lz4" and "pages/raw" send mixed pages through a page
// stream, one 1 MiB AddData per op, to a receiver that copies the data
// out of each batch (as BenchmarkPages); "bare" writes 1 MiB of random
// bytes per op on one quic-go stream with the same TLS and QUIC
// configuration (as BenchmarkBareQUIC). Both ends run in this process, so
// the CPU time is sender and receiver together. Timing ends when the
// receiver has acknowledged everything.
func BenchmarkStageQUIC(b *testing.B) {
	for _, compress := range []bool{true, false} {
		b.Run("pages/"+map[bool]string{true: "lz4", false: "raw"}[compress], func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Compress = compress
			benchPages(b, cfg, "mixed")
		})
	}
	b.Run("bare", bareQUIC)
}
