package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The control protocol between a client and a host's init. Every message is
// one SOCK_SEQPACKET packet holding one JSON object; a spawn request carries
// the three stdio descriptors as SCM_RIGHTS.
//
//	client -> init: request{Op: "spawn"} + fds  -> reply{PID} ... reply{Exited}
//	client -> init: signalMsg (while a spawned command runs)
//	client -> init: request{Op: "kill", PID, Signal} -> reply{}
//
// A client that disconnects before its command ends hangs it up (SIGHUP),
// like a closed terminal; detached commands outlive the connection.

// maxPacket bounds a control message (argv and environment included).
const maxPacket = 256 << 10

type request struct {
	Op     string   `json:"op"`
	Argv   []string `json:"argv,omitempty"`
	Env    []string `json:"env,omitempty"`
	Dir    string   `json:"dir,omitempty"`
	Detach bool     `json:"detach,omitempty"`
	PID    int      `json:"pid,omitempty"`
	Signal int      `json:"signal,omitempty"`
}

type reply struct {
	PID    int    `json:"pid,omitempty"`
	Exited bool   `json:"exited,omitempty"`
	Code   int    `json:"code,omitempty"`
	Signal int    `json:"signal,omitempty"`
	Error  string `json:"error,omitempty"`
}

type signalMsg struct {
	Signal int `json:"signal"`
}

func sendMsg(c *net.UnixConn, v any, files ...*os.File) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > maxPacket {
		return fmt.Errorf("control message is %d bytes, limit %d", len(b), maxPacket)
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	_, _, err = c.WriteMsgUnix(b, oob, nil)
	return err
}

// recvMsg reads one packet into v and returns the descriptors it carried.
func recvMsg(c *net.UnixConn, v any) ([]*os.File, error) {
	buf := make([]byte, maxPacket)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errEOF
	}
	files, ferr := parseRights(oob[:oobn])
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		closeAll(files)
		return nil, errors.New("control message truncated")
	}
	if ferr != nil {
		return nil, ferr
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		closeAll(files)
		return nil, fmt.Errorf("control message: %w", err)
	}
	return files, nil
}

var errEOF = errors.New("connection closed")

func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message rights: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), fmt.Sprintf("fd%d", fd)))
		}
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

func dialCtl(path string) (*net.UnixConn, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return nil, fmt.Errorf("host control socket %s: %v", path, errno)
		}
		return nil, fmt.Errorf("host control socket %s: %w", path, err)
	}
	return c, nil
}
