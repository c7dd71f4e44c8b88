package daemon

import (
	"context"
	"fmt"
	"net"

	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
)

type peerKey struct{}

// peerContext records the credentials of the process on the other end of
// an API connection (SO_PEERCRED).
func peerContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	_ = raw.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if cred == nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, *cred)
}

// authorize lets root act on any process and anyone else only on their
// own.
func authorize(ctx context.Context, pid int) error {
	cred, ok := ctx.Value(peerKey{}).(unix.Ucred)
	if !ok {
		return fmt.Errorf("caller unknown: refusing")
	}
	if cred.Uid == 0 {
		return nil
	}
	st, err := procfs.Status(pid)
	if err != nil {
		return fmt.Errorf("pid %d: no such process", pid)
	}
	if st.Uid[0] != cred.Uid || st.Uid[1] != cred.Uid {
		return fmt.Errorf("pid %d belongs to another user (uid %d): only root may migrate it", pid, st.Uid[0])
	}
	return nil
}
