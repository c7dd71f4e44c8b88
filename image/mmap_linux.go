package image

import (
	"fmt"
	"hash/crc32"
	"os"

	"golang.org/x/sys/unix"
)

// Reserve asks the file system to allocate n bytes for the page data ahead
// of the writes (fallocate, keeping the file size), so that a checkpoint
// can do this before the process is frozen. File systems that cannot are
// ignored.
func (p *PageFile) Reserve(n int64) error {
	if n <= 0 {
		return nil
	}
	err := unix.Fallocate(int(p.f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, n)
	if err != nil && err != unix.EOPNOTSUPP && err != unix.ENOSYS {
		return fmt.Errorf("image: reserve %d bytes for %s: %w", n, PagesFile(p.pid), err)
	}
	return nil
}

// MappedPages is the page data of a PageReader mapped into memory, so that
// runs can be handed to the kernel (process_vm_writev) without a copy.
// Its methods may be called from several goroutines.
type MappedPages struct {
	pr   *PageReader
	data []byte
}

// Mapped maps the page data read-only. It works when the reader was opened
// by Dir.OpenPages; close the MappedPages before the PageReader.
func (pr *PageReader) Mapped() (*MappedPages, error) {
	f, ok := pr.r.(*os.File)
	if !ok {
		return nil, fmt.Errorf("image: page data of process %d is not a file", pr.m.PID)
	}
	mp := &MappedPages{pr: pr}
	if pr.m.DataSize == 0 {
		return mp, nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(pr.m.DataSize), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("image: map %s: %w", pr.file, err)
	}
	mp.data = data
	return mp, nil
}

// Runs returns the page runs, in address order.
func (mp *MappedPages) Runs() []PageRun { return mp.pr.m.Runs }

// Run returns the verified bytes of run i (nil for a zero run). NewPageReader
// checked that every run lies inside the data.
func (mp *MappedPages) Run(i int) ([]byte, error) {
	r := mp.pr.m.Runs[i]
	if r.Kind != PageData {
		return nil, nil
	}
	b := mp.data[r.Offset : r.Offset+r.Len()]
	if crc32.Checksum(b, castagnoli) != r.CRC {
		err := errorf(ErrChecksum, "process %d page run %d at %#x (%d pages): checksum mismatch", mp.pr.m.PID, i, r.Addr, r.NPages)
		if mp.pr.file != "" {
			return nil, inFile(err, mp.pr.file)
		}
		return nil, err
	}
	return b, nil
}

// Close unmaps the data.
func (mp *MappedPages) Close() error {
	if mp.data == nil {
		return nil
	}
	err := unix.Munmap(mp.data)
	mp.data = nil
	return err
}
