package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ExecOptions control how a command runs in a host.
type ExecOptions struct {
	Stdin, Stdout, Stderr *os.File // nil: /dev/null
	Env                   []string // nil: this process's environment
	Dir                   string   // "": this process's working directory
	Detach                bool     // return once started; the command outlives the call
	Signals               <-chan os.Signal
}

// ExecResult is how a command ended (or, detached, that it started).
type ExecResult struct {
	PID      int // in the host's PID namespace
	ExitCode int // 128+signal when killed by a signal
	Signal   int
}

// Exec runs argv in every namespace of the host. It returns when the
// command exits (or, with Detach, once it started). Cancelling ctx kills
// the command.
func (h *Host) Exec(ctx context.Context, argv []string, opt ExecOptions) (ExecResult, error) {
	if len(argv) == 0 {
		return ExecResult{}, errors.New("lab exec: no command")
	}
	cleanup, err := opt.fill()
	if err != nil {
		return ExecResult{}, err
	}
	defer cleanup()
	c, err := dialCtl(filepath.Join(h.dir(), "ctl.sock"))
	if err != nil {
		return ExecResult{}, fmt.Errorf("host %s: %w", h.Name, err)
	}
	defer c.Close()
	req := request{Op: "spawn", Argv: argv, Env: opt.Env, Dir: opt.Dir, Detach: opt.Detach}
	if err := sendMsg(c, req, opt.Stdin, opt.Stdout, opt.Stderr); err != nil {
		return ExecResult{}, fmt.Errorf("host %s: %w", h.Name, err)
	}
	type msg struct {
		r   reply
		err error
	}
	replies := make(chan msg, 3)
	go func() {
		for {
			var r reply
			if _, err := recvMsg(c, &r); err != nil {
				replies <- msg{err: err}
				return
			}
			replies <- msg{r: r}
		}
	}()
	var res ExecResult
	for {
		select {
		case m := <-replies:
			if m.err != nil {
				return res, fmt.Errorf("host %s: lost the command: %w", h.Name, m.err)
			}
			r := m.r
			if r.Error != "" {
				return res, fmt.Errorf("host %s: %s", h.Name, r.Error)
			}
			if !r.Exited {
				res.PID = r.PID
				if opt.Detach {
					return res, nil
				}
				continue
			}
			res.ExitCode, res.Signal = r.Code, r.Signal
			if r.Signal != 0 {
				res.ExitCode = 128 + r.Signal
			}
			return res, nil
		case s := <-opt.Signals:
			if sig, ok := s.(syscall.Signal); ok {
				_ = sendMsg(c, signalMsg{Signal: int(sig)})
			}
		case <-ctx.Done():
			_ = sendMsg(c, signalMsg{Signal: int(syscall.SIGKILL)})
			ctx = context.Background() // wait for the exit status
		}
	}
}

// fill sets defaults; the returned function closes what it opened.
func (o *ExecOptions) fill() (func(), error) {
	if o.Env == nil {
		o.Env = os.Environ()
	}
	if o.Dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		o.Dir = wd
	}
	var null *os.File
	cleanup := func() {
		if null != nil {
			null.Close()
		}
	}
	for _, f := range []**os.File{&o.Stdin, &o.Stdout, &o.Stderr} {
		if *f == nil {
			if null == nil {
				var err error
				if null, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
					return nil, err
				}
			}
			*f = null
		}
	}
	return cleanup, nil
}
