package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/internal/cli"
)

func runCheckpoint(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("migrate checkpoint", "PID DIR [--kill]",
		"Freezes process PID (ptrace, never SIGSTOP), writes its state into the new\ndirectory DIR, then lets it run on (or, with --kill, kills it once DIR is\ncomplete and synced). A process that cannot be checkpointed is refused\nbefore anything changes and keeps running.")
	kill := fs.Bool("kill", false, "kill the process once the checkpoint is complete")
	if err := cli.Parse(fs, reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return cli.UsageError("checkpoint: want PID DIR")
	}
	pid, err := strconv.Atoi(fs.Arg(0))
	if err != nil || pid <= 0 {
		return cli.UsageError("checkpoint: %q is not a PID", fs.Arg(0))
	}
	st, err := dumper.Checkpoint(ctx, pid, fs.Arg(1), dumper.Options{Kill: *kill})
	if err != nil {
		return err
	}
	fmt.Printf("checkpoint of pid %d written to %s: %d pages stored (%s), %d zero pages recorded, frozen %v, total %v\n",
		pid, fs.Arg(1), st.DataPages, humanBytes(uint64(st.ImageBytes)), st.ZeroPages, st.Frozen.Round(10e3), st.Total.Round(10e3))
	if *kill {
		fmt.Printf("pid %d killed\n", pid)
	}
	return nil
}

// reorder moves flags after positional arguments to the front, so that
// "checkpoint PID DIR --kill" works like "checkpoint --kill PID DIR".
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}
