package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/migrate-dev/migrate/api"
)

func testConfig(t *testing.T) Config {
	dir := t.TempDir()
	return Config{
		Name:     "n1",
		StateDir: filepath.Join(dir, "state"),
		Socket:   filepath.Join(dir, "run", "migrated.sock"),
		Bind:     "127.0.0.1:0",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func TestStartServeStop(t *testing.T) {
	cfg := testConfig(t)
	d, stop, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(cfg.Socket)
	v, err := c.Version(context.Background())
	if err != nil || v.Node != "n1" {
		t.Fatalf("version: %+v, %v", v, err)
	}
	ns, err := c.Nodes(context.Background())
	if err != nil || len(ns) != 1 || ns[0].Name != "n1" || ns[0].State != "alive" || !ns[0].Self {
		t.Fatalf("nodes: %+v, %v", ns, err)
	}
	if ns[0].MemAvailable == 0 || ns[0].QUICAddr == "" || ns[0].Version == "" {
		t.Errorf("node meta missing: %+v", ns[0])
	}
	// A second daemon on the same state dir is refused.
	cfg2 := cfg
	cfg2.Socket = filepath.Join(t.TempDir(), "other.sock")
	if _, _, err := Start(context.Background(), cfg2); err == nil || !strings.Contains(err.Error(), "in use by another migrated") {
		t.Errorf("second daemon on one state dir: %v", err)
	}
	_ = d
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.Socket); !os.IsNotExist(err) {
		t.Errorf("socket left after stop: %v", err)
	}
}

// TestStartErrors: each bad input is one clear error naming the thing, and
// leaves nothing behind (the next start on the same paths works).
func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"missing key file", func(c *Config) { c.KeyFile = "/nonexistent/gossip.key" }, "/nonexistent/gossip.key"},
		{"bad key", func(c *Config) {
			p := filepath.Join(t.TempDir(), "k")
			os.WriteFile(p, []byte("c2hvcnQ="), 0o600)
			c.KeyFile = p
		}, "key is 5 bytes"},
		{"port in use", func(c *Config) { c.Bind = busy.Addr().String() }, busy.Addr().String() + ": address already in use"},
		{"wrong join", func(c *Config) { c.Join = []string{"127.0.0.1:1"} }, "join 127.0.0.1:1"},
		{"bad bind", func(c *Config) { c.Bind = "nohost" }, `bind address "nohost"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			tc.edit(&cfg)
			_, _, err := Start(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if _, err := os.Stat(cfg.Socket); !os.IsNotExist(err) {
				t.Errorf("socket left behind: %v", err)
			}
			good := testConfig(t)
			good.StateDir, good.Socket = cfg.StateDir, cfg.Socket
			_, stop, err := Start(context.Background(), good)
			if err != nil {
				t.Fatalf("start after failure: %v", err)
			}
			stop()
		})
	}
}
