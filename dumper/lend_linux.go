package dumper

// The lend path: pages are read straight into the sink's send buffers, so
// that on the source the read is the only copy of a page.

// PageLender is a PageSink that lends its buffers (transport.PageSender):
// Lend returns a buffer for pages, Commit sends it, page i of the buffer
// at addrs[i] (ascending), zero[i] when it is all zero, skip[i] (skip may
// be nil) when it could not be read and must not be sent. Commit with no
// pages gives the buffer back unsent.
type PageLender interface {
	PageSink
	Lend() ([]byte, error)
	Commit(addrs []uint64, zero, skip []bool) error
}

// lendSpans reads the spans into lent buffers, one process_vm_readv per
// buffer (up to IOV_MAX spans), on the caller's goroutine: the sink
// compresses and writes on its own goroutines meanwhile.
func (s *pageSaver) lendSpans(spans []span, l PageLender) error {
	c := &s.lent
	return group(spans, func(readable bool) (*chunk, error) {
		buf, err := l.Lend()
		if err != nil {
			return nil, err
		}
		c.reset(buf[:0:len(buf)], readable)
		return c, nil
	}, func(c *chunk) error { return s.commit(c, l) })
}

// commit reads the chunk's pages into the lent buffer and sends it.
func (s *pageSaver) commit(c *chunk, l PageLender) error {
	s.fill(c)
	if c.err != nil {
		_ = l.Commit(nil, nil, nil) // give the buffer back; the read error says more
		return c.err
	}
	var skip []bool
	if len(c.skip) > 0 {
		skip = c.skip
	}
	s.tally(c)
	return l.Commit(c.addrs, c.zero, skip)
}
