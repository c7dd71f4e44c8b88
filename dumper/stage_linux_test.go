package dumper

import (
	"errors"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/migrate-dev/migrate/internal/workload"
)

// discardSink counts what it gets, like a sender that costs nothing.
type discardSink struct{ data, zero uint64 }

func (s *discardSink) AddData(addr uint64, data []byte) error {
	s.data += uint64(len(data)) / pageSize
	return nil
}

func (s *discardSink) AddZero(addr uint64, npages uint64) error {
	s.zero += npages
	return nil
}

// BenchmarkStageMemReaderCopy measures the dumper's read stage as pre-copy
// runs it: MemReader.Copy of a running process's 1 GiB region of present
// mixed pages (the bigmem workload: half random, a quarter zero, a quarter
// text) into a sink that drops them. It is process_vm_readv in 4 MiB
// chunks (BenchmarkStageReadv in internal/linux) and zero detection
// (BenchmarkStageZeroDetect in transport) on one goroutine, handing chunks
// to the caller's goroutine. One op copies the whole GiB. cpu-s/GiB is the
// CPU time of this process per GiB (both goroutines).
func BenchmarkStageMemReaderCopy(b *testing.B) {
	const size = 1 << 30
	r, spans := bigmemSpans(b)
	var sink discardSink
	if err := r.Copy(spans, &sink); err != nil {
		if errors.Is(err, syscall.EPERM) {
			b.Skipf("reading bigmem: %v", err)
		}
		b.Fatal(err)
	}
	if got := sink.data + sink.zero; got != size/pageSize {
		b.Fatalf("copied %d pages of the region, want %d (spans %v)", got, size/pageSize, spans)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	sink = discardSink{}
	cpu := testutil.CPUTime(b)
	for b.Loop() {
		if err := r.Copy(spans, &sink); err != nil {
			b.Fatal(err)
		}
	}
	testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*size)
	b.ReportMetric(float64(sink.zero)/float64(sink.data+sink.zero), "zero/page")
}

// BenchmarkStageMemReaderScattered is the read stage of a frozen last
// round: 8192 single dirty pages spread over 1 GiB (every 32nd page), as
// the dirty tracker reports them. One op copies the 8192 pages.
func BenchmarkStageMemReaderScattered(b *testing.B) {
	p, start := startBigmem(b, "random")
	r, err := NewMemReader(p.PID)
	if err != nil {
		b.Skip(err)
	}
	defer r.Close()
	const n = 8192
	spans := make([]Span, n)
	for i := range spans {
		a := start + uint64(i)*32*pageSize
		spans[i] = Span{Start: a, End: a + pageSize, Readable: true}
	}
	var sink discardSink
	b.SetBytes(n * pageSize)
	for b.Loop() {
		if err := r.Copy(spans, &sink); err != nil {
			if errors.Is(err, syscall.EPERM) {
				b.Skipf("reading bigmem: %v", err)
			}
			b.Fatal(err)
		}
	}
	if sink.data+sink.zero != uint64(b.N)*n {
		b.Fatalf("copied %d pages, want %d", sink.data+sink.zero, b.N*n)
	}
}

// bigmemSpans starts bigmem with 1 GiB of mixed pages and returns a
// reader of it (closed when b ends) and the region's present pages.
func bigmemSpans(b *testing.B) (*MemReader, []Span) {
	b.Helper()
	p, start := startBigmem(b, "mixed")
	r, err := NewMemReader(p.PID)
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(r.Close)
	spans, err := r.Present([]image.VMA{{Start: start, End: start + 1<<30, Prot: image.ProtRead | image.ProtWrite,
		Flags: image.MapPrivate | image.MapAnonymous, Kind: image.VMAAnon}})
	if err != nil {
		b.Fatal(err)
	}
	return r, spans
}

// startBigmem starts the bigmem workload with 1 GiB of the given content
// (also without root: the benchmarks skip where reading it fails with EPERM),
// killed when the benchmark ends, and returns it and its region's address.
func startBigmem(b *testing.B, content string) (*workload.Proc, uint64) {
	b.Helper()
	p := testutil.StartWorkloadAnyUser(b, "bigmem", "1024", content)
	m := regexp.MustCompile(`region=(0x[0-9a-f]+)`).FindStringSubmatch(p.Output())
	if m == nil {
		b.Fatalf("no region in the workload's output: %q", p.Output())
	}
	start, err := strconv.ParseUint(m[1], 0, 64)
	if err != nil {
		b.Fatal(err)
	}
	return p, start
}
