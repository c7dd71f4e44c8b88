package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/internal/buildinfo"
	"github.com/migrate-dev/migrate/internal/cli"
)

func runNodes(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("migrate nodes", "[--json]",
		"Lists the members of the cluster as the local daemon sees them: name, gossip\naddress, state (alive, suspect, dead, left), migration address, load, free\nmemory, managed processes and version.")
	asJSON := fs.Bool("json", false, "print a JSON array")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.UsageError("nodes: unexpected argument %q", fs.Arg(0))
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nodes, err := api.NewClient(socketPath).Nodes(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if nodes == nil {
			nodes = []api.Node{}
		}
		return enc.Encode(nodes)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tSTATE\tMIGRATION ADDRESS\tLOAD\tMEM AVAILABLE\tPROCS\tVERSION")
	for _, n := range nodes {
		name := n.Name
		if n.Self {
			name += " *"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%s\t%d\t%s\n", name, n.Address, n.State, n.QUICAddr,
			n.Load1, humanBytes(n.MemAvailable), n.Procs, n.Version)
	}
	return tw.Flush()
}

func runVersion(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("migrate version", "", "Prints the version of migrate and, when it runs, of the local migrated.")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	fmt.Printf("migrate %s\n", buildinfo.String())
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	v, err := api.NewClient(socketPath).Version(ctx)
	if err != nil {
		fmt.Printf("migrated: not reachable (%v)\n", err)
		return nil
	}
	fmt.Printf("migrated %s (node %s)\n", v.Version, v.Node)
	return nil
}

func humanBytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
