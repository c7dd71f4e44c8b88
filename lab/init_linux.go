package lab

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Descriptors a lab init gets from the lab manager: it reports "ok" or an
// error on readyFD, and gets "commit" on commitFD once the manager has
// recorded it in the lab's state. An init whose manager dies before that
// exits, so that a crashed "lab up" leaves nothing nobody knows about.
const (
	readyFD  = 3
	commitFD = 4
)

// InitMain runs a lab process: `lab-init --role host|switch ...`. It is the
// body of the hidden "migrate lab-init" command and never returns normally.
func InitMain(args []string) error {
	fs := flag.NewFlagSet("lab-init", flag.ContinueOnError)
	role := fs.String("role", "", "host or switch")
	host := fs.String("host", "", "host name")
	dir := fs.String("dir", "", "host directory")
	labDir := fs.String("lab-dir", "", "lab directory")
	index := fs.Int("index", 0, "host number K (its PIDs start at K*PIDRange)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Nothing else inherited goes on to the commands the init starts.
	_ = unix.CloseRange(commitFD+1, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	go awaitCommit(os.NewFile(commitFD, "commit"))
	ready := os.NewFile(readyFD, "ready")
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("role", *role, "host", *host)
	var err error
	switch *role {
	case "switch":
		err = runSwitch(ready)
	case "host":
		err = runHost(ready, *host, *index, *labDir, *dir, log)
	default:
		err = fmt.Errorf("unknown role %q", *role)
	}
	if err != nil && ready != nil {
		fmt.Fprintf(ready, "%v\n", err)
	}
	return err
}

// awaitCommit ends the init unless the manager commits it.
func awaitCommit(f *os.File) {
	b, _ := io.ReadAll(io.LimitReader(f, 64))
	f.Close()
	if strings.TrimSpace(string(b)) != "commit" {
		os.Exit(3)
	}
}

func runSwitch(ready *os.File) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGTERM, unix.SIGINT)
	fmt.Fprintln(ready, "ok")
	ready.Close()
	<-sig
	return nil
}

func runHost(ready *os.File, host string, index int, labDir, dir string, log *slog.Logger) error {
	if os.Getpid() != 1 {
		return errors.New("host init must be PID 1 of a new PID namespace")
	}
	if err := setupHostMounts(labDir, dir); err != nil {
		return err
	}
	// Each host hands out PIDs from its own range, as separate machines
	// in use for a while effectively do: a process that moves in keeps
	// its PID, which must not be taken by the host's own daemon.
	if index > 1 {
		last := []byte(strconv.Itoa((index-1)*PIDRange - 1))
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", last, 0); err != nil {
			return fmt.Errorf("set the host's PID range: %w", err)
		}
	}
	if err := unix.Sethostname([]byte(host)); err != nil {
		return fmt.Errorf("sethostname %s: %w", host, err)
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	r := newReaper()
	sigchld := make(chan os.Signal, 16)
	signal.Notify(sigchld, unix.SIGCHLD)
	go r.loop(sigchld)
	ln, err := listenCtl(filepath.Join(dir, "ctl.sock"))
	if err != nil {
		return err
	}
	srv := &spawnServer{r: r, log: log}
	go srv.serve(ln)
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM, unix.SIGINT)
	fmt.Fprintln(ready, "ok")
	ready.Close()
	<-term
	log.Info("host shutting down")
	ln.Close()
	// Ask everything in the host to stop, give it a moment, then return:
	// when PID 1 exits the kernel kills what is left.
	_ = unix.Kill(-1, unix.SIGTERM)
	r.waitAll(2 * time.Second)
	return nil
}

// setupHostMounts gives the host its own /proc, /sys and /run, all private
// to the host's mount namespace. The lab's directory stays visible at the
// same path, and the host's run directory is /run/migrated, where the
// daemon and the CLI look by default.
func setupHostMounts(labDir, dir string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	for _, m := range []struct{ fstype, target string }{{"proc", "/proc"}, {"sysfs", "/sys"}} {
		if err := unix.Mount(m.fstype, m.target, m.fstype, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount %s: %w", m.target, err)
		}
	}
	labFD, err := unix.Open(labDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", labDir, err)
	}
	defer unix.Close(labFD)
	if err := unix.Mount("tmpfs", "/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
		return fmt.Errorf("mount /run: %w", err)
	}
	if err := bindDir(fmt.Sprintf("/proc/self/fd/%d", labFD), labDir); err != nil {
		return err
	}
	return bindDir(filepath.Join(dir, "run"), "/run/migrated")
}

// bindDir bind-mounts src on dst, creating dst (which is on the host's own
// tmpfs or already exists).
func bindDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("bind %s: %w", dst, err)
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", src, dst, err)
	}
	return nil
}

func loopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// reaper collects every child and orphan of the host and hands exit
// statuses to whoever started the process.
type reaper struct {
	mu      sync.Mutex
	waiting map[int]chan unix.WaitStatus
	anyExit chan struct{}
}

func newReaper() *reaper {
	return &reaper{waiting: make(map[int]chan unix.WaitStatus), anyExit: make(chan struct{}, 1)}
}

// start runs fn (which starts a process) and registers its PID before any
// exit of it can be dispatched.
func (r *reaper) start(fn func() (int, error)) (int, <-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := fn()
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan unix.WaitStatus, 1)
	r.waiting[pid] = ch
	return pid, ch, nil
}

func (r *reaper) loop(sig <-chan os.Signal) {
	for range sig {
		r.reapAll()
	}
}

func (r *reaper) reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		r.mu.Lock()
		if ch, ok := r.waiting[pid]; ok {
			ch <- ws
			delete(r.waiting, pid)
		}
		r.mu.Unlock()
		select {
		case r.anyExit <- struct{}{}:
		default:
		}
	}
}

// waitAll waits until the host has no children left, or the timeout.
func (r *reaper) waitAll(timeout time.Duration) {
	deadline := time.After(timeout)
	for {
		r.reapAll()
		if _, err := unix.Wait4(-1, nil, unix.WNOHANG, nil); err == unix.ECHILD {
			return
		}
		select {
		case <-r.anyExit:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return
		}
	}
}

// lookPath finds name the way a shell would, with the caller's PATH and
// working directory.
func lookPath(name, dir string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found", name)
}
