package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// Defaults.
const (
	DefaultName   = "lab"
	DefaultRunDir = "/run/migrate-lab"
	DefaultHosts  = 2
	MaxHosts      = 32
	GossipPort    = 7946
	QUICPort      = 7947
	// PIDRange spaces the PIDs of the hosts: host K's processes get PIDs
	// from (K-1)*PIDRange up (h1's are small).
	PIDRange = 100000
)

// Config describes a lab. The zero value is the default two-host lab run
// with the current executable (which must be the migrate command or call
// InitMain for "lab-init") and the migrated next to it or on PATH.
type Config struct {
	Name        string // lab name, [a-z0-9-], at most 12 characters
	Hosts       int    // number of hosts
	RunDir      string // parent of the lab's directory
	MigrateBin  string // binary whose "lab-init" subcommand runs InitMain
	MigratedBin string // the daemon each host runs
	// DaemonArgs are extra flags for every host's migrated.
	DaemonArgs []string
	// Ready is how long Up waits for the cluster to form.
	Ready time.Duration
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,11}$`)

func (c *Config) fill() error {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if !nameRE.MatchString(c.Name) {
		return fmt.Errorf("lab name %q: want 1-12 characters of a-z, 0-9 and -", c.Name)
	}
	if c.RunDir == "" {
		c.RunDir = DefaultRunDir
	}
	if c.Hosts == 0 {
		c.Hosts = DefaultHosts
	}
	if c.Hosts < 1 || c.Hosts > MaxHosts {
		return fmt.Errorf("lab %s: %d hosts: want 1 to %d", c.Name, c.Hosts, MaxHosts)
	}
	if c.Ready == 0 {
		c.Ready = 30 * time.Second
	}
	return nil
}

// binaries resolves the two executables a lab needs.
func (c *Config) binaries() error {
	if c.MigrateBin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("lab: find own executable: %w", err)
		}
		c.MigrateBin = exe
	}
	if c.MigratedBin == "" {
		sib := filepath.Join(filepath.Dir(c.MigrateBin), "migrated")
		if _, err := os.Stat(sib); err == nil {
			c.MigratedBin = sib
		} else if p, err := exec.LookPath("migrated"); err == nil {
			c.MigratedBin = p
		} else {
			return errors.New("lab: migrated not found next to " + c.MigrateBin + " nor on PATH")
		}
	}
	for _, p := range []string{c.MigrateBin, c.MigratedBin} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	return nil
}

func (c *Config) dir() string { return filepath.Join(c.RunDir, c.Name) }

// HostName is the name of the k-th host (from 1).
func HostName(k int) string { return "h" + strconv.Itoa(k) }

// HostAddr is the address of the k-th host (from 1).
func HostAddr(k int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 0, byte(k)}) }

// Subnet is the lab network.
var Subnet = netip.MustParsePrefix("198.18.0.0/24")
