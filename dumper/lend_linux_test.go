package dumper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/migrate-dev/migrate/internal/testutil"
	"github.com/migrate-dev/migrate/transport"
	"golang.org/x/sys/unix"
)

// lendLayout is memory of this process to copy: a region of regionPages
// pages (every fifth one zero, the rest random or repetitive), one page
// made PROT_NONE (read through /proc/PID/mem), one unmapped while listed
// (it faults: a tolerant copy skips it), and single pages of a second
// region (one process_vm_readv for many spans).
type lendLayout struct {
	region, scattered []byte
	spans             []Span
	hole              uint64
	want              map[uint64][]byte // page -> contents, nil when zero
}

const regionPages = 700

func newLendLayout(t *testing.T) *lendLayout {
	t.Helper()
	l := &lendLayout{region: testutil.MapPages(t, regionPages), scattered: testutil.MapPages(t, 64), want: map[uint64][]byte{}}
	r := rand.New(rand.NewPCG(50, 50))
	for i := range regionPages {
		p := l.region[i*pageSize : (i+1)*pageSize]
		switch {
		case i%5 == 0:
		case i%2 == 0:
			for j := 0; j+8 <= len(p); j += 8 {
				*(*uint64)(unsafe.Pointer(&p[j])) = r.Uint64()
			}
		default:
			copy(p, bytes.Repeat([]byte(fmt.Sprintf("page %d ", i)), pageSize))
		}
	}
	for i := range 64 {
		l.scattered[i*pageSize] = byte(i + 1)
	}
	start, other := testutil.AddrOf(l.region), testutil.AddrOf(l.scattered)
	const none, hole = 100, 300
	l.hole = start + hole*pageSize
	l.spans = []Span{
		{Start: start, End: start + none*pageSize, Readable: true},
		{Start: start + none*pageSize, End: start + (none+1)*pageSize},
		{Start: start + (none+1)*pageSize, End: start + regionPages*pageSize, Readable: true},
	}
	for i := range regionPages {
		if a := start + uint64(i)*pageSize; a != l.hole {
			l.want[a] = pageOrNil(l.region[i*pageSize : (i+1)*pageSize])
		}
	}
	for i := 0; i < 64; i += 3 {
		a := other + uint64(i)*pageSize
		l.spans = append(l.spans, Span{Start: a, End: a + pageSize, Readable: true})
		l.want[a] = pageOrNil(l.scattered[i*pageSize : (i+1)*pageSize])
	}
	if err := unix.Mprotect(l.region[none*pageSize:(none+1)*pageSize], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	return l
}

// unmapHole unmaps the hole page: reading it faults from now on.
func (l *lendLayout) unmapHole(t *testing.T) {
	t.Helper()
	if _, _, errno := unix.Syscall(unix.SYS_MUNMAP, uintptr(l.hole), pageSize, 0); errno != 0 {
		t.Fatal(errno)
	}
}

func pageOrNil(p []byte) []byte {
	if bytes.Equal(p, zeroPage) {
		return nil
	}
	return slices.Clone(p)
}

// check compares what arrived with the layout and the reader's report.
func (l *lendLayout) check(t *testing.T, got map[uint64][]byte, r *MemReader) {
	t.Helper()
	for a, want := range l.want {
		g, ok := got[a]
		if !ok {
			t.Fatalf("page %#x missing", a)
		}
		if !bytes.Equal(g, want) {
			t.Fatalf("page %#x differs (zero: got %v, want %v)", a, g == nil, want == nil)
		}
	}
	if _, ok := got[l.hole]; ok || len(got) != len(l.want) {
		t.Fatalf("got %d pages (hole %#x sent: %v), want %d", len(got), l.hole, ok, len(l.want))
	}
	if sk, want := r.Skipped(), []Span{{Start: l.hole, End: l.hole + pageSize, Readable: true}}; !slices.Equal(sk, want) {
		t.Fatalf("Skipped() = %v, want %v", sk, want)
	}
	var zero uint64
	for _, p := range l.want {
		if p == nil {
			zero++
		}
	}
	if st := r.Stats(); st.ZeroPages != zero || st.DataPages != uint64(len(l.want))-zero {
		t.Fatalf("stats %+v, want %d data and %d zero pages", st, uint64(len(l.want))-zero, zero)
	}
}

// A MemReader copying into a PageSender reads the pages straight into the
// sender's buffers: every page arrives exactly once, with its contents,
// zero pages as zero; the unreadable page too; the page that faults is
// not sent at all and is reported; nothing is copied on the source. A
// copy that fails gives its buffer back. The chunk path (a sink that
// lends nothing) gives the same pages.
func TestMemReaderLend(t *testing.T) {
	l := newLendLayout(t)
	r, err := NewMemReader(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l.unmapHole(t)
	for _, compress := range []bool{true, false} {
		t.Run(map[bool]string{true: "lz4", false: "raw"}[compress], func(t *testing.T) {
			cfg := transport.DefaultConfig()
			cfg.Compress = compress
			got, st := copyOverQUIC(t, r, l.spans, cfg)
			l.check(t, got, r)
			if st.CopiedBytes != 0 {
				t.Errorf("the source copied %d bytes of page data", st.CopiedBytes)
			}
			if !compress && st.SqueezedBytes == 0 {
				t.Error("raw batches with zero pages, nothing squeezed")
			}
		})
	}
	t.Run("chunks", func(t *testing.T) {
		c := newPageCollector()
		r.SetTolerant(true)
		r.s.stats = PageStats{}
		if err := r.Copy(l.spans, c); err != nil {
			t.Fatal(err)
		}
		got := map[uint64][]byte{}
		for a, p := range c.data {
			got[a] = pageOrNil(p)
		}
		for a := range c.zero {
			got[a] = nil
		}
		l.check(t, got, r)
	})
}

// copyOverQUIC copies the spans into a PageSender, in round 1 after a
// failed non-tolerant copy in round 0, and returns the pages of round 1
// as the receiver got them (failing on a page received twice).
func copyOverQUIC(t *testing.T, r *MemReader, spans []Span, cfg transport.Config) (map[uint64][]byte, transport.SendStats) {
	t.Helper()
	dialed, accepted := quicPair(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan map[uint64][]byte, 1)
	go func() { got <- receiveRound(t, ctx, accepted, 1) }()
	s, err := dialed.OpenPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.SetTolerant(false)
	if err := r.Copy(spans, s); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("copy over an unmapped page: %v, want EFAULT", err)
	}
	if err := s.EndRound(0); err != nil {
		t.Fatalf("end of round after a failed copy: %v", err)
	}
	r.SetTolerant(true)
	r.s.stats = PageStats{}
	if err := r.Copy(spans, s); err != nil {
		t.Fatal(err)
	}
	if err := s.EndRound(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return <-got, s.Stats()
}

// receiveRound returns the pages of round want, nil for zero pages.
func receiveRound(t *testing.T, ctx context.Context, c *transport.Conn, want uint32) map[uint64][]byte {
	pages := map[uint64][]byte{}
	rc, err := c.AcceptPages(ctx)
	if err != nil {
		t.Error(err)
		return pages
	}
	for {
		b, err := rc.Next(ctx)
		if errors.Is(err, io.EOF) {
			return pages
		}
		if err == nil && !b.IsRoundEnd && b.Round == want {
			err = b.Each(func(addr uint64, data []byte, zero bool, n uint64) error {
				return addPages(pages, addr, data, zero, n)
			})
		}
		if err != nil {
			t.Error(err)
			return pages
		}
	}
}

func addPages(pages map[uint64][]byte, addr uint64, data []byte, zero bool, n uint64) error {
	for i := range n {
		a := addr + i*pageSize
		if _, ok := pages[a]; ok {
			return fmt.Errorf("page %#x received twice", a)
		}
		pages[a] = nil
		if !zero {
			pages[a] = slices.Clone(data[i*pageSize : (i+1)*pageSize])
		}
	}
	return nil
}
