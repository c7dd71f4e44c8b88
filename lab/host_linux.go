package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/transport"
	"golang.org/x/sys/unix"
)

// hostFlags are the namespaces of a host.
const hostFlags = unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC

func (l *Lab) addHost(ctx context.Context, k int) error {
	name := HostName(k)
	dir := l.hostDir(name)
	// run is the host's /run/migrated, where the API socket lives: every
	// user of the host reaches it (the daemon authorizes each caller), as
	// on a real machine. Outside the host the host's own directory guards it.
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700}, {filepath.Join(dir, "run"), 0o755}, {filepath.Join(dir, "state"), 0o700}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return err
		}
	}
	p, commit, err := l.startInit([]string{"--role", "host", "--host", name, "--index", strconv.Itoa(k), "--lab-dir", l.cfg.dir(), "--dir", dir}, hostFlags, filepath.Join(dir, "init.log"))
	if p.PID > 0 {
		l.st.Host = append(l.st.Host, hostState{Name: name, Index: k, Init: p})
		if serr := l.save(); serr != nil && err == nil {
			err = serr
		}
		commit()
	}
	if err != nil {
		return err
	}
	if err := l.connect(k, p.PID); err != nil {
		return err
	}
	if err := l.issueIdentity(name, HostAddr(k), filepath.Join(dir, "state", "tls")); err != nil {
		return err
	}
	h := &Host{lab: l, Name: name, Index: k, Addr: HostAddr(k)}
	return h.StartDaemon(ctx)
}

func (h *Host) dir() string       { return h.lab.hostDir(h.Name) }
func (h *Host) state() *hostState { return &h.lab.st.Host[h.Index-1] }

// Socket is the path of the host's daemon API socket, as seen from outside
// the host (inside it is api.DefaultSocket).
func (h *Host) Socket() string {
	return filepath.Join(h.dir(), "run", filepath.Base(api.DefaultSocket))
}

// Client returns an API client for the host's daemon.
func (h *Host) Client() *api.Client { return api.NewClient(h.Socket()) }

// GossipAddr is the host's gossip address.
func (h *Host) GossipAddr() string {
	return net.JoinHostPort(h.Addr.String(), strconv.Itoa(GossipPort))
}

// DaemonLog is the path of the host's migrated log.
func (h *Host) DaemonLog() string { return filepath.Join(h.dir(), "migrated.log") }

// InitPID is the PID (in the caller's namespace) of the host's init.
func (h *Host) InitPID() int { return h.state().Init.PID }

// DaemonPID is the PID of the host's migrated inside the host.
func (h *Host) DaemonPID() int { return h.state().DaemonPID }

// StartDaemon starts the host's migrated, joined to the other hosts, and
// waits until its API answers. extra are more flags for this start only.
func (h *Host) StartDaemon(ctx context.Context, extra ...string) error {
	var join []string
	for _, o := range h.lab.Hosts() {
		if o.Name != h.Name {
			join = append(join, o.GossipAddr())
		}
	}
	args := []string{filepath.Base(h.lab.cfg.MigratedBin),
		"--name", h.Name,
		"--bind", h.GossipAddr(),
		"--quic-addr", net.JoinHostPort(h.Addr.String(), strconv.Itoa(QUICPort)),
		"--key-file", h.lab.keyPath(),
		"--state-dir", filepath.Join(h.dir(), "state"),
		"--socket", h.Socket(),
	}
	if len(join) > 0 {
		args = append(args, "--join", strings.Join(join, ","))
	}
	args = append(args, h.lab.cfg.DaemonArgs...)
	args = append(args, extra...)
	logf, err := os.OpenFile(h.DaemonLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	args[0] = h.lab.cfg.MigratedBin
	res, err := h.Exec(ctx, args, ExecOptions{Stdout: logf, Stderr: logf, Detach: true, Dir: "/"})
	if err != nil {
		return fmt.Errorf("start migrated: %w", err)
	}
	h.state().DaemonPID = res.PID
	if err := h.lab.save(); err != nil {
		return err
	}
	return h.waitDaemon(ctx, 15*time.Second)
}

func (h *Host) waitDaemon(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := h.Client().Version(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if h.Signal(h.DaemonPID(), 0) != nil {
			return fmt.Errorf("migrated exited: %s", tail(h.DaemonLog()))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("migrated does not answer: %w; log: %s", err, tail(h.DaemonLog()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// KillDaemon sends sig to the host's migrated.
func (h *Host) KillDaemon(sig unix.Signal) error {
	return h.Signal(h.DaemonPID(), sig)
}

// WaitGone waits until pid no longer exists in the host, checking every
// poll for up to timeout, and reports whether it is gone. A process that
// has exited is a zombie, still there, until the host's init reaps it.
func (h *Host) WaitGone(pid int, timeout, poll time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for h.Signal(pid, 0) == nil {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(poll)
	}
	return true
}

// Signal sends sig to a process of the host, by its PID inside the host.
func (h *Host) Signal(pid int, sig unix.Signal) error {
	if pid <= 0 {
		return fmt.Errorf("host %s: no process %d", h.Name, pid)
	}
	c, err := dialCtl(filepath.Join(h.dir(), "ctl.sock"))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := sendMsg(c, request{Op: "kill", PID: pid, Signal: int(sig)}); err != nil {
		return err
	}
	var r reply
	if _, err := recvMsg(c, &r); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	if r.Error != "" {
		return errors.New(r.Error)
	}
	return nil
}

// waitCluster waits until every host's daemon sees every host alive.
func (l *Lab) waitCluster(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, h := range l.Hosts() {
		for {
			missing, err := h.missingPeers(ctx)
			if err == nil && len(missing) == 0 {
				break
			}
			if time.Now().After(deadline) {
				if err == nil {
					err = fmt.Errorf("does not see %s alive", strings.Join(missing, ", "))
				}
				return fmt.Errorf("cluster did not form in %v: %s %w", d, h.Name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func (h *Host) missingPeers(ctx context.Context) ([]string, error) {
	ns, err := h.Client().Nodes(ctx)
	if err != nil {
		return nil, err
	}
	alive := make(map[string]bool)
	for _, n := range ns {
		alive[n.Name] = n.State == "alive"
	}
	var missing []string
	for _, o := range h.lab.Hosts() {
		if !alive[o.Name] {
			missing = append(missing, o.Name)
		}
	}
	return missing, nil
}

// issueIdentity gives a host its migration certificate, signed by the
// lab's CA.
func (l *Lab) issueIdentity(name string, addr netip.Addr, dir string) error {
	caPEM, err := os.ReadFile(l.caPath())
	if err != nil {
		return err
	}
	caKey, err := os.ReadFile(l.caKeyPath())
	if err != nil {
		return err
	}
	cert, key, err := transport.IssueNode(caPEM, caKey, name, []net.IP{addr.AsSlice()})
	if err != nil {
		return err
	}
	return transport.WriteIdentity(dir, caPEM, cert, key)
}
