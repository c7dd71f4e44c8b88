package image

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// PageFile writes the pages of one process into a checkpoint directory:
// the data to pages-PID.img and, on Close, the map to pagemap-PID.img.
type PageFile struct {
	w      *DirWriter
	pid    int32
	f      *os.File
	bw     *bufio.Writer
	pw     *PageWriter
	closed bool
}

// CreatePages starts the page files of process pid. Close the PageFile
// before calling Finish.
func (w *DirWriter) CreatePages(pid int32) (*PageFile, error) {
	if err := w.startPages(pid); err != nil {
		return nil, err
	}
	tmp := filepath.Join(w.dir, PagesFile(pid)+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		w.endPages()
		return nil, fmt.Errorf("image: %w", err)
	}
	bw := newBufWriter(f)
	return &PageFile{w: w, pid: pid, f: f, bw: bw, pw: NewPageWriter(bw, pid)}, nil
}

func (w *DirWriter) startPages(pid int32) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.finished:
		return fmt.Errorf("image: %s: checkpoint already finished", w.dir)
	case pid <= 0:
		return fmt.Errorf("image: pages of process %d: PID not positive", pid)
	case w.pages[pid]:
		return fmt.Errorf("image: %s: pages of process %d written twice", w.dir, pid)
	}
	w.pages[pid] = true
	w.open++
	return nil
}

func (w *DirWriter) endPages() {
	w.mu.Lock()
	w.open--
	w.mu.Unlock()
}

// AddData appends data pages; see PageWriter.AddData.
func (p *PageFile) AddData(addr uint64, data []byte) error { return p.pw.AddData(addr, data) }

// AddZero appends zero pages; see PageWriter.AddZero.
func (p *PageFile) AddZero(addr uint64, npages uint64) error { return p.pw.AddZero(addr, npages) }

// Map returns the page map written so far.
func (p *PageFile) Map() *PageMap { return p.pw.Map() }

// Close flushes and commits the page data, then writes the page map. On
// error the checkpoint is broken: Finish returns the error.
func (p *PageFile) Close() error {
	if p.closed {
		return fmt.Errorf("image: pages of process %d closed twice", p.pid)
	}
	p.closed = true
	defer p.w.endPages()
	err := p.pw.err
	if err == nil {
		err = p.bw.Flush()
	}
	m := p.pw.Map()
	if err := p.w.commit(p.f, PagesFile(p.pid), err); err != nil {
		return p.w.fail(err)
	}
	p.w.add(manifestEntry{Name: PagesFile(p.pid), Size: m.DataSize, Data: true})
	b, err := EncodePageMap(m)
	if err == nil {
		err = p.w.writeFile(PageMapFile(p.pid), b)
	}
	if err != nil {
		return p.w.fail(err)
	}
	return nil
}
