// Command migrated is the migration daemon that runs on every node.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/daemon"
	"github.com/migrate-dev/migrate/internal/cli"
	"github.com/migrate-dev/migrate/internal/self"
)

const description = `migrated joins the cluster of migration daemons (gossip with
hashicorp/memberlist, encrypted when --key-file is given), advertises this
node (name, migration address, load, free memory, managed processes,
version) and serves the local API for the migrate command on a unix socket.
With no flags it starts a one-node cluster. SIGTERM or SIGINT leaves the
cluster and exits.`

func main() {
	_ = self.CloexecInherited() // keep inherited descriptors to ourselves
	cli.Exit("migrated", run(os.Args[1:]))
}

func run(args []string) error {
	fs := cli.NewFlagSet("migrated", "[flags]", description)
	var cfg daemon.Config
	var join, level, format string
	fs.StringVar(&cfg.Name, "name", "", "node name (default: the hostname)")
	fs.StringVar(&cfg.StateDir, "state-dir", daemon.DefaultStateDir, "directory for the daemon's state")
	fs.StringVar(&cfg.Socket, "socket", api.DefaultSocket, "unix socket of the local API")
	fs.StringVar(&cfg.Bind, "bind", "0.0.0.0:7946", "gossip listen address (TCP and UDP)")
	fs.StringVar(&cfg.Advertise, "advertise", "", "IP address peers reach this node at (default: from --bind)")
	fs.StringVar(&cfg.QUICAddr, "quic-addr", "", "migration address advertised to peers (default: ADVERTISE:7947)")
	fs.StringVar(&join, "join", "", "comma-separated host:port of cluster members to join")
	fs.StringVar(&cfg.KeyFile, "key-file", "", "file with the base64 gossip encryption key (16, 24 or 32 bytes)")
	fs.StringVar(&level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&format, "log-format", "text", "text or json")
	fs.StringVar(&cfg.Fault, "fault", "", "fault injection for tests: crash (POINT) or stall (stall:POINT) an incoming migration at final-round, final, restored, go or committed, or an outgoing one at before-go or after-go; fail:round-done fails an incoming migration's page writer as a pre-copy round ends")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.UsageError("unexpected argument %q", fs.Arg(0))
	}
	logger, err := cli.Logger(os.Stderr, level, format)
	if err != nil {
		return err
	}
	cfg.Join = cli.SplitList(join)
	cfg.Logger = logger
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return daemon.Run(ctx, cfg)
}
