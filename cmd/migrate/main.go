// Command migrate is the command line of the migration system: cluster
// status, the lab of test hosts, and (as they land) checkpoint, restore and
// live migration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/migrate-dev/migrate/internal/cli"
	"github.com/migrate-dev/migrate/internal/self"
	"github.com/migrate-dev/migrate/lab"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"nodes", "list the cluster's nodes as the local daemon sees them", runNodes},
		{"version", "print the version of this command and of the local daemon", runVersion},
		{"checkpoint", "save a running process to a directory (PID DIR [--kill])", runCheckpoint},
		{"restore", "rebuild a process from a checkpoint directory (DIR)", runRestore},
		{"demo", "run the main job end to end: a live migration between two lab hosts", runDemo},
		{"lab", "make, use and remove test hosts on this machine", runLab},
	}
}

const usage = `Usage: migrate [--socket PATH] PID HOST [flags]
       migrate [--socket PATH] COMMAND [ARGS]

migrate moves running Linux processes between machines. It talks to the
local migrated daemon over its unix socket.

Commands:
%s
Run 'migrate COMMAND --help' for the flags of a command.
`

func main() {
	args := os.Args[1:]
	// lab-init is internal: the lab starts it as PID 1 of each host.
	if len(args) > 0 && args[0] == "lab-init" {
		if err := lab.InitMain(args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "migrate lab-init: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Descriptors inherited from whoever started us must not reach the
	// processes we start (lab hosts and what runs in them).
	_ = self.CloexecInherited()
	cli.Exit("migrate", run(context.Background(), args))
}

var socketPath string

func run(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("migrate", "[--socket PATH] COMMAND [ARGS]", "")
	fs.StringVar(&socketPath, "socket", "", "unix socket of the local migrated (default /run/migrated/migrated.sock)")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage()
			return nil
		}
		return cli.UsageError("%v", err)
	}
	if fs.NArg() == 0 {
		printUsage()
		return cli.UsageError("no command given")
	}
	name := fs.Arg(0)
	if _, err := strconv.Atoi(name); err == nil { // migrate PID HOST
		return runMigrate(ctx, fs.Args())
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, fs.Args()[1:])
		}
	}
	if name == "help" {
		printUsage()
		return nil
	}
	return cli.UsageError("unknown command %q", name)
}

func printUsage() {
	var list string
	for _, c := range commands() {
		list += fmt.Sprintf("  %-10s %s\n", c.name, c.summary)
	}
	fmt.Printf(usage, list)
}
