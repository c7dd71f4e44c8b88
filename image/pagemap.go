package image

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// Validate checks the page map: runs page-aligned, non-empty, ascending and
// non-overlapping, of a known kind; data runs at most MaxRunPages, at
// page-aligned offsets inside DataSize; zero runs without offset or CRC.
// When vmas is not nil (sorted, as Checkpoint.Validate ensures), every run
// must also lie inside the VMAs (possibly spanning adjacent ones).
func (m *PageMap) Validate(vmas []VMA) error {
	var end uint64
	for i, r := range m.Runs {
		if err := m.checkRun(r, i > 0, end); err != nil {
			return m.runError(i, r, err)
		}
		end = r.End()
	}
	if vmas == nil {
		return nil
	}
	return m.checkCovered(vmas)
}

func (m *PageMap) runError(i int, r PageRun, err *Error) error {
	err.Msg = fmt.Sprintf("process %d page run %d at %#x (%d pages): %s", m.PID, i, r.Addr, r.NPages, err.Msg)
	return err
}

// checkRun checks one run; prevEnd is the end of the previous run, if any.
func (m *PageMap) checkRun(r PageRun, hasPrev bool, prevEnd uint64) *Error {
	switch {
	case r.Addr%PageSize != 0:
		return invalidf("address not page-aligned")
	case r.NPages == 0:
		return invalidf("no pages")
	case uint64(r.NPages) > (math.MaxUint64-r.Addr)/PageSize:
		return invalidf("wraps around the address space")
	case hasPrev && r.Addr < prevEnd:
		return invalidf("overlaps or precedes the previous run ending at %#x", prevEnd)
	}
	switch r.Kind {
	case PageData:
		return m.checkData(r)
	case PageZero:
		if r.Offset != 0 || r.CRC != 0 {
			return invalidf("zero run with an offset or checksum")
		}
		return nil
	}
	return invalidf("unknown kind %v", r.Kind)
}

func (m *PageMap) checkData(r PageRun) *Error {
	switch {
	case r.NPages > MaxRunPages:
		return invalidf("data run longer than %d pages", MaxRunPages)
	case r.Offset%PageSize != 0:
		return invalidf("data offset %d not page-aligned", r.Offset)
	case r.Offset > m.DataSize || r.Len() > m.DataSize-r.Offset:
		return invalidf("data at offset %d lies beyond the %d bytes of page data", r.Offset, m.DataSize)
	}
	return nil
}

// checkCovered checks that every run lies inside the sorted vmas.
func (m *PageMap) checkCovered(vmas []VMA) error {
	j := 0
	for i, r := range m.Runs {
		for j < len(vmas) && vmas[j].End <= r.Addr {
			j++
		}
		if j == len(vmas) || vmas[j].Start > r.Addr {
			return m.runError(i, r, invalidf("not inside any VMA"))
		}
		for k := j; vmas[k].End < r.End(); k++ {
			if k+1 == len(vmas) || vmas[k+1].Start != vmas[k].End {
				return m.runError(i, r, invalidf("extends past the VMA ending at %#x", vmas[k].End))
			}
		}
	}
	return nil
}

// PageReader reads the page data of a PageMap from an io.ReaderAt and
// verifies each run's CRC.
type PageReader struct {
	m    *PageMap
	r    io.ReaderAt
	file string // file name for errors, when known
}

// NewPageReader validates m (without VMAs) and checks that the page data,
// size bytes readable from r, is exactly as large as m says.
func NewPageReader(m *PageMap, r io.ReaderAt, size int64) (*PageReader, error) {
	if err := m.Validate(nil); err != nil {
		return nil, err
	}
	switch {
	case size < 0 || uint64(size) < m.DataSize:
		return nil, errorf(ErrTruncated, "page data of process %d is %d bytes, page map says %d", m.PID, size, m.DataSize)
	case uint64(size) > m.DataSize:
		return nil, errorf(ErrFormat, "page data of process %d is %d bytes, page map says %d", m.PID, size, m.DataSize)
	}
	return &PageReader{m: m, r: r}, nil
}

// Map returns the page map.
func (pr *PageReader) Map() *PageMap { return pr.m }

// ReadRun reads run i into buf (grown if too small) and verifies its CRC.
// It returns the run's bytes, or nil for a zero run.
func (pr *PageReader) ReadRun(i int, buf []byte) ([]byte, error) {
	data, err := pr.readRun(i, buf)
	var e *Error
	if pr.file != "" && errors.As(err, &e) {
		return nil, inFile(err, pr.file) // I/O errors name the file already
	}
	return data, err
}

func (pr *PageReader) readRun(i int, buf []byte) ([]byte, error) {
	if i < 0 || i >= len(pr.m.Runs) {
		return nil, fmt.Errorf("image: page run %d of %d out of range", i, len(pr.m.Runs))
	}
	r := pr.m.Runs[i]
	if r.Kind != PageData {
		return nil, nil
	}
	if uint64(cap(buf)) < r.Len() {
		buf = make([]byte, r.Len())
	}
	buf = buf[:r.Len()]
	n, err := pr.r.ReadAt(buf, int64(r.Offset))
	if n < len(buf) {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, truncatedAt(int64(r.Offset) + int64(n))
		}
		return nil, fmt.Errorf("image: reading page run at %#x: %w", r.Addr, err)
	}
	if crc32.Checksum(buf, castagnoli) != r.CRC {
		return nil, errorf(ErrChecksum, "process %d page run %d at %#x (%d pages): checksum mismatch", pr.m.PID, i, r.Addr, r.NPages)
	}
	return buf, nil
}

// Each calls fn for every run in address order with its verified bytes
// (nil for zero runs). The bytes are only valid during the call. It stops
// at the first error.
func (pr *PageReader) Each(fn func(r PageRun, data []byte) error) error {
	var buf []byte
	for i, r := range pr.m.Runs {
		data, err := pr.ReadRun(i, buf)
		if err != nil {
			return err
		}
		if data != nil {
			buf = data
		}
		if err := fn(r, data); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the underlying reader if it is an io.Closer.
func (pr *PageReader) Close() error {
	if c, ok := pr.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
