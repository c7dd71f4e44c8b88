package lab

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

func listenCtl(path string) (*net.UnixListener, error) {
	_ = os.Remove(path)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// spawnServer starts commands inside the host for control clients.
type spawnServer struct {
	r   *reaper
	log *slog.Logger
}

func (s *spawnServer) serve(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go s.handle(c)
	}
}

func (s *spawnServer) handle(c *net.UnixConn) {
	defer c.Close()
	var req request
	files, err := recvMsg(c, &req)
	if err != nil {
		_ = sendMsg(c, reply{Error: err.Error()})
		return
	}
	defer closeAll(files)
	switch req.Op {
	case "spawn":
		s.spawn(c, req, files)
	case "kill":
		if err := unix.Kill(req.PID, unix.Signal(req.Signal)); err != nil {
			_ = sendMsg(c, reply{Error: fmt.Sprintf("kill %d: %v", req.PID, err)})
			return
		}
		_ = sendMsg(c, reply{})
	default:
		_ = sendMsg(c, reply{Error: fmt.Sprintf("unknown operation %q", req.Op)})
	}
}

func (s *spawnServer) spawn(c *net.UnixConn, req request, files []*os.File) {
	if len(req.Argv) == 0 || len(files) != 3 {
		_ = sendMsg(c, reply{Error: "spawn needs a command and three stdio descriptors"})
		return
	}
	path, err := lookPath(req.Argv[0], req.Dir, req.Env)
	if err != nil {
		_ = sendMsg(c, reply{Error: err.Error()})
		return
	}
	pid, done, err := s.r.start(func() (int, error) {
		p, err := os.StartProcess(path, req.Argv, &os.ProcAttr{
			Dir: req.Dir, Env: req.Env, Files: files,
			Sys: &syscall.SysProcAttr{Setsid: true},
		})
		if err != nil {
			return 0, err
		}
		pid := p.Pid
		_ = p.Release()
		return pid, nil
	})
	if err != nil {
		_ = sendMsg(c, reply{Error: err.Error()})
		return
	}
	closeAll(files)
	s.log.Info("started", "pid", pid, "argv", req.Argv, "detach", req.Detach)
	if err := sendMsg(c, reply{PID: pid}); err != nil || req.Detach {
		return
	}
	var exited atomic.Bool
	go s.forwardSignals(c, pid, &exited)
	ws := <-done
	exited.Store(true)
	r := reply{Exited: true, Code: ws.ExitStatus()}
	if ws.Signaled() {
		r.Signal = int(ws.Signal())
	}
	_ = sendMsg(c, r)
}

// forwardSignals passes the client's signals to the command, and hangs it
// up when the client goes away before it ends.
func (s *spawnServer) forwardSignals(c *net.UnixConn, pid int, exited *atomic.Bool) {
	for {
		var m signalMsg
		if _, err := recvMsg(c, &m); err != nil {
			if errors.Is(err, errEOF) && !exited.Load() {
				_ = unix.Kill(pid, unix.SIGHUP)
			}
			return
		}
		if m.Signal > 0 && m.Signal < 65 && !exited.Load() {
			_ = unix.Kill(pid, unix.Signal(m.Signal))
		}
	}
}
