//go:build linux

package ptrace

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/migrate-dev/migrate/internal/linux"
	"golang.org/x/sys/unix"
)

// stubRemote starts a stub to inject into, killed when b ends.
func stubRemote(b *testing.B) (*Remote, int) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	tr := NewTracer()
	b.Cleanup(func() { tr.Close() })
	pid, err := tr.StartStub("/bin/true", []string{"true"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Do(func() error { killAndReap(pid); return nil }) })
	r, err := tr.NewRemote(pid, 0)
	if err != nil {
		b.Fatal(err)
	}
	return r, pid
}

func benchRemote(b *testing.B, method Method) {
	r, pid := stubRemote(b)
	if method == MethodInt3 {
		if err := r.MapGadget(0x7e0000000000); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.SetMethod(method); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if got, err := r.Syscall(unix.SYS_GETPID); err != nil || got != uint64(pid) {
			b.Fatal(got, err)
		}
	}
}

// BenchmarkRemoteSyscall measures one injected getpid round trip (set
// registers, resume, wait, read registers) through the tracer thread.
func BenchmarkRemoteSyscall(b *testing.B) {
	b.Run("syscall-stops", func(b *testing.B) { benchRemote(b, MethodSyscallStops) })
	b.Run("single-step", func(b *testing.B) { benchRemote(b, MethodSingleStep) })
	b.Run("int3", func(b *testing.B) { benchRemote(b, MethodInt3) })
}

// BenchmarkTracerDo measures handing an empty closure to the tracer thread.
func BenchmarkTracerDo(b *testing.B) {
	tr := NewTracer()
	defer tr.Close()
	b.ReportAllocs()
	for b.Loop() {
		tr.Do(func() error { return nil })
	}
}

// BenchmarkSeizeInterruptDetach measures stopping a sleeping process and
// letting it go again.
func BenchmarkSeizeInterruptDetach(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		b.Skip(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	tr := NewTracer()
	defer tr.Close()
	for b.Loop() {
		if err := tr.Seize(pid, 0); err != nil {
			b.Fatal(err)
		}
		if _, err := tr.Interrupt(pid); err != nil {
			b.Fatal(err)
		}
		if err := tr.Detach(pid, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetRegsXState measures reading the registers a dump needs.
func BenchmarkGetRegsXState(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	tr := NewTracer()
	defer tr.Close()
	pid, err := tr.StartStub("/bin/true", []string{"true"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Do(func() error { killAndReap(pid); return nil })
	for b.Loop() {
		if _, err := tr.GetRegs(pid); err != nil {
			b.Fatal(err)
		}
		if _, err := tr.GetXState(pid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatch measures a batch of n getpid calls in one stop (write
// the table, run, read the results), against n injected one by one.
func BenchmarkBatch(b *testing.B) {
	for _, n := range []int{1, 80} {
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) {
			r, pid := stubRemote(b)
			bt, err := r.MapBatch(linux.PageSize, n)
			if err != nil {
				b.Fatal(err)
			}
			calls := make([]Call, n)
			for i := range calls {
				calls[i].Nr = unix.SYS_GETPID
			}
			for b.Loop() {
				if ret, err := bt.Run(calls); err != nil || ret[n-1] != uint64(pid) {
					b.Fatal(ret, err)
				}
			}
		})
	}
}
