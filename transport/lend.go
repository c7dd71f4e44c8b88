package transport

import (
	"errors"
	"fmt"
)

// errLent is returned by the calls that must not come between Lend and
// Commit.
var errLent = errors.New("page sender: a buffer is lent")

// Lend returns the data area of a free batch buffer, for the caller to read
// pages into: page i at [i*PageSize, (i+1)*PageSize). The caller hands it
// back with Commit, which sends the pages from where they lie: a page is
// read once on the source and never copied (AddData copies). Lend waits
// for a free buffer. Between Lend and Commit no other method may be
// called. The area holds cfg.MaxBatch bytes, at most maxExtents pages
// (so that any pages fit in a batch's extents).
func (p *PageSender) Lend() ([]byte, error) {
	if p.lent != nil {
		return nil, errLent
	}
	// Pages added before go first.
	if err := p.flush(); err != nil {
		return nil, err
	}
	if _, err := p.current(); err != nil {
		return nil, err
	}
	p.lent, p.cur = p.cur, nil
	n := p.lent.lendPages()
	return p.lent.buf[metaRoom : metaRoom+n<<pageShift], nil
}

// Commit sends the lent buffer: its page i belongs at addrs[i] (ascending,
// page aligned), zero[i] says that it is all zero, and skip[i] (skip may
// be nil) that it holds nothing and is not sent. Zero pages stay where
// they are: the batch goes out dense when lz4 shrinks it, and with its
// zero pages squeezed out when it goes raw. Commit with no pages gives the
// buffer back unsent. On error the buffer is given back too.
func (p *PageSender) Commit(addrs []uint64, zero, skip []bool) error {
	b := p.lent
	if b == nil {
		return errors.New("page sender: commit without a lent buffer")
	}
	p.lent = nil
	if err := checkCommit(b, addrs, zero, skip); err != nil {
		p.free <- b
		return err
	}
	b.reset()
	b.fillLent(addrs, zero, skip) // its moves are counted with encode's
	if b.npages == 0 {
		p.free <- b
		return p.failed()
	}
	p.pagesData.Add(uint64(b.ndata))
	p.pagesZero.Add(b.npages - uint64(b.ndata))
	p.rawBytes.Add(uint64(b.ndata) << pageShift)
	return p.push(b, p.round)
}

// checkCommit checks the pages of a lent buffer.
func checkCommit(b *batchBuf, addrs []uint64, zero, skip []bool) error {
	switch {
	case len(zero) != len(addrs) || skip != nil && len(skip) != len(addrs):
		return fmt.Errorf("page sender: commit of %d pages with %d zero and %d skip marks", len(addrs), len(zero), len(skip))
	case len(addrs) > b.lendPages():
		return fmt.Errorf("page sender: commit of %d pages, the buffer holds %d", len(addrs), b.lendPages())
	}
	for i, a := range addrs {
		if err := checkRange(a, 1); err != nil {
			return fmt.Errorf("page sender: commit: %w", err)
		}
		if i > 0 && a <= addrs[i-1] {
			return fmt.Errorf("page sender: commit: page %#x after %#x", a, addrs[i-1])
		}
	}
	return nil
}

// fillLent records the pages read into the buffer: extents, zero bits and
// the number of non-zero pages. Skipped pages are squeezed out at once (a
// batch has no room for holes), counted in moved like encode's squeezing.
func (b *batchBuf) fillLent(addrs []uint64, zero, skip []bool) {
	data := b.buf[metaRoom:]
	for i, a := range addrs {
		if skip != nil && skip[i] {
			continue
		}
		k := int(b.npages)
		if k != i {
			copy(data[k<<pageShift:(k+1)<<pageShift], data[i<<pageShift:(i+1)<<pageShift])
			b.moved += PageSize
		}
		b.extend(a, 1) // cannot fail: addresses ascend, pages <= maxExtents
		b.markPage(zero[i])
	}
	b.dense = true
}

// lendPages is how many pages a lent buffer holds: its data room, and no
// more than a batch's extents can list.
func (b *batchBuf) lendPages() int { return min(b.maxData, maxExtents) }
