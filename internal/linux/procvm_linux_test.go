//go:build linux

package linux

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/migrate-dev/migrate/internal/testutil"
	"golang.org/x/sys/unix"
)

// split cuts total bytes into more than IOV_MAX random pieces, some empty.
func split(r *rand.Rand, total int) []int {
	var sizes []int
	for total > 0 {
		n := min(total, r.IntN(64))
		sizes = append(sizes, n)
		total -= n
	}
	return sizes
}

func TestProcessVMManySegments(t *testing.T) {
	const pages = 32
	remote := testutil.MapPages(t, pages)
	base := SliceAddr(remote)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range remote {
		remote[i] = byte(r.Uint32())
	}
	var ranges []RemoteRange
	off := uint64(0)
	for _, n := range split(r, len(remote)) {
		ranges = append(ranges, RemoteRange{Addr: base + off, Len: uint64(n)})
		off += uint64(n)
	}
	var local [][]byte
	for _, n := range split(r, len(remote)) {
		local = append(local, make([]byte, n))
	}
	if len(local) <= IOV_MAX || len(ranges) <= IOV_MAX {
		t.Fatalf("want more than IOV_MAX segments, have %d local %d remote", len(local), len(ranges))
	}
	n, err := ProcessVMReadv(os.Getpid(), local, ranges)
	if err != nil || n != len(remote) {
		t.Fatalf("ProcessVMReadv = %d, %v", n, err)
	}
	if got := bytes.Join(local, nil); !bytes.Equal(got, remote) {
		t.Fatal("read data differ")
	}
	for _, b := range local {
		for i := range b {
			b[i] ^= 0x5a
		}
	}
	n, err = ProcessVMWritev(os.Getpid(), local, ranges)
	if err != nil || n != len(remote) {
		t.Fatalf("ProcessVMWritev = %d, %v", n, err)
	}
	if got := bytes.Join(local, nil); !bytes.Equal(got, remote) {
		t.Fatal("written data differ")
	}
}

func TestProcessVMPartial(t *testing.T) {
	m := testutil.MapPages(t, 3)
	base := SliceAddr(m)
	if err := unix.Mprotect(m[2*PageSize:], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3*PageSize)
	n, err := ProcessVMReadv(os.Getpid(), [][]byte{buf[:100], buf[100:]}, []RemoteRange{{base, 3 * PageSize}})
	if n != 2*PageSize || !errors.Is(err, unix.EFAULT) {
		t.Fatalf("read across a PROT_NONE page = %d, %v; want %d, EFAULT", n, err, 2*PageSize)
	}
	wantAddr := fmt.Sprintf("pid %d at remote address %#x", os.Getpid(), base+2*PageSize)
	if !strings.Contains(err.Error(), wantAddr) {
		t.Errorf("error %q does not name %q", err, wantAddr)
	}
	_, err = ProcessVMReadv(os.Getpid(), [][]byte{buf}, []RemoteRange{{base, 1}})
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("mismatched lengths: %v, want EINVAL", err)
	}
	if n, err := ProcessVMWritev(os.Getpid(), nil, nil); n != 0 || err != nil {
		t.Errorf("empty write = %d, %v", n, err)
	}
}

func TestReadWriteMem(t *testing.T) {
	m := testutil.MapPages(t, 1)
	if err := WriteMem(os.Getpid(), SliceAddr(m)+10, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if err := ReadMem(os.Getpid(), SliceAddr(m)+10, got); err != nil || string(got) != "hello" {
		t.Fatalf("ReadMem = %q, %v", got, err)
	}
	if err := ReadMem(os.Getpid(), 8, got); !errors.Is(err, unix.EFAULT) {
		t.Errorf("ReadMem at 8 = %v, want EFAULT", err)
	}
}

func BenchmarkProcessVMReadv(b *testing.B) {
	const size = 64 << 20
	src := testutil.MapPages(b, size/PageSize)
	for i := 0; i < size; i += PageSize {
		src[i] = 1
	}
	dst := testutil.MapPages(b, size/PageSize)
	copy(dst, src)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ProcessVMReadv(os.Getpid(), [][]byte{dst}, []RemoteRange{{SliceAddr(src), size}}); err != nil {
			b.Fatal(err)
		}
	}
}
