package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/internal/cli"
	"golang.org/x/term"
)

const migrateHelp = `Moves running process PID to HOST (a cluster member's name or address)
while it keeps running: pages are copied in rounds, each round only what the
process wrote since the last one, then the process is frozen for a moment,
the rest is sent, and it resumes on HOST with the same PID. If anything fails
it keeps running here, unchanged.`

func runMigrate(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("migrate", "PID HOST [flags]", migrateHelp)
	downtime := fs.Duration("max-downtime", 50*time.Millisecond, "target freeze time")
	rounds := fs.Int("max-rounds", 10, "pre-copy rounds at most")
	streams := fs.Int("streams", 1, "page streams")
	compress := fs.String("compress", "lz4", "page compression: lz4 or none")
	asJSON := fs.Bool("json", false, "print the final report as JSON")
	noThrottle := fs.Bool("no-throttle", false, "never slow the process down to make pre-copy converge (a process writing faster than the link then freezes longer)")
	if err := cli.Parse(fs, reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return cli.UsageError("want PID HOST")
	}
	pid, err := strconv.Atoi(fs.Arg(0))
	if err != nil || pid <= 0 {
		return cli.UsageError("%q is not a PID", fs.Arg(0))
	}
	if *compress != "lz4" && *compress != "none" {
		return cli.UsageError("--compress %q: want lz4 or none", *compress)
	}
	req := api.MigrateRequest{PID: pid, Host: fs.Arg(1), MaxDowntimeMS: float64(downtime.Microseconds()) / 1e3,
		MaxRounds: *rounds, Streams: *streams, Compress: *compress, NoThrottle: *noThrottle}
	bar := newProgressBar(os.Stdout, *asJSON)
	rep, err := api.NewClient(socketPath).Migrate(ctx, req, bar.event)
	bar.done()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Printf("pid %d now runs on %s (same PID %d)\n", rep.PID, rep.Host, rep.PID)
	mib := float64(rep.PagesSent*4096) / (1 << 20)
	fmt.Printf("total %.0f ms, frozen %.1f ms (restore %.1f ms), %d rounds, %d pages sent (%.1f MiB) + %d zero pages, %.1f MiB on the wire, %.0f MiB/s\n",
		rep.TotalMS, rep.FrozenMS, rep.RestoreMS, rep.Rounds, rep.PagesSent, mib, rep.ZeroPages,
		float64(rep.WireBytes)/(1<<20), mib/(rep.TotalMS/1e3))
	if rep.Throttle > 0 {
		fmt.Printf("note: the process was slowed down (stopped up to %.0f%% of the time) during pre-copy to make it converge\n", 100*rep.Throttle)
	}
	if rep.Resolved != "" {
		fmt.Printf("note: %s\n", rep.Resolved)
	}
	if len(rep.Freeze) > 0 {
		fmt.Printf("frozen: %s\n", steps(rep.Freeze))
		fmt.Printf("restore: %s\n", steps(rep.RestoreSteps))
	}
	return nil
}

// steps formats "what 1.2 ms, ..." for the steps that took 0.1 ms or more.
func steps(ss []api.Step) string {
	var parts []string
	for _, s := range ss {
		if s.MS >= 0.1 {
			parts = append(parts, fmt.Sprintf("%s %.1f ms", s.What, s.MS))
		}
	}
	return strings.Join(parts, ", ")
}

// progressBar draws the rounds on a terminal, or prints one line per event
// otherwise.
type progressBar struct {
	f     *os.File
	tty   bool
	quiet bool
	drawn bool
}

func newProgressBar(f *os.File, quiet bool) *progressBar {
	return &progressBar{f: f, tty: term.IsTerminal(int(f.Fd())), quiet: quiet}
}

func (b *progressBar) event(ev api.MigrateEvent) {
	p := ev.Progress
	if p == nil || b.quiet {
		return
	}
	line := fmt.Sprintf("round %d %-8s sent %7.1f MiB  dirty %6d pages (%.0f/s)  next round ~%.1f ms",
		p.Round, p.Phase, float64(p.PagesSent*4096)/(1<<20), p.DirtyPages, p.DirtyRate, p.RemainingMS)
	if p.Throttle > 0 {
		line += fmt.Sprintf("  throttled %.0f%%", 100*p.Throttle)
	}
	if b.tty {
		fmt.Fprintf(b.f, "\r%s%s", line, strings.Repeat(" ", 4))
		b.drawn = true
		return
	}
	fmt.Fprintln(b.f, line)
}

func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprintln(b.f)
	}
}
