package transport

import (
	"context"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// cluster is a CA with the PEM of its key, for issuing test nodes.
type cluster struct {
	caPEM, caKey []byte
}

func newCluster(tb testing.TB, name string) *cluster {
	tb.Helper()
	ca, key, err := NewCA(name)
	if err != nil {
		tb.Fatal(err)
	}
	return &cluster{caPEM: ca, caKey: key}
}

func (c *cluster) node(tb testing.TB, name string) *Identity {
	tb.Helper()
	cert, key, err := IssueNode(c.caPEM, c.caKey, name, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	id, err := NewIdentity(c.caPEM, cert, key)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

var (
	testIDsOnce      sync.Once
	testIDA, testIDB *Identity
)

// testIDs returns two nodes of one cluster, shared by the tests.
func testIDs(tb testing.TB) (a, b *Identity) {
	testIDsOnce.Do(func() {
		c := newCluster(tb, "test-ca")
		testIDA, testIDB = c.node(tb, "node-a"), c.node(tb, "node-b")
	})
	return testIDA, testIDB
}

func testCtx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// listen starts a listener of id on loopback.
func listen(tb testing.TB, id *Identity, cfg Config) *Listener {
	tb.Helper()
	l, err := Listen(context.Background(), "127.0.0.1:0", id, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// connPair returns a dialed connection (node-a) and the accepted one
// (node-b), and the listener.
func connPair(tb testing.TB, cfg Config) (dialed, accepted *Conn, l *Listener) {
	tb.Helper()
	a, b := testIDs(tb)
	l = listen(tb, b, cfg)
	ctx := testCtx(tb, 10*time.Second)
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept(ctx)
		ch <- res{c, err}
	}()
	dialed, err := Dial(ctx, l.Addr().String(), a, "node-b", cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { dialed.Close() })
	r := <-ch
	if r.err != nil {
		tb.Fatal(r.err)
	}
	tb.Cleanup(func() { r.c.Close() })
	return dialed, r.c, l
}

// Page contents.

func randomPages(r *rand.Rand, n int) []byte {
	b := make([]byte, n*PageSize)
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

var (
	textOnce sync.Once
	textData []byte
)

// textPages returns n pages of Go source text (or of generated words when
// GOROOT has no sources), starting at a random offset.
func textPages(r *rand.Rand, n int) []byte {
	textOnce.Do(loadText)
	b := make([]byte, n*PageSize)
	for off := 0; off < len(b); {
		start := r.IntN(len(textData) - PageSize)
		off += copy(b[off:], textData[start:])
	}
	return b
}

func loadText() {
	const want = 16 << 20
	root := filepath.Join(runtime.GOROOT(), "src")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if len(textData) >= want || err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		data, _ := os.ReadFile(p)
		textData = append(textData, data...)
		return nil
	})
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the page of memory process restore dump round batch zero copy stream " +
		"func return error if for range struct int uint64 byte nil context")
	for len(textData) < want {
		textData = append(textData, words[r.IntN(len(words))]...)
		textData = append(textData, ' ')
	}
}

// mixedPages returns n pages cycling through random, text, text, zero.
func mixedPages(r *rand.Rand, n int) []byte {
	b := make([]byte, 0, n*PageSize)
	for i := range n {
		switch i % 4 {
		case 0:
			b = append(b, randomPages(r, 1)...)
		case 1, 2:
			b = append(b, textPages(r, 1)...)
		default:
			b = append(b, make([]byte, PageSize)...)
		}
	}
	return b
}

func pagesOf(kind string, r *rand.Rand, n int) []byte {
	switch kind {
	case "random":
		return randomPages(r, n)
	case "zero":
		return make([]byte, n*PageSize)
	case "text":
		return textPages(r, n)
	case "mixed":
		return mixedPages(r, n)
	}
	panic("unknown page kind " + kind)
}

// memory is what a receiver reconstructs: page address -> content (nil
// for a zero page).
type memory map[uint64][]byte

func (m memory) apply(b Batch) error {
	return b.Each(m.put)
}

// put records a run of n pages at addr, as Batch.Each and decoded.each
// hand it over: zero pages, or copies of the pages of data.
func (m memory) put(addr uint64, data []byte, zero bool, n uint64) error {
	for i := range n {
		a := addr + i*PageSize
		if zero {
			m[a] = nil
			continue
		}
		m[a] = append([]byte(nil), data[i*PageSize:(i+1)*PageSize]...)
	}
	return nil
}

// add records pages as the sender sent them.
func (m memory) add(addr uint64, data []byte) {
	for i := 0; i < len(data); i += PageSize {
		p := data[i : i+PageSize]
		if isZeroPage(p) {
			p = nil
		}
		m[addr+uint64(i)] = append([]byte(nil), p...)
	}
}

func (m memory) addZero(addr, n uint64) {
	for i := range n {
		m[addr+i*PageSize] = nil
	}
}

func (m memory) equal(tb testing.TB, got memory) {
	tb.Helper()
	if len(m) != len(got) {
		tb.Fatalf("got %d pages, want %d", len(got), len(m))
	}
	for a, want := range m {
		g, ok := got[a]
		if !ok {
			tb.Fatalf("page %#x missing", a)
		}
		if string(g) != string(want) {
			tb.Fatalf("page %#x differs (zero: got %v, want %v)", a, g == nil, want == nil)
		}
	}
}

// pageStream connects a pair and opens a page stream: a sender and its
// receiver, with a context that ends after d.
func pageStream(tb testing.TB, cfg Config, d time.Duration) (context.Context, *PageSender, *PageReceiver) {
	tb.Helper()
	dialed, accepted, _ := connPair(tb, cfg)
	ctx := testCtx(tb, d)
	s, err := dialed.OpenPages(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	rc, err := accepted.AcceptPages(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return ctx, s, rc
}

// drainedSender is pageStream with a receiver that drains the stream.
func drainedSender(tb testing.TB, cfg Config, d time.Duration) (context.Context, *PageSender) {
	tb.Helper()
	ctx, s, rc := pageStream(tb, cfg, d)
	go receiveAll(ctx, rc, 0, nil)
	return ctx, s
}
