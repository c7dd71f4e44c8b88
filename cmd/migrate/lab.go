package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/migrate-dev/migrate/internal/cli"
	"github.com/migrate-dev/migrate/lab"
)

const labUsage = `Usage: migrate lab COMMAND [flags]

The lab makes several hosts on this machine: each host is a network, PID,
mount, UTS and IPC namespace with its own /proc, address 198.18.0.K/24 on a
private bridge (no route anywhere else), and its own migrated, all joined
in one cluster. Needs root.

Commands:
  up [--hosts N]              create the hosts h1..hN (default 2); idempotent
  exec HOST -- CMD [ARGS...]  run a command inside a host
  down                        stop and remove everything the lab made
  status                      list the lab's hosts

Every command takes --name NAME (default "lab") to work on another lab.
`

func runLab(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Print(labUsage)
		return cli.UsageError("lab: no command given")
	}
	switch args[0] {
	case "up":
		return runLabUp(ctx, args[1:])
	case "down":
		return runLabDown(args[1:])
	case "exec":
		return runLabExec(ctx, args[1:])
	case "status":
		return runLabStatus(args[1:])
	case "-h", "--help", "-help", "help":
		fmt.Print(labUsage)
		return nil
	}
	return cli.UsageError("lab: unknown command %q", args[0])
}

func labFlags(name, synopsis, desc string) (*flag.FlagSet, *lab.Config) {
	fs := cli.NewFlagSet("migrate lab "+name, synopsis, desc)
	cfg := &lab.Config{}
	fs.StringVar(&cfg.Name, "name", lab.DefaultName, "name of the lab")
	fs.StringVar(&cfg.RunDir, "run-dir", lab.DefaultRunDir, "directory for the lab's files")
	return fs, cfg
}

func runLabUp(ctx context.Context, args []string) error {
	fs, cfg := labFlags("up", "[--hosts N] [--name NAME]", "Creates the lab's hosts, each running migrated, and waits until they form one\ncluster. Running it again on a lab that is up only prints its hosts.")
	fs.IntVar(&cfg.Hosts, "hosts", lab.DefaultHosts, "number of hosts")
	fs.StringVar(&cfg.MigratedBin, "migrated", "", "path of the migrated binary (default: next to migrate, or on PATH)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.UsageError("lab up: unexpected argument %q", fs.Arg(0))
	}
	l, err := lab.Up(ctx, *cfg)
	if err != nil {
		return err
	}
	return printHosts(l)
}

func runLabDown(args []string) error {
	fs, cfg := labFlags("down", "[--name NAME]", "Stops the lab's daemons and removes every namespace, link and process it made.\nSafe to run again, also after a failed lab up.")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.UsageError("lab down: unexpected argument %q", fs.Arg(0))
	}
	return lab.Down(*cfg)
}

func runLabStatus(args []string) error {
	fs, cfg := labFlags("status", "[--name NAME]", "Lists the lab's hosts.")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	l, err := lab.Open(*cfg)
	if err != nil {
		return err
	}
	return printHosts(l)
}

func printHosts(l *lab.Lab) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tADDRESS\tINIT PID\tDAEMON SOCKET")
	for _, h := range l.Hosts() {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", h.Name, h.Addr, h.InitPID(), h.Socket())
	}
	return tw.Flush()
}

func runLabExec(ctx context.Context, args []string) error {
	fs, cfg := labFlags("exec", "[--name NAME] [--detach] HOST -- CMD [ARGS...]",
		"Runs a command inside every namespace of a lab host, with this terminal's stdio,\nenvironment and working directory; exits with the command's status. With\n--detach it prints the command's PID (inside the host) and returns.")
	detach := fs.Bool("detach", false, "start the command in the background and print its PID")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) < 2 {
		return cli.UsageError("lab exec: want HOST -- CMD [ARGS...]")
	}
	hostName, cmd := rest[0], rest[1:]
	if cmd[0] == "--" {
		cmd = cmd[1:]
	}
	if len(cmd) == 0 {
		return cli.UsageError("lab exec: no command after %s", hostName)
	}
	l, err := lab.Open(*cfg)
	if err != nil {
		return err
	}
	h, err := l.Host(hostName)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	res, err := h.Exec(ctx, cmd, lab.ExecOptions{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Detach: *detach, Signals: sigs})
	if err != nil {
		return err
	}
	if *detach {
		fmt.Println(res.PID)
		return nil
	}
	if res.ExitCode != 0 {
		return cli.ExitCode(res.ExitCode)
	}
	return nil
}
