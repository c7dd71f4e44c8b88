package dumper

import (
	"unsafe"

	"github.com/migrate-dev/migrate/image"
	"golang.org/x/sys/unix"
)

// rawSiginfos keeps the kernel's bytes of each siginfo.
func rawSiginfos(in []unix.Siginfo) []image.SigInfo {
	out := make([]image.SigInfo, len(in))
	for i := range in {
		out[i].Raw = *(*[image.SigInfoSize]byte)(unsafe.Pointer(&in[i]))
	}
	return out
}
