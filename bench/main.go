// Command bench is the end-to-end benchmark harness: live migrations of a
// C workload between two lab hosts over a matrix of memory size, dirty
// rate, page content, streams and compression, with a bare QUIC transfer
// between the same hosts as the physical limit and, when a criu binary
// works here, CRIU's stop-and-copy side by side.
//
// In a nutshell, it works as follows. It builds migrate and migrated,
// brings up a two-host lab and measures the bare QUIC limit (this binary's
// hidden quic-sink and quic-source subcommands, run in h2 and h1). Then,
// for every point and repeat: it restarts both daemons (each run's peak
// RSS is its own), starts benchload in h1 (memory filled,
// a heartbeat line every millisecond, pages dirtied at the point's rate),
// pre-touches memory in both hosts, resets the daemons' peak RSS and reads
// their CPU time, migrates the process to h2 through h1's daemon API,
// checks that it runs on h2 and not on h1 and that its heartbeat goes on,
// reads the daemons' counters again and the heartbeat file, and kills the
// process on h2. Failed runs are recorded with their error. Results go to
// the terminal (a table of median [min-max]), to JSON and CSV files and to
// SVG plots in --out.
//
// Run it as root: go run ./bench --quick.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/migrate-dev/migrate/internal/cli"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/self"
)

// Options configure a harness run.
type Options struct {
	Points        []Point
	Repeat        int
	Out           string // results directory
	BinDir        string // prebuilt migrate and migrated; "" builds them
	LabName       string
	MaxDowntimeMS float64
	MaxRounds     int
	LimitMiB      int // bytes of each bare QUIC run; 0 skips the limit
	LimitRuns     int
	// Paired runs a bare QUIC transfer of the point's size right before
	// and right after each migration, with the workload running, so that
	// the page stream is judged against the link of its own moment.
	Paired      bool
	CRIU        string // criu binary; "" looks on PATH, "-" skips CRIU
	Settle      time.Duration
	KeepDaemons bool   // do not restart the daemons before each run
	Pin         bool   // each host on CPUs of its own (pinHosts)
	CopyRef     bool   // a bare run with a migration's copies after each migration (copyRef)
	Report      string // only print and rewrite the report of this results directory
	Log         func(format string, args ...any)
}

const description = `Benchmarks live migration between two lab hosts on this machine (root).

The default matrix is memory size (64, 256, 1024, 4096 MiB) x dirty rate
(0, 20, 100, 400 MiB/s) with mixed content, plus a content x compression
sweep at 256 MiB (one page stream: more are refused). Any axis flag replaces
it with the cross product of the given axes (others at 256 MiB, rate 0,
mixed, spread, 1 stream, lz4). --quick runs 64 and 256 MiB at rates 0 and
20, three times each.`

func main() {
	runSubcommand()
	// Descriptors inherited from the shell must not reach lab processes.
	_ = self.CloexecInherited()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("interrupted: %w", err)
	}
	stop()
	cli.Exit("bench", err)
}

