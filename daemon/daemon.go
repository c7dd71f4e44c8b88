package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/cluster"
	"github.com/migrate-dev/migrate/internal/buildinfo"
	"github.com/migrate-dev/migrate/transport"
)

// Defaults for a daemon started without flags.
const (
	DefaultStateDir = "/var/lib/migrated"
	DefaultQUICPort = 7947
)

// Config is the daemon's configuration; the zero value is a one-node
// cluster with state under DefaultStateDir.
type Config struct {
	Name      string   // node name; default: the hostname
	StateDir  string   // default DefaultStateDir
	Socket    string   // API socket; default api.DefaultSocket
	Bind      string   // gossip listen address ip:port; default 0.0.0.0:7946
	Advertise string   // IP peers reach this node at; default: from Bind
	QUICAddr  string   // migration endpoint advertised to peers; default ADVERTISE:7947
	Join      []string // members to join (host:port)
	KeyFile   string   // gossip key file (base64); empty: plaintext gossip
	Logger    *slog.Logger
	// Fault makes the daemon crash (SIGKILL itself) at one point of an
	// incoming migration, for fault-injection tests: "final-round" (the
	// frozen last round begins), "final" (the final state arrived),
	// "restored" (the process is rebuilt, before Ready), "go" (Go arrived,
	// before the process runs), "committed" (it runs, Running not sent).
	// "stall:POINT" holds the migration there for a while instead. On the
	// source side: "before-go" (handover recorded, Go not sent) and
	// "after-go" (Go sent).
	Fault string
}

// Daemon is a running migrated.
type Daemon struct {
	cfg      Config
	log      *slog.Logger
	cluster  *cluster.Cluster
	identity *transport.Identity // mutual TLS for migrations
	procs    atomic.Int64        // processes this node runs on behalf of the cluster

	// outcomes of incoming migrations by ID, for sources whose handover
	// broke after Go (precopy.Outcome*). Kept in memory for outcomeTTL;
	// after a restart the outcome records answer (outcome_linux.go).
	outcomesMu sync.Mutex
	outcomes   map[string]outcomeEntry
}

// outcomeEntry is the outcome of an incoming migration and when it was
// set.
type outcomeEntry struct {
	state string
	at    time.Time
}

// outcomeTTL is how long an outcome is kept: far beyond the time a source
// asks for it (precopy's resolve timeout, 5 minutes), so that the map
// does not grow with every migration a long-lived daemon receives.
const outcomeTTL = time.Hour

func (cfg *Config) fill() error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("node name: %w", err)
		}
		cfg.Name = h
	}
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	if cfg.Socket == "" {
		cfg.Socket = api.DefaultSocket
	}
	if cfg.Bind == "" {
		cfg.Bind = net.JoinHostPort("0.0.0.0", strconv.Itoa(cluster.DefaultPort))
	}
	host, _, err := net.SplitHostPort(cfg.Bind)
	if err != nil {
		return fmt.Errorf("bind address %q: %w", cfg.Bind, err)
	}
	if cfg.QUICAddr == "" {
		adv := cfg.Advertise
		if adv == "" && host != "0.0.0.0" && host != "::" {
			adv = host
		}
		if adv == "" {
			adv = guessOutboundIP()
		}
		cfg.QUICAddr = net.JoinHostPort(adv, strconv.Itoa(DefaultQUICPort))
	}
	return nil
}

// Run runs the daemon until ctx ends. It returns an error if it could not
// start; a clean shutdown returns nil.
func Run(ctx context.Context, cfg Config) error {
	d, stop, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	d.log.Info("shutting down")
	return stop()
}

