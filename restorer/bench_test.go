package restorer_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/internal/workload"
	"github.com/migrate-dev/migrate/restorer"
	"golang.org/x/sys/unix"
)

// BenchmarkCheckpointRestore1GiB checkpoints a process with 1 GiB of mixed
// memory (half random, a quarter zero, a quarter text; all pages touched
// before timing) to tmpfs with --kill, and restores it, over and over: each
// iteration moves the process restored by the one before. Reported: MiB/s
// of process memory for each direction, and the frozen time of the
// checkpoint. The first cycle is a warm-up (it also makes sure the memory
// the restore allocates has been touched once on this VM).
func BenchmarkCheckpointRestore1GiB(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	const mib = 1024
	p, err := workload.Start(context.Background(), "bigmem", "1024", "mixed")
	if err != nil {
		b.Skip(err)
	}
	defer p.Kill()
	tmp := "/dev/shm"
	if _, err := os.Stat(tmp); err != nil {
		tmp = b.TempDir()
	}
	pid, child := p.PID, false
	cyc := func(i int) (dump, frozen, rest time.Duration) {
		dir := filepath.Join(tmp, "migrate-bench-img")
		os.RemoveAll(dir)
		defer os.RemoveAll(dir)
		st, err := dumper.Checkpoint(context.Background(), pid, dir, dumper.Options{Kill: true})
		if err != nil {
			b.Fatal(err)
		}
		if child {
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
		} else {
			p.Wait()
		}
		res, err := restorer.Restore(context.Background(), dir)
		if err != nil {
			b.Fatal(err)
		}
		child = true
		b.Logf("cycle %d: frozen %v (collect %v, copy %v, sync %v), restore %v %v", i, st.Frozen, st.Collect, st.Copy, st.Sync, res.Duration, res.Steps)
		return st.Total, st.Frozen, res.Duration
	}
	defer func() {
		if child {
			unix.Kill(pid, unix.SIGKILL)
			unix.Wait4(pid, nil, 0, nil)
		}
	}()
	// Two warm-up cycles: the first touch of memory the host reclaimed
	// costs up to 3 s/GiB on this VM, for the image and the new process.
	cyc(-2)
	cyc(-1)
	b.SetBytes(mib << 20)
	b.ResetTimer()
	var dump, frozen, rest []time.Duration
	for i := 0; i < b.N; i++ {
		d, f, r := cyc(i)
		dump, frozen, rest = append(dump, d), append(frozen, f), append(rest, r)
	}
	b.ReportMetric(mib/median(dump).Seconds(), "dump-MiB/s")
	b.ReportMetric(mib/median(rest).Seconds(), "restore-MiB/s")
	b.ReportMetric(float64(median(frozen).Microseconds())/1e3, "frozen-ms")
	b.ReportMetric(float64(median(rest).Microseconds())/1e3, "restore-ms")
	if err := p.Verify(context.Background(), 30*time.Second); err != nil {
		b.Fatalf("after %d cycles: %v", b.N+1, err)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
