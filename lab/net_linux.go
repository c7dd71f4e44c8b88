package lab

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const bridgeName = "br0"

// startInit starts a lab-init process in new namespaces and waits until it
// reports ready. The returned proc is valid (and must be recorded) even
// when err is not nil; once it is recorded, commit lets it live (until
// then, the init exits if this process dies).
func (l *Lab) startInit(args []string, flags uintptr, logPath string) (pr proc, commit func(), err error) {
	commit = func() {}
	cr, cw, err := os.Pipe()
	if err != nil {
		return proc{}, commit, err
	}
	defer cr.Close()
	commit = func() { cw.Write([]byte("commit\n")); cw.Close() }
	pr, err = l.spawnInit(args, flags, logPath, cr)
	if pr.PID == 0 {
		cw.Close()
	}
	return pr, commit, err
}

func (l *Lab) spawnInit(args []string, flags uintptr, logPath string, commitR *os.File) (proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return proc{}, err
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return proc{}, err
	}
	defer null.Close()
	rd, wr, err := os.Pipe()
	if err != nil {
		return proc{}, err
	}
	defer rd.Close()
	argv := append([]string{"migrate", "lab-init"}, args...)
	p, err := os.StartProcess(l.cfg.MigrateBin, argv, &os.ProcAttr{
		Files: []*os.File{null, logf, logf, wr, commitR},
		Sys:   &syscall.SysProcAttr{Cloneflags: flags, Setsid: true},
	})
	wr.Close()
	if err != nil {
		return proc{}, fmt.Errorf("start %s: %w", l.cfg.MigrateBin, err)
	}
	pr, ierr := identify(p.Pid)
	if ierr != nil {
		pr = proc{PID: p.Pid}
	}
	_ = p.Release()
	msg := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(rd, 4096))
		msg <- strings.TrimSpace(string(b))
	}()
	select {
	case m := <-msg:
		if m != "ok" {
			if m == "" {
				m = "exited before it was ready; log: " + tail(logPath)
			}
			return pr, fmt.Errorf("lab-init %s: %s", args[1], m)
		}
	case <-time.After(15 * time.Second):
		return pr, fmt.Errorf("lab-init %s: not ready after 15s; log: %s", args[1], tail(logPath))
	}
	return pr, nil
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	b = bytes.TrimSpace(b)
	lines := strings.Split(string(b), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}

func (l *Lab) startSwitch() error {
	p, commit, err := l.startInit([]string{"--role", "switch"}, unix.CLONE_NEWNET|unix.CLONE_NEWUTS,
		filepath.Join(l.cfg.dir(), "switch.log"))
	if p.PID > 0 {
		l.st.Switch = p
		if serr := l.save(); serr != nil && err == nil {
			err = serr
		}
		commit()
	}
	if err != nil {
		return err
	}
	return withNetns(p.PID, func(h *netlink.Handle) error {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeName}}
		if err := h.LinkAdd(br); err != nil {
			return fmt.Errorf("add bridge: %w", err)
		}
		if err := h.LinkSetUp(br); err != nil {
			return fmt.Errorf("set bridge up: %w", err)
		}
		return nil
	})
}

// withNetns runs fn with a netlink handle inside the network namespace of
// pid.
func withNetns(pid int, fn func(*netlink.Handle) error) error {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("network namespace of pid %d: %w", pid, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in namespace of pid %d: %w", pid, err)
	}
	defer h.Close()
	return fn(h)
}

// connect plugs host k into the switch: veth hK on the bridge, its peer
// eth0 in the host with 198.18.0.K/24.
func (l *Lab) connect(k int, initPID int) error {
	name, peer := HostName(k), HostName(k)+"-eth"
	err := withNetns(l.st.Switch.PID, func(h *netlink.Handle) error {
		br, err := h.LinkByName(bridgeName)
		if err != nil {
			return fmt.Errorf("find bridge: %w", err)
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MasterIndex: br.Attrs().Index}, PeerName: peer}
		if err := h.LinkAdd(veth); err != nil {
			return fmt.Errorf("add veth %s: %w", name, err)
		}
		p, err := h.LinkByName(peer)
		if err != nil {
			return fmt.Errorf("find veth peer %s: %w", peer, err)
		}
		if err := h.LinkSetNsPid(p, initPID); err != nil {
			return fmt.Errorf("move %s into host: %w", peer, err)
		}
		return h.LinkSetUp(veth)
	})
	if err != nil {
		return err
	}
	return withNetns(initPID, func(h *netlink.Handle) error {
		p, err := h.LinkByName(peer)
		if err != nil {
			return fmt.Errorf("find %s in host: %w", peer, err)
		}
		if err := h.LinkSetName(p, "eth0"); err != nil {
			return fmt.Errorf("rename %s to eth0: %w", peer, err)
		}
		addr := &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(HostAddr(k), Subnet.Bits()))}
		if err := h.AddrAdd(p, addr); err != nil {
			return fmt.Errorf("add address %s: %w", addr, err)
		}
		return h.LinkSetUp(p)
	})
}

// SetLink brings the host's cable up or down (on the switch side), to
// simulate a network cut.
func (h *Host) SetLink(up bool) error {
	return withNetns(h.lab.st.Switch.PID, func(nh *netlink.Handle) error {
		link, err := nh.LinkByName(h.Name)
		if err != nil {
			return fmt.Errorf("find veth %s: %w", h.Name, err)
		}
		if up {
			return nh.LinkSetUp(link)
		}
		return nh.LinkSetDown(link)
	})
}
