//go:build linux

package linux

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// maxVMChunk caps one iovec and one call, below the kernel's MAX_RW_COUNT.
const maxVMChunk = 1 << 30

// RemoteRange is a range of addresses in another process.
type RemoteRange struct {
	Addr uint64
	Len  uint64
}

type vmCall func(pid int, local []unix.Iovec, remote []unix.RemoteIovec, flags uint) (int, error)

// ProcessVMReadv copies the remote ranges of process pid, in order, into the
// local buffers, in order. Both sides must hold the same number of bytes.
// Any number of segments is allowed; they are sent IOV_MAX at a time, and
// partial transfers are continued until every byte moved. It returns the
// number of bytes copied; on error that is how far it got, and the error
// names the remote address where the copy stopped.
func ProcessVMReadv(pid int, local [][]byte, remote []RemoteRange) (int, error) {
	return processVM("process_vm_readv", unix.ProcessVMReadv, pid, local, remote)
}

// ProcessVMWritev copies the local buffers into the remote ranges of process
// pid, like ProcessVMReadv in the other direction.
func ProcessVMWritev(pid int, local [][]byte, remote []RemoteRange) (int, error) {
	return processVM("process_vm_writev", unix.ProcessVMWritev, pid, local, remote)
}

// ReadMem reads len(buf) bytes at addr in process pid.
func ReadMem(pid int, addr uint64, buf []byte) error {
	_, err := ProcessVMReadv(pid, [][]byte{buf}, []RemoteRange{{addr, uint64(len(buf))}})
	return err
}

// WriteMem writes buf at addr in process pid.
func WriteMem(pid int, addr uint64, buf []byte) error {
	_, err := ProcessVMWritev(pid, [][]byte{buf}, []RemoteRange{{addr, uint64(len(buf))}})
	return err
}

// cursor is a position in a list of segments: segment i, byte off.
type cursor struct {
	i   int
	off uint64
}

func processVM(name string, call vmCall, pid int, local [][]byte, remote []RemoteRange) (int, error) {
	var total, rtotal uint64
	for _, b := range local {
		total += uint64(len(b))
	}
	for _, r := range remote {
		rtotal += r.Len
	}
	if total != rtotal {
		return 0, fmt.Errorf("%s pid %d: local buffers hold %d bytes, remote ranges %d: %w",
			name, pid, total, rtotal, unix.EINVAL)
	}
	lv := make([]unix.Iovec, 0, min(len(local), IOV_MAX))
	rv := make([]unix.RemoteIovec, 0, min(len(remote), IOV_MAX))
	localLen := func(i int) uint64 { return uint64(len(local[i])) }
	remoteLen := func(i int) uint64 { return remote[i].Len }
	lc := advance(cursor{}, 0, len(local), localLen)
	rc := advance(cursor{}, 0, len(remote), remoteLen)
	var done uint64
	for done < total {
		lv = fillLocal(lv[:0], local, lc)
		rv = fillRemote(rv[:0], remote, rc)
		n, err := retryOnEINTR2(func() (int, error) { return call(pid, lv, rv, 0) })
		if err == nil && n <= 0 {
			err = unix.EFAULT // no progress: the first remote page is not accessible
		}
		if err != nil {
			return int(done), fmt.Errorf("%s pid %d at remote address %#x: %w",
				name, pid, remote[rc.i].Addr+rc.off, err)
		}
		done += uint64(n)
		lc = advance(lc, uint64(n), len(local), localLen)
		rc = advance(rc, uint64(n), len(remote), remoteLen)
	}
	return int(done), nil
}

// fillLocal appends iovecs for the local segments from c on, at most IOV_MAX
// of them and maxVMChunk bytes in all.
func fillLocal(v []unix.Iovec, segs [][]byte, c cursor) []unix.Iovec {
	budget := uint64(maxVMChunk)
	for i := c.i; i < len(segs) && len(v) < IOV_MAX && budget > 0; i++ {
		b := segs[i]
		if i == c.i {
			b = b[c.off:]
		}
		if len(b) == 0 {
			continue
		}
		n := min(uint64(len(b)), budget)
		iov := unix.Iovec{Base: &b[0]}
		iov.SetLen(int(n))
		v = append(v, iov)
		budget -= n
	}
	return v
}

// fillRemote is fillLocal for the remote ranges.
func fillRemote(v []unix.RemoteIovec, segs []RemoteRange, c cursor) []unix.RemoteIovec {
	budget := uint64(maxVMChunk)
	for i := c.i; i < len(segs) && len(v) < IOV_MAX && budget > 0; i++ {
		addr, l := segs[i].Addr, segs[i].Len
		if i == c.i {
			addr, l = addr+c.off, l-c.off
		}
		if l == 0 {
			continue
		}
		n := min(l, budget)
		v = append(v, unix.RemoteIovec{Base: uintptr(addr), Len: int(n)})
		budget -= n
	}
	return v
}

// advance moves c forward by n bytes over count segments whose lengths
// segLen gives. It skips empty segments, so c points at a byte while bytes
// remain, and c.i == count at the end.
func advance(c cursor, n uint64, count int, segLen func(int) uint64) cursor {
	c.off += n
	for c.i < count && c.off >= segLen(c.i) {
		c.off -= segLen(c.i)
		c.i++
	}
	return c
}
