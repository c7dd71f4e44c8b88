package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/migrate-dev/migrate/cluster"
	"github.com/migrate-dev/migrate/transport"
)

// Lab is a set of hosts on this machine.
type Lab struct {
	cfg Config
	st  state
}

// Host is one host of a lab.
type Host struct {
	lab   *Lab
	Name  string
	Index int
	Addr  netip.Addr
}

// Up creates the lab, or returns it if it is already up with the same
// number of hosts. A lab left broken by a crash is cleaned up and made
// again. On failure nothing of the new lab is left.
func Up(ctx context.Context, cfg Config) (*Lab, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if err := cfg.binaries(); err != nil {
		return nil, err
	}
	unlock, err := lock(cfg)
	if err != nil {
		return nil, err
	}
	defer unlock()
	l := &Lab{cfg: cfg}
	if err := l.load(); err == nil {
		if l.healthy(ctx) == nil {
			if l.st.Hosts != cfg.Hosts {
				return nil, fmt.Errorf("lab %s is up with %d hosts, not %d: run lab down first", cfg.Name, l.st.Hosts, cfg.Hosts)
			}
			return l, nil
		}
		l.down()
	} else if !errors.Is(err, fs.ErrNotExist) {
		l.down()
	}
	l = &Lab{cfg: cfg, st: state{Name: cfg.Name, Hosts: cfg.Hosts}}
	if err := l.build(ctx); err != nil {
		l.down()
		return nil, fmt.Errorf("lab %s: %w", cfg.Name, err)
	}
	return l, nil
}

// Open returns the running lab described by cfg (Name and RunDir).
func Open(cfg Config) (*Lab, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	l := &Lab{cfg: cfg}
	if err := l.load(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("lab %s is not up (run: migrate lab up)", cfg.Name)
		}
		return nil, err
	}
	l.cfg.Hosts = l.st.Hosts
	return l, nil
}

// Down removes the lab named by cfg: it ends every process the lab
// started and removes its files. It succeeds when there is nothing to do.
func Down(cfg Config) error {
	if err := cfg.fill(); err != nil {
		return err
	}
	unlock, err := lock(cfg)
	if err != nil {
		return err
	}
	defer unlock()
	l := &Lab{cfg: cfg}
	if err := l.load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// A torn state file: still remove the directory below.
		l.st = state{}
	}
	return l.down()
}

// Down removes this lab.
func (l *Lab) Down() error { return Down(l.cfg) }

func (l *Lab) down() error {
	for i := len(l.st.Host) - 1; i >= 0; i-- {
		l.st.Host[i].Init.stop(3 * time.Second)
	}
	l.st.Switch.stop(time.Second)
	err := os.RemoveAll(l.cfg.dir())
	os.Remove(filepath.Join(l.cfg.RunDir, "."+l.cfg.Name+".lock"))
	os.Remove(l.cfg.RunDir) // only if empty
	if err != nil {
		return fmt.Errorf("lab %s: remove %s: %w", l.cfg.Name, l.cfg.dir(), err)
	}
	return nil
}

// Name is the lab's name.
func (l *Lab) Name() string { return l.cfg.Name }

// Hosts lists the lab's hosts in order.
func (l *Lab) Hosts() []*Host {
	var hs []*Host
	for _, h := range l.st.Host {
		hs = append(hs, &Host{lab: l, Name: h.Name, Index: h.Index, Addr: HostAddr(h.Index)})
	}
	return hs
}

// Host returns the host with the given name.
func (l *Lab) Host(name string) (*Host, error) {
	var names []string
	for _, h := range l.Hosts() {
		if h.Name == name {
			return h, nil
		}
		names = append(names, h.Name)
	}
	return nil, fmt.Errorf("lab %s has no host %q (hosts: %s)", l.cfg.Name, name, strings.Join(names, ", "))
}

func (l *Lab) build(ctx context.Context) error {
	if err := os.MkdirAll(l.cfg.dir(), 0o700); err != nil {
		return err
	}
	if err := l.save(); err != nil {
		return err
	}
	key, err := cluster.NewKey()
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.keyPath(), []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("write gossip key: %w", err)
	}
	caPEM, caKey, err := transport.NewCA("lab " + l.cfg.Name + " CA")
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.caPath(), caPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(l.caKeyPath(), caKey, 0o600); err != nil {
		return err
	}
	if err := l.startSwitch(); err != nil {
		return err
	}
	for k := 1; k <= l.cfg.Hosts; k++ {
		if err := l.addHost(ctx, k); err != nil {
			return fmt.Errorf("host %s: %w", HostName(k), err)
		}
	}
	return l.waitCluster(ctx, l.cfg.Ready)
}

func (l *Lab) caPath() string    { return filepath.Join(l.cfg.dir(), "ca.pem") }
func (l *Lab) caKeyPath() string { return filepath.Join(l.cfg.dir(), "ca-key.pem") }

func (l *Lab) keyPath() string { return filepath.Join(l.cfg.dir(), "gossip.key") }

func (l *Lab) hostDir(name string) string { return filepath.Join(l.cfg.dir(), name) }

// healthy checks that every process of the lab runs and every daemon
// answers.
func (l *Lab) healthy(ctx context.Context) error {
	if !l.st.Switch.alive() {
		return errors.New("switch is not running")
	}
	if len(l.st.Host) != l.st.Hosts {
		return errors.New("lab is incomplete")
	}
	for _, h := range l.Hosts() {
		if !l.st.Host[h.Index-1].Init.alive() {
			return fmt.Errorf("host %s is not running", h.Name)
		}
		if _, err := h.Client().Version(ctx); err != nil {
			return fmt.Errorf("host %s: %w", h.Name, err)
		}
	}
	return nil
}