// runSubcommand runs a hidden subcommand (the harness runs its own binary
// in the lab hosts: quic-sink, quic-source) and exits, if os.Args names one.
func runSubcommand() {
	if len(os.Args) < 2 {
		return
	}
	sub, ok := subcommands[os.Args[1]]
	if !ok {
		return
	}
	if err := sub(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	os.Exit(0)
}

func run(ctx context.Context, args []string) error {
	opt, list, err := parseFlags(args)
	if err != nil {
		return err
	}
	if opt.Report != "" {
		return report(opt.Report)
	}
	if list {
		for i, p := range opt.Points {
			fmt.Printf("%3d  %s\n", i+1, p)
		}
		fmt.Printf("%d points x %d repeats\n", len(opt.Points), opt.Repeat)
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root (lab namespaces, ptrace); run: sudo go run ./bench --quick")
	}
	// Lab processes whose parent exits are reparented to us, not to a PID
	// 1 that may not reap them.
	if err := linux.BecomeSubreaper(); err != nil {
		return err
	}
	defer linux.ReapOrphans()
	res, err := Bench(ctx, opt)
	if res != nil {
		if werr := writeResults(opt.Out, res); werr != nil {
			err = errors.Join(err, werr)
		} else {
			fmt.Printf("Results: %s (results.json, runs.csv, summary.csv, *.svg)\n", opt.Out)
		}
	}
	return err
}

func parseFlags(args []string) (Options, bool, error) {
	fs := cli.NewFlagSet("bench", "[flags]", description)
	quick := fs.Bool("quick", false, "a small matrix that runs in under two minutes")
	list := fs.Bool("list", false, "print the points and exit")
	sizes := fs.String("sizes", "", "memory sizes in MiB, e.g. 64,256")
	rates := fs.String("rates", "", "dirty rates in MiB/s, e.g. 0,20")
	conts := fs.String("contents", "", "page contents: random, zero, text, mixed")
	pats := fs.String("patterns", "", "dirtying patterns: spread, hotspot")
	streams := fs.String("streams", "", "page streams, e.g. 1,2,4")
	comp := fs.String("compress", "", "compression: lz4, none")
	repeat := fs.Int("repeat", 0, "runs per point (default 5, 3 with --quick)")
	out := fs.String("out", "", "results directory (default ./bench-results/TIMESTAMP)")
	var opt Options
	fs.StringVar(&opt.BinDir, "bin", "", "directory with prebuilt migrate and migrated (default: build them)")
	fs.StringVar(&opt.LabName, "lab", "bench", "lab name")
	fs.Float64Var(&opt.MaxDowntimeMS, "max-downtime", 0, "migration --max-downtime in ms (0: the daemon's default)")
	fs.IntVar(&opt.MaxRounds, "max-rounds", 0, "migration --max-rounds (0: the daemon's default)")
	limitMiB := fs.Int("limit-mib", 0, "MiB per bare QUIC run (default 1024, 256 with --quick; -1 skips)")
	fs.IntVar(&opt.LimitRuns, "limit-runs", 3, "bare QUIC runs (median)")
	fs.BoolVar(&opt.Paired, "paired", true, "a bare QUIC run of the point's size right before and after each migration (--paired=false skips)")
	fs.StringVar(&opt.CRIU, "criu", "", `criu binary for the side-by-side stop-and-copy (default: criu on PATH; "-" skips)`)
	fs.DurationVar(&opt.Settle, "settle", 300*time.Millisecond, "time the workload runs in h1 before each migration")
	fs.StringVar(&opt.Report, "report", "", "print the table of DIR/results.json and rewrite its CSV files and plots, run nothing")
	fs.BoolVar(&opt.CopyRef, "copy-ref", false, "after each migration, a bare QUIC run whose ends also read and write the pages as a migration does (stream %copyref)")
	fs.BoolVar(&opt.Pin, "pin", false, "run h1 on the first half of the CPUs and h2 on the rest, as two machines (default: both on all)")
	fs.BoolVar(&opt.KeepDaemons, "keep-daemons", false, "do not restart both daemons before each run (peak RSS then includes memory kept from earlier runs)")
	if err := cli.Parse(fs, args); err != nil {
		return opt, false, err
	}
	if fs.NArg() > 0 {
		return opt, false, cli.UsageError("unexpected argument %q", fs.Arg(0))
	}
	var a Axes
	var errs [6]error
	a.Sizes, errs[0] = parseInts("sizes", *sizes, 1, 1<<20)
	a.Rates, errs[1] = parseInts("rates", *rates, 0, 1<<16)
	a.Contents, errs[2] = parseWords("contents", *conts, contents)
	a.Patterns, errs[3] = parseWords("patterns", *pats, patterns)
	a.Streams, errs[4] = parseInts("streams", *streams, 1, 64)
	a.Compress, errs[5] = parseWords("compress", *comp, compressV)
	if err := errors.Join(errs[:]...); err != nil {
		return opt, false, err
	}
	opt.Points = selectMatrix(a, *quick)
	opt.Repeat = pick(*repeat, 5, 3, *quick)
	opt.LimitMiB = pick(*limitMiB, 1024, 256, *quick)
	if *quick && opt.LimitRuns == 3 {
		opt.LimitRuns = 2
	}
	if opt.Repeat < 1 || opt.LimitRuns < 1 {
		return opt, false, cli.UsageError("--repeat and --limit-runs must be at least 1")
	}
	opt.Out = *out
	if opt.Out == "" {
		opt.Out = filepath.Join("bench-results", time.Now().Format("20060102-150405"))
	}
	opt.Log = func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	return opt, *list, nil
}

// pick returns v if set, -1 as 0 (off), else the default or the quick one.
func pick(v, def, quick int, isQuick bool) int {
	switch {
	case v < 0:
		return 0
	case v > 0:
		return v
	case isQuick:
		return quick
	}
	return def
}

// report reprints and rewrites the results of an earlier run.
func report(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return err
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	printTable(os.Stdout, &res)
	return writeResults(dir, &res)
}
