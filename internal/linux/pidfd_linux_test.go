//go:build linux

package linux

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPidfdGetfdSelf(t *testing.T) {
	pidfd, err := PidfdOpen(os.Getpid(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	dup, err := PidfdGetfd(pidfd, int(w.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(dup, []byte("x")); err != nil {
		t.Fatal(err)
	}
	unix.Close(dup)
	buf := make([]byte, 1)
	if _, err := r.Read(buf); err != nil || buf[0] != 'x' {
		t.Fatalf("read %q, %v", buf, err)
	}
	if err := PidfdSendSignal(pidfd, 0); err != nil {
		t.Errorf("signal 0 to self: %v", err)
	}
	if _, err := PidfdGetfd(pidfd, 1<<20); !errors.Is(err, unix.EBADF) {
		t.Errorf("PidfdGetfd of a closed fd = %v, want EBADF", err)
	}
}

func TestPrctlMMMapSize(t *testing.T) {
	size, err := PrctlMMMapSize()
	if err != nil {
		t.Fatal(err)
	}
	if size != SizeofPrctlMMMap {
		t.Fatalf("kernel says sizeof(struct prctl_mm_map) = %d, we have %d", size, SizeofPrctlMMMap)
	}
}
