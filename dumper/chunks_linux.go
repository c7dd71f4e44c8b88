package dumper

import "errors"

// The chunk path: for sinks that keep pages themselves (a checkpoint's
// page file), pages are read into the saver's own buffers and handed to
// the sink, which copies them.

// pipeBuffers is how many chunks are in flight between reader and writer.
const pipeBuffers = 3

// readChunk is the size of the saver's own buffers: bytes read from the
// process per call.
const readChunk = 4 << 20

// errStopped ends the reader when the sink failed.
var errStopped = errors.New("stopped")

// copySpans reads the spans into w, in order. A sink that lends its
// buffers gets the pages read straight into them (lendSpans). Otherwise
// one goroutine reads (process_vm_readv and zero detection) while the
// caller's goroutine feeds the sink (checksums and writes), so that both
// cores work.
func (s *pageSaver) copySpans(spans []span, w PageSink) error {
	if l, ok := w.(PageLender); ok {
		return s.lendSpans(spans, l)
	}
	// The buffers are kept from call to call: the last round of a live
	// migration runs frozen, and fresh memory costs page faults (12 MiB
	// took 36 ms on a VM).
	if s.bufs == nil {
		s.bufs = make(chan chunk, pipeBuffers)
		for range pipeBuffers {
			s.bufs <- chunk{buf: make([]byte, readChunk)}
		}
	}
	free := s.bufs
	full := make(chan chunk, pipeBuffers)
	stop := make(chan struct{})
	go s.reader(spans, free, full, stop)
	var err error
	for c := range full {
		if err == nil {
			if err = c.err; err == nil {
				err = s.record(c, w)
			}
			if err != nil {
				close(stop)
			}
		}
		free <- c
	}
	return err
}

// reader fills chunks with the spans, in order, until a read fails or the
// consumer stops it.
func (s *pageSaver) reader(spans []span, free <-chan chunk, full chan<- chunk, stop <-chan struct{}) {
	defer close(full)
	var c chunk
	_ = group(spans, func(readable bool) (*chunk, error) {
		select {
		case c = <-free:
		case <-stop:
			return nil, errStopped
		}
		c.reset(c.buf[:0:cap(c.buf)], readable)
		return &c, nil
	}, func(c *chunk) error {
		s.fill(c)
		full <- *c
		return c.err
	})
}

// record hands a chunk to the sink as runs of contiguous zero and
// non-zero pages.
func (s *pageSaver) record(c chunk, w PageSink) error {
	s.tally(&c)
	for i := 0; i < len(c.zero); {
		if c.skipped(i) {
			i++
			continue
		}
		j := i + 1
		for j < len(c.zero) && c.zero[j] == c.zero[i] && !c.skipped(j) && c.addrs[j] == c.addrs[j-1]+pageSize {
			j++
		}
		addr, pages := c.addrs[i], uint64(j-i)
		var err error
		if c.zero[i] {
			err = w.AddZero(addr, pages)
		} else {
			err = w.AddData(addr, c.buf[i*pageSize:j*pageSize])
		}
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}
