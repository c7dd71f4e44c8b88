package workload

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	readyTimeout = 10 * time.Second
	pollInterval = 10 * time.Millisecond
	// resendInterval: workloads that wait in pause() can miss a signal
	// that lands between their flag check and the call, so Verify repeats
	// SIGUSR2 (which is idempotent) until a verdict appears.
	resendInterval = 500 * time.Millisecond
	// tokenEnv is set in every workload's environment to name/nonce, so
	// that a PID can be told apart from an unrelated process that reused
	// it before a signal is sent.
	tokenEnv = "MIGRATE_WORKLOAD"
)

// Proc is a started workload.
//
// The caller owns the process. Nothing waits for the original child in the
// background: a waiter in the test process would take the ptrace stops of
// an in-process tracer. Call Wait once the original process has exited (for
// instance killed after a checkpoint), so that its PID is free for the
// restore. A restored process with the same PID is not a child of the test:
// stop it with Kill, and remove Dir when done.
type Proc struct {
	Name    string
	PID     int
	Cmd     *exec.Cmd // do not call Cmd.Wait: use Wait
	Exe     string    // the workload binary
	Dir     string    // a new temporary directory holding OutPath
	OutPath string    // stdout and stderr, opened O_APPEND
	token   string

	waitOnce sync.Once
	waitErr  error
}

// Start builds and starts the named workload with args, its output going
// to a file, and returns once the file holds a READY line. The child is its
// own session and process group leader (setsid), as a restorable process
// tree wants. ctx bounds only the wait for READY (at most 10s); it does not
// kill the process later. A workload that prints UNSUPPORTED yields an
// error matching ErrUnsupported.
func Start(ctx context.Context, name string, args ...string) (*Proc, error) {
	exe, err := Build(name)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "migrate-wl-"+name+"-")
	if err != nil {
		return nil, err
	}
	p := &Proc{Name: name, Exe: exe, Dir: dir, OutPath: filepath.Join(dir, "output"),
		token: name + "/" + nonce()}
	f, err := os.OpenFile(p.OutPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.Cmd = exec.Command(exe, args...)
	p.Cmd.Stdout, p.Cmd.Stderr = f, f
	p.Cmd.Env = append(os.Environ(), tokenEnv+"="+p.token)
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = p.Cmd.Start()
	f.Close()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting workload %s: %w", name, err)
	}
	p.PID = p.Cmd.Process.Pid
	if err := p.waitReady(ctx); err != nil {
		_ = p.Kill()
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

func (p *Proc) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		out := p.Output()
		if hasLinePrefix(out, "READY") {
			return nil
		}
		if p.exitedChild() {
			err := p.Wait()
			out = p.Output()
			if hasLinePrefix(out, "UNSUPPORTED:") {
				return fmt.Errorf("%w: workload %s: %s", ErrUnsupported, p.Name, strings.TrimSpace(out))
			}
			return fmt.Errorf("workload %s exited before READY (%v), output:\n%s", p.Name, err, out)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workload %s: no READY within %v (%w), output:\n%s", p.Name, readyTimeout, ctx.Err(), out)
		case <-tick.C:
		}
	}
}

// Output returns the workload's output so far.
func (p *Proc) Output() string {
	b, err := os.ReadFile(p.OutPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p.OutPath, err)
	}
	return string(b)
}

// exitedChild tells, without reaping it, whether the original child has
// exited. Only for use before anyone may trace the child.
func (p *Proc) exitedChild() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, p.PID, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err == nil && info.Signo == int32(unix.SIGCHLD)
}

// Wait waits for the original child to exit and reaps it, once; later calls
// return the first result. It returns at once with an error when the child
// was already reaped by someone else (an in-process tracer). It never waits
// for a restored process. Cmd.ProcessState holds the exit status after it.
func (p *Proc) Wait() error {
	p.waitOnce.Do(func() { p.waitErr = p.Cmd.Wait() })
	return p.waitErr
}

// Signal sends sig to the PID, which may be the original or a restored
// process, after checking that the PID still belongs to this workload.
func (p *Proc) Signal(sig syscall.Signal) error {
	if err := p.identify(); err != nil {
		return err
	}
	if err := unix.Kill(p.PID, sig); err != nil {
		return fmt.Errorf("signal %v to workload %s pid %d: %w", sig, p.Name, p.PID, err)
	}
	return nil
}

// Kill sends SIGKILL to the PID if it still belongs to this workload (the
// original or a restored process), then reaps the original child if it is
// still ours (Wait). Do not call it while the original child is traced by
// this process.
func (p *Proc) Kill() error {
	if err := p.Signal(unix.SIGKILL); err != nil && !errors.Is(err, errGone) {
		return err
	}
	_ = p.Wait() // its error only tells how the process ended
	return nil
}

// Verify sends SIGUSR2 and waits up to timeout for the verdict line. It
// returns nil on PASS and an error matching ErrFailed, naming every FAIL
// line, on FAIL; other errors mean no verdict arrived.
func (p *Proc) Verify(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var lastSend time.Time
	for {
		out := p.Output()
		if done, err := verdict(out); done {
			return p.settle(err)
		}
		if time.Since(lastSend) >= resendInterval {
			lastSend = time.Now()
			if err := p.Signal(unix.SIGUSR2); err != nil {
				if done, verr := verdict(p.Output()); done { // printed it and exited meanwhile
					return verr
				}
				return fmt.Errorf("verify: %w, output:\n%s", err, out)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workload %s pid %d: no PASS/FAIL within %v (%w), output:\n%s",
				p.Name, p.PID, timeout, ctx.Err(), out)
		case <-tick.C:
		}
	}
}

// settle gives a failing workload up to a second to print its remaining
// FAIL lines and exit, so that the error names them all.
func (p *Proc) settle(err error) error {
	if err == nil {
		return nil
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(pollInterval) {
		if p.identify() != nil {
			break
		}
	}
	if _, err2 := verdict(p.Output()); err2 != nil {
		err = err2
	}
	return err
}

var errGone = errors.New("process is gone")

// identify checks that p.PID is a live process of this workload: its
// environment holds our token or, failing that (a restore that lost the
// environment), its executable is the workload binary.
func (p *Proc) identify() error {
	proc := "/proc/" + strconv.Itoa(p.PID)
	env, _ := os.ReadFile(proc + "/environ")
	if bytes.Contains(env, []byte("\x00"+tokenEnv+"="+p.token+"\x00")) ||
		bytes.HasPrefix(env, []byte(tokenEnv+"="+p.token+"\x00")) {
		return nil
	}
	exe, err := os.Readlink(proc + "/exe")
	if err == nil && exe == p.Exe {
		return nil
	}
	if _, err := os.Stat(proc); errors.Is(err, os.ErrNotExist) || exe == "" {
		return fmt.Errorf("workload %s pid %d: %w", p.Name, p.PID, errGone)
	}
	return fmt.Errorf("workload %s: pid %d is now %s, not the workload", p.Name, p.PID, exe)
}

// verdict finds the first PASS or FAIL line; with FAIL, the error names
// every FAIL line.
func verdict(out string) (done bool, err error) {
	var fails []string
	decided, pass := false, false
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "PASS") && !decided:
			decided, pass = true, true
		case strings.HasPrefix(line, "FAIL"):
			if !decided {
				decided = true
			}
			fails = append(fails, strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, "FAIL"), ":")))
		}
	}
	if !decided || pass {
		return decided, nil
	}
	return true, fmt.Errorf("%w: %s", ErrFailed, strings.Join(fails, "; "))
}

func hasLinePrefix(out, prefix string) bool {
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

func nonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
