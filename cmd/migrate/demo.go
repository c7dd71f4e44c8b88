package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/internal/cli"
	"github.com/migrate-dev/migrate/internal/workload"
	"github.com/migrate-dev/migrate/lab"
	"golang.org/x/sys/unix"
)

// heartbeatPy appends "COUNT UNIX_NS" to a file every 10 ms.
const heartbeatPy = `import sys, time
out = open(sys.argv[1], "a", buffering=1)
n = 0
while True:
    n += 1
    out.write("%d %d\n" % (n, time.time_ns()))
    time.sleep(0.01)
`

func runDemo(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("migrate demo", "[--keep]", "Runs the main job end to end on this machine: a lab of two hosts, a\nprocess on h1 that writes a heartbeat, its live migration to h2, and the\nheartbeat going on from the same count on h2. Needs root and python3.")
	keep := fs.Bool("keep", false, "leave the lab up afterwards")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		return fmt.Errorf("demo needs python3: %w", err)
	}
	fmt.Println("== lab up: two hosts, each with its own migrated")
	l, err := lab.Up(ctx, lab.Config{Name: "demo", Hosts: 2})
	if err != nil {
		return err
	}
	if !*keep {
		defer func() { fmt.Println("== lab down"); l.Down() }()
	}
	if err := printHosts(l); err != nil {
		return err
	}
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	dir, err := os.MkdirTemp("", "migrate-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	script, beats := filepath.Join(dir, "heartbeat.py"), filepath.Join(dir, "heartbeat.log")
	if err := os.WriteFile(script, []byte(heartbeatPy), 0o644); err != nil {
		return err
	}
	res, err := h1.Exec(ctx, []string{py, script, beats}, lab.ExecOptions{Detach: true, Dir: dir})
	if err != nil {
		return err
	}
	pid := res.PID
	fmt.Printf("== started a heartbeat on h1: pid %d appends a count every 10 ms to %s\n", pid, beats)
	if err := waitBeats(beats, 50); err != nil {
		return err
	}
	fmt.Printf("   h1 heartbeat at %d\n", lastBeat(beats))
	fmt.Printf("== migrate %d h2 (from h1)\n", pid)
	bar := newProgressBar(os.Stdout, false)
	rep, err := api.NewClient(h1.Socket()).Migrate(ctx, api.MigrateRequest{PID: pid, Host: "h2"}, bar.event)
	bar.done()
	if err != nil {
		return err
	}
	fmt.Printf("   pid %d now runs on h2: total %.0f ms, frozen %.1f ms, %d rounds, %d pages\n",
		rep.PID, rep.TotalMS, rep.FrozenMS, rep.Rounds, rep.PagesSent)
	at := lastBeat(beats)
	if err := waitBeats(beats, at+50); err != nil {
		return err
	}
	data, _ := os.ReadFile(beats)
	b := workload.ParseBeats(data, 0, 0)
	fmt.Printf("   heartbeat went on from %d to %d on h2; missing counts: %d; longest gap %.1f ms\n", at, lastBeat(beats), b.Lost, b.MaxGapMS)
	if !h1.WaitGone(pid, 2*time.Second, 20*time.Millisecond) { // a zombie until h1's init reaps it
		return fmt.Errorf("pid %d still exists on h1", pid)
	}
	if err := h2.Signal(pid, unix.SIGTERM); err != nil {
		return fmt.Errorf("pid %d on h2: %w", pid, err)
	}
	return nil
}

func waitBeats(path string, n int) error {
	deadline := time.Now().Add(20 * time.Second)
	for lastBeat(path) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("heartbeat stuck at %d", lastBeat(path))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func lastBeat(path string) int {
	b, _ := os.ReadFile(path)
	n, _, _ := workload.LastBeat(b)
	return int(n)
}
