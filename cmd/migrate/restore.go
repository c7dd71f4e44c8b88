package main

import (
	"context"
	"fmt"

	"github.com/migrate-dev/migrate/internal/cli"
	"github.com/migrate-dev/migrate/restorer"
)

func runRestore(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("migrate restore", "DIR",
		"Rebuilds the process saved in checkpoint directory DIR, with its original PID,\nin this PID namespace, and lets it run. Prints the PID. Fails, changing\nnothing, if the PID is taken or the image does not fit this machine.")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.UsageError("restore: want DIR")
	}
	res, err := restorer.Restore(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Printf("restored pid %d: %d pages written, %d zero pages, %v (%v)\n",
		res.PID, res.DataPages, res.ZeroPages, res.Duration.Round(10e3), res.Restart)
	return nil
}
