//go:build linux

package linux

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/internal/testutil"
	"golang.org/x/sys/unix"
)

// Stage microbenchmarks of the page path that live here: reading another
// process's memory (the dumper's read, stage b) and writing into another
// process (the restorer's write, stage g). docs/ARCHITECTURE.md lists all
// stages. The other process is this test binary run again as stageHelper.

// stageHelperEnv makes the test binary run stageHelper; its value is the
// size of the helper's region in MiB.
const stageHelperEnv = "MIGRATE_LINUX_STAGE_HELPER"

func init() {
	if v := os.Getenv(stageHelperEnv); v != "" {
		stageHelper(v)
		os.Exit(0)
	}
}

// stageHelper maps a private anonymous region of the given MiB without
// huge pages, writes every page, prints its address and then answers one
// line per command on stdin until EOF:
//
//	drop   madvise(MADV_DONTNEED) the region: every page is fresh again -> ok
//	touch  write every page -> ok
func stageHelper(mib string) {
	n, err := strconv.Atoi(mib)
	if err != nil || n <= 0 {
		stageDie(fmt.Errorf("region size %q", mib))
	}
	m, err := unix.Mmap(-1, 0, n<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		stageDie(err)
	}
	if err := unix.Madvise(m, unix.MADV_NOHUGEPAGE); err != nil {
		stageDie(err)
	}
	touch := func() {
		for i := 0; i < len(m); i += PageSize {
			m[i] = byte(i>>12) | 1
		}
	}
	touch()
	fmt.Printf("%#x\n", SliceAddr(m))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "drop":
			if err := unix.Madvise(m, unix.MADV_DONTNEED); err != nil {
				stageDie(err)
			}
		case "touch":
			touch()
		default:
			stageDie(fmt.Errorf("unknown command %q", in.Text()))
		}
		fmt.Println("ok")
	}
}

func stageDie(err error) {
	fmt.Fprintln(os.Stderr, "stage helper:", err)
	os.Exit(3)
}

// stageTarget is a running stageHelper.
type stageTarget struct {
	pid  int
	addr uint64 // the region
	size uint64
	in   io.WriteCloser
	out  *bufio.Reader
}

// startStageTarget starts a helper with a region of mib MiB and checks that
// this process may read and write its memory, skipping otherwise. Cleanup
// kills and reaps it.
func startStageTarget(b *testing.B, mib int) *stageTarget {
	b.Helper()
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), stageHelperEnv+"="+strconv.Itoa(mib))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	t := &stageTarget{pid: cmd.Process.Pid, size: uint64(mib) << 20, in: in, out: bufio.NewReader(out)}
	if t.addr, err = strconv.ParseUint(t.readLine(b), 0, 64); err != nil {
		b.Fatalf("stage helper: %v", err)
	}
	page := make([]byte, PageSize)
	if err := ReadMem(t.pid, t.addr, page); errors.Is(err, unix.EPERM) {
		b.Skipf("process_vm_readv of a child process: %v (needs ptrace access to it)", err)
	} else if err != nil {
		b.Fatal(err)
	}
	return t
}

// do sends a command and waits for its answer.
func (t *stageTarget) do(b *testing.B, cmd string) {
	b.Helper()
	if _, err := fmt.Fprintln(t.in, cmd); err != nil {
		b.Fatal(err)
	}
	if got := t.readLine(b); got != "ok" {
		b.Fatalf("stage helper: %s: %q", cmd, got)
	}
}

func (t *stageTarget) readLine(b *testing.B) string {
	b.Helper()
	return testutil.ReadLine(b, t.out, t.pid, time.Minute)
}

// stageRegionMiB is the size of the other process's memory the stages walk.
const stageRegionMiB = 1024

// BenchmarkStageReadv measures process_vm_readv from another process (an
// idle helper) into one reused buffer, walking a 1 GiB region of present
// 4 KiB pages in 1 MiB reads (a transport batch) and in 4 MiB reads (the
// dumper's chunk).
func BenchmarkStageReadv(b *testing.B) {
	t := startStageTarget(b, stageRegionMiB)
	for _, chunk := range []int{1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("chunk=%dMiB", chunk>>20), func(b *testing.B) {
			buf := testutil.MapPages(b, chunk/PageSize)
			b.SetBytes(int64(chunk))
			b.ReportAllocs()
			var off uint64
			cpu := testutil.CPUTime(b)
			for b.Loop() {
				if _, err := ProcessVMReadv(t.pid, [][]byte{buf}, []RemoteRange{{t.addr + off, uint64(chunk)}}); err != nil {
					b.Fatal(err)
				}
				off = (off + uint64(chunk)) % t.size
			}
			testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*int64(chunk))
		})
	}
}

// BenchmarkStageWritev measures process_vm_writev of 1 MiB runs into a
// 1 GiB region of another process (an idle helper): "faulted" writes over
// present pages (later rounds of a streaming restore), "fresh" writes into
// pages never touched since MADV_DONTNEED, so the kernel allocates and
// clears each one first (the first copy of every page). Dropping the
// region again when the walk wraps around is not timed.
func BenchmarkStageWritev(b *testing.B) {
	const chunk = 1 << 20
	t := startStageTarget(b, stageRegionMiB)
	src := testutil.MapPages(b, chunk/PageSize)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	for _, fresh := range []bool{false, true} {
		b.Run(map[bool]string{false: "faulted", true: "fresh"}[fresh], func(b *testing.B) {
			prepare := map[bool]string{false: "touch", true: "drop"}[fresh]
			t.do(b, prepare)
			b.SetBytes(chunk)
			b.ReportAllocs()
			var off uint64
			cpu := testutil.CPUTime(b)
			for b.Loop() {
				if _, err := ProcessVMWritev(t.pid, [][]byte{src}, []RemoteRange{{t.addr + off, chunk}}); err != nil {
					b.Fatal(err)
				}
				if off = (off + chunk) % t.size; off == 0 && fresh {
					b.StopTimer()
					t.do(b, prepare)
					b.StartTimer()
				}
			}
			testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*chunk)
		})
	}
}

// BenchmarkStageUffdCopy measures UFFDIO_COPY of 1 MiB runs into a 1 GiB
// region registered for missing pages: the first copy of every page on the
// destination, against BenchmarkStageWritev's "fresh" (the kernel
// allocates each page but neither clears it nor takes a fault). The
// region is our own: the ioctl acts on the userfaultfd's process, wherever
// it is called from. Dropping and registering the region again when the
// walk wraps around is not timed.
func BenchmarkStageUffdCopy(b *testing.B) {
	testutil.RequireRoot(b)
	const chunk = 1 << 20
	m := testutil.MapPages(b, stageRegionMiB<<20/PageSize)
	base, size := SliceAddr(m), uint64(len(m))
	src := testutil.MapPages(b, chunk/PageSize)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	fd := -1
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	register := func() {
		if fd >= 0 {
			unix.Close(fd)
		}
		if err := unix.Madvise(m, unix.MADV_DONTNEED); err != nil {
			b.Fatal(err)
		}
		var err error
		if fd, err = UffdMissing(base, size); err != nil {
			b.Fatal(err)
		}
	}
	register()
	b.SetBytes(chunk)
	b.ReportAllocs()
	var off uint64
	cpu := testutil.CPUTime(b)
	for b.Loop() {
		if _, err := UffdCopy(fd, base+off, src); err != nil {
			b.Fatal(err)
		}
		if off = (off + chunk) % size; off == 0 {
			b.StopTimer()
			register()
			b.StartTimer()
		}
	}
	testutil.ReportCPU(b, testutil.CPUTime(b)-cpu, int64(b.N)*chunk)
}
