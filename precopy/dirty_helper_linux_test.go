//go:build linux

package precopy

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/testutil"
	"golang.org/x/sys/unix"
)

// dirtyHelperEnv makes the test binary run dirtyHelper instead of the tests.
const dirtyHelperEnv = "MIGRATE_PRECOPY_DIRTY_HELPER"

func init() {
	if os.Getenv(dirtyHelperEnv) != "" {
		// Keep the command loop on the main thread (tid == pid), the one
		// the tests interrupt.
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(dirtyHelperEnv) != "" {
		dirtyHelper()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Helper mappings, printed at start as "name addr npages".
const (
	helperAnonPages = 256 // private anonymous; even pages touched
	helperFilePages = 16  // private file mapping, read-write
	helperROPages   = 4   // shared mapping of a file opened read-only
)

// dirtyHelper maps memory, prints where, then runs one command per line of
// stdin and answers each with one line:
//
//	w ADDR...            write a byte at each address -> ok
//	r ADDR...            read a byte at each address -> ok
//	m N                  mmap N private anonymous pages -> ADDR
//	h N                  the same, 2 MiB aligned, with MADV_HUGEPAGE -> ADDR
//	u ADDR               munmap a mapping made by m -> ok
//	f ADDR N             mmap MAP_FIXED private anonymous over it -> ok
//	s ADDR N STEP        write every STEP-th of the N pages at ADDR -> ok
//	d ADDR               madvise(MADV_DONTNEED) the page at ADDR -> ok
//	k ADDR               read(2) 8 bytes from /dev/urandom to ADDR -> ok
//	p ADDR N SEED LO HI  write pages perm[LO:HI] of a seeded permutation
//	                     of the N pages at ADDR (see helperPerm) -> ok
//	q                    exit
func dirtyHelper() {
	anon := helperMmap(-1, helperAnonPages, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	for i := 0; i < len(anon); i += 2 * trackPageSize {
		anon[i] = 1
	}
	f, err := os.CreateTemp("", "precopy-dirty-")
	if err != nil {
		helperDie(err)
	}
	os.Remove(f.Name())
	if _, err := f.Write(make([]byte, helperFilePages*trackPageSize)); err != nil {
		helperDie(err)
	}
	file := helperMmap(int(f.Fd()), helperFilePages, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	ro, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		helperDie(err)
	}
	shared := helperMmap(int(ro.Fd()), helperROPages, unix.PROT_READ, unix.MAP_SHARED)
	fmt.Printf("anon %#x %d\nfile %#x %d\nro %#x %d\n", linux.SliceAddr(anon), helperAnonPages,
		linux.SliceAddr(file), helperFilePages, linux.SliceAddr(shared), helperROPages)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 || f[0] == "q" {
			return
		}
		fmt.Println(helperCommand(f[0], helperArgs(f[1:])))
	}
}

func helperCommand(cmd string, a []uint64) string {
	switch cmd {
	case "w":
		for _, addr := range a {
			helperWrite(addr)
		}
	case "r":
		for _, addr := range a {
			helperRead(addr)
		}
	case "m":
		return fmt.Sprintf("%#x", linux.SliceAddr(helperMmap(-1, int(a[0]), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)))
	case "h":
		return fmt.Sprintf("%#x", linux.SliceAddr(helperMmapHuge(int(a[0]))))
	case "u":
		helperMunmap(a[0])
	case "f":
		if _, _, e := unix.Syscall6(unix.SYS_MMAP, uintptr(a[0]), uintptr(a[1]*trackPageSize), unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED, ^uintptr(0), 0); e != 0 {
			helperDie(e)
		}
	case "s":
		for i := uint64(0); i < a[1]; i += a[2] {
			helperWrite(a[0] + i*trackPageSize)
		}
	case "k":
		// The kernel writes: read(2) from /dev/urandom into the page.
		helperKernelWrite(a[0])
	case "d":
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(a[0]), trackPageSize, unix.MADV_DONTNEED); e != 0 {
			helperDie(e)
		}
	case "p":
		for _, i := range helperPerm(int(a[1]), a[2])[a[3]:a[4]] {
			helperWrite(a[0] + uint64(i)*trackPageSize)
		}
	default:
		helperDie(fmt.Errorf("unknown command %q", cmd))
	}
	return "ok"
}

// helperPerm is the permutation of n pages that command p walks.
func helperPerm(n int, seed uint64) []int {
	return rand.New(rand.NewPCG(seed, 0x5eed)).Perm(n)
}

func helperArgs(f []string) []uint64 {
	a := make([]uint64, len(f))
	for i, s := range f {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			helperDie(err)
		}
		a[i] = v
	}
	return a
}

// helperMaps are the helper's mappings, to write through.
var helperMaps [][]byte

// helperKernelWrite makes the kernel write 8 bytes at addr.
func helperKernelWrite(addr uint64) {
	for _, m := range helperMaps {
		if start := linux.SliceAddr(m); addr >= start && addr+8 <= start+uint64(len(m)) {
			f, err := os.Open("/dev/urandom")
			if err != nil {
				helperDie(err)
			}
			defer f.Close()
			if _, err := io.ReadFull(f, m[addr-start:addr-start+8]); err != nil {
				helperDie(err)
			}
			return
		}
	}
	helperDie(fmt.Errorf("read to %#x: not mapped", addr))
}

// helperWrite increments the byte at addr.
func helperWrite(addr uint64) { helperByte(addr, "write")[0]++ }

// helperSink keeps helperRead's loads from being optimized away.
var helperSink byte

func helperRead(addr uint64) { helperSink += helperByte(addr, "read")[0] }

// helperByte returns the byte at addr in one of the helper's mappings.
func helperByte(addr uint64, what string) []byte {
	for _, m := range helperMaps {
		if start := linux.SliceAddr(m); addr >= start && addr < start+uint64(len(m)) {
			return m[addr-start : addr-start+1]
		}
	}
	helperDie(fmt.Errorf("%s at %#x: not mapped", what, addr))
	return nil
}

func helperMmap(fd, pages, prot, flags int) []byte {
	m, err := unix.Mmap(fd, 0, pages*trackPageSize, prot, flags)
	if err != nil {
		helperDie(err)
	}
	helperMaps = append(helperMaps, m)
	return m
}

// helperMmapHuge maps n pages at a 2 MiB boundary, asking for
// transparent huge pages there (the mapping has 2 MiB more, unused).
func helperMmapHuge(n int) []byte {
	const huge = 2 << 20
	m, err := unix.Mmap(-1, 0, n*trackPageSize+huge, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		helperDie(err)
	}
	off := (huge - int(linux.SliceAddr(m)%huge)) % huge
	m = m[off : off+n*trackPageSize]
	if err := unix.Madvise(m, unix.MADV_HUGEPAGE); err != nil {
		helperDie(err)
	}
	helperMaps = append(helperMaps, m)
	return m
}

func helperMunmap(addr uint64) {
	for i, m := range helperMaps {
		if linux.SliceAddr(m) == addr {
			if err := unix.Munmap(m); err != nil {
				helperDie(err)
			}
			helperMaps = slices.Delete(helperMaps, i, i+1)
			return
		}
	}
	helperDie(fmt.Errorf("munmap %#x: not a mapping of ours", addr))
}

func helperDie(err error) {
	fmt.Fprintln(os.Stderr, "dirty helper:", err)
	os.Exit(3)
}

// helperProc is a running dirtyHelper.
type helperProc struct {
	pid        int
	anon, file Range
	ro         Range
	stdin      *os.File
	out        *bufio.Reader
}

// startHelper starts dirtyHelper; Cleanup kills and reaps it.
func startHelper(t testing.TB) *helperProc {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), dirtyHelperEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		inW.Close()
		outR.Close()
	})
	h := &helperProc{pid: cmd.Process.Pid, stdin: inW, out: bufio.NewReader(outR)}
	for _, r := range []*Range{&h.anon, &h.file, &h.ro} {
		var name string
		var addr, n uint64
		if _, err := fmt.Sscan(h.readLine(t), &name, &addr, &n); err != nil {
			t.Fatalf("helper start: %v", err)
		}
		*r = Range{Start: addr, End: addr + n*trackPageSize}
	}
	return h
}

// do sends one command and returns the answer.
func (h *helperProc) do(t testing.TB, format string, args ...any) string {
	t.Helper()
	if _, err := fmt.Fprintf(h.stdin, format+"\n", args...); err != nil {
		t.Fatalf("helper pid %d: %v", h.pid, err)
	}
	return h.readLine(t)
}

// write makes the helper write one byte in each page.
func (h *helperProc) write(t testing.TB, pages []uint64) {
	t.Helper()
	var b strings.Builder
	b.WriteString("w")
	for _, p := range pages {
		fmt.Fprintf(&b, " %#x", p+17)
	}
	if got := h.do(t, "%s", b.String()); got != "ok" {
		t.Fatalf("helper answered %q", got)
	}
}

// mmap makes the helper map n fresh anonymous pages.
func (h *helperProc) mmap(t testing.TB, n int) Range {
	t.Helper()
	addr, err := strconv.ParseUint(h.do(t, "m %d", n), 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	return Range{Start: addr, End: addr + uint64(n)*trackPageSize}
}

// readLine reads one line from the helper, failing after a timeout.
func (h *helperProc) readLine(t testing.TB) string {
	t.Helper()
	return testutil.ReadLine(t, h.out, h.pid, 60*time.Second)
}