// Start brings the daemon up and returns it with a function that stops it.
func Start(ctx context.Context, cfg Config) (*Daemon, func() error, error) {
	if err := cfg.fill(); err != nil {
		return nil, nil, err
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger}
	var undo []func()
	fail := func(err error) (*Daemon, func() error, error) {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return nil, nil, err
	}
	var key []byte
	if cfg.KeyFile != "" {
		k, err := cluster.LoadKey(cfg.KeyFile)
		if err != nil {
			return fail(err)
		}
		key = k
	}
	unlock, err := lockStateDir(cfg.StateDir)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, unlock)
	ln, err := listenSocket(cfg.Socket)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, func() { ln.Close(); os.Remove(cfg.Socket) })
	if d.identity, err = loadOrCreateIdentity(filepath.Join(cfg.StateDir, "tls"), cfg.Name); err != nil {
		return fail(err)
	}
	qln, err := transport.Listen(ctx, cfg.QUICAddr, d.identity, transport.DefaultConfig())
	if err != nil {
		return fail(fmt.Errorf("migration address %s: %w", cfg.QUICAddr, err))
	}
	undo = append(undo, func() { qln.Close() })
	cl, err := d.startCluster(ctx, key)
	if err != nil {
		return fail(err)
	}
	d.cluster = cl
	mctx, stopMigrations := context.WithCancel(context.Background())
	go d.serveMigrations(mctx, qln)
	go d.settleHandovers(mctx)
	d.pruneOutcomes()
	srv := &http.Server{Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second, ConnContext: peerContext}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("api server", "error", err)
		}
	}()
	d.log.Info("migrated started", "node", cfg.Name, "gossip", cl.LocalAddr(), "quic", cfg.QUICAddr,
		"socket", cfg.Socket, "state_dir", cfg.StateDir, "encrypted", key != nil, "version", buildinfo.String())
	stop := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		stopMigrations()
		qln.Close()
		err := cl.Leave(3 * time.Second)
		os.Remove(cfg.Socket)
		unlock()
		return err
	}
	return d, stop, nil
}

func (d *Daemon) startCluster(ctx context.Context, key []byte) (*cluster.Cluster, error) {
	host, portStr, _ := net.SplitHostPort(d.cfg.Bind)
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("bind address %q: bad port", d.cfg.Bind)
	}
	if port == 0 {
		port = -1
	}
	return cluster.Start(ctx, cluster.Config{
		Name:          d.cfg.Name,
		BindAddr:      host,
		BindPort:      port,
		AdvertiseAddr: d.cfg.Advertise,
		Join:          d.cfg.Join,
		Key:           key,
		Meta:          d.meta,
		Logger:        d.log,
	})
}

// meta is what this node advertises.
func (d *Daemon) meta() cluster.Meta {
	s := readSysInfo()
	return cluster.Meta{
		QUICAddr:     d.cfg.QUICAddr,
		Load1:        s.load1,
		MemAvailable: s.memAvailable,
		Procs:        int(d.procs.Load()),
		Version:      buildinfo.String(),
	}
}

// guessOutboundIP returns the address the kernel would use to reach the
// outside, or 127.0.0.1 when there is no route (it sends nothing).
func guessOutboundIP() string {
	c, err := net.Dial("udp", "198.18.255.254:9")
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

// stateDirPerm is the mode of the state directory: it will hold images.
const stateDirPerm = 0o700

func ensureDir(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}

// loadOrCreateIdentity loads the node's TLS identity from dir. A node
// without one (a fresh one-node cluster) makes its own CA: it can then
// migrate to nodes only once it shares a CA with them (migrate lab does
// that; see the README).
func loadOrCreateIdentity(dir, name string) (*transport.Identity, error) {
	id, err := transport.LoadIdentity(dir)
	if err == nil {
		return id, nil
	}
	if _, serr := os.Stat(dir); serr == nil {
		return nil, err // there, but broken: say so
	}
	caPEM, caKey, err := transport.NewCA(name + " CA")
	if err != nil {
		return nil, err
	}
	cert, key, err := transport.IssueNode(caPEM, caKey, name, nil)
	if err != nil {
		return nil, err
	}
	if err := transport.WriteIdentity(dir, caPEM, cert, key); err != nil {
		return nil, err
	}
	return transport.LoadIdentity(dir)
}
