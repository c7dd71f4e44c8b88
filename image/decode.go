package image

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Decoding limits. A decoder never allocates more than a constant factor
// of its input: lengths are checked against the remaining bytes, slices
// grow one decoded element at a time, and the element count is capped.
const (
	// maxDepth caps message nesting. The schema nests at most 5 deep
	// (Checkpoint, Process, MM, VMA, FileID); unknown fields are skipped
	// without being parsed, so the cap only guards future recursive types.
	maxDepth = 16
	// maxElements caps the repeated-field elements of one payload.
	maxElements = 1 << 22
	// maxSingular is one more than the largest field number whose
	// duplicates are detected. Known singular fields stay below it.
	maxSingular = 128
)

// field is one decoded tag with its value.
type field struct {
	num uint32
	wt  wireType
	u   uint64 // varint or fixed64 value
	b   []byte // contents of a bytes field; aliases the input
	off int    // payload offset of the tag
}

// decState is shared by all messages of one payload.
type decState struct {
	err   error
	elems int // repeated elements decoded so far
}

// msg decodes the fields of one message. Errors are sticky in st: after
// the first one, more() is false and every getter returns zero.
type msg struct {
	st    *decState
	name  string // message name for errors
	b     []byte // undecoded rest
	off   int    // payload offset of b[0]
	depth int
	seen  [maxSingular / 64]uint64 // singular fields already decoded
}

// newMsg returns a decoder for a whole payload. Messages are passed by
// value so that decoding a sub-message does not allocate.
func newMsg(b []byte, name string) msg {
	return msg{st: &decState{}, name: name, b: b}
}

// more reports whether fields remain and no error occurred.
func (m *msg) more() bool { return len(m.b) > 0 && m.st.err == nil }

// fail records the first error, at payload offset off.
func (m *msg) fail(off int, format string, args ...any) {
	if m.st.err == nil {
		m.st.err = errorf(ErrFormat, "malformed payload at byte %d: %s: %s",
			off, m.name, fmt.Sprintf(format, args...))
	}
}

// uvarint reads a varint at m.b[i:].
func (m *msg) uvarint(i int) (uint64, int) {
	if i < len(m.b) && m.b[i] < 0x80 {
		return uint64(m.b[i]), 1
	}
	v, n := binary.Uvarint(m.b[i:])
	switch {
	case n == 0:
		m.fail(m.off+i, "varint runs past the end")
	case n < 0:
		m.fail(m.off+i, "varint overflows 64 bits")
	}
	return v, n
}

// next decodes the next field. On error it returns a zero field, which no
// switch case matches.
func (m *msg) next() field {
	tag, n := m.uvarint(0)
	if n <= 0 {
		return field{}
	}
	f := field{num: uint32(tag >> 3), wt: wireType(tag & 7), off: m.off}
	if tag>>3 == 0 || tag>>3 > maxFieldNum {
		m.fail(m.off, "field number %d out of range", tag>>3)
		return field{}
	}
	switch f.wt {
	case wireVarint:
		var k int
		if f.u, k = m.uvarint(n); k <= 0 {
			return field{}
		}
		n += k
	case wireFixed64:
		if len(m.b)-n < 8 {
			m.fail(m.off+n, "fixed64 runs past the end")
			return field{}
		}
		f.u = binary.LittleEndian.Uint64(m.b[n:])
		n += 8
	case wireBytes:
		if f.b, n = m.bytesAt(n); n < 0 {
			return field{}
		}
	default:
		m.fail(m.off, "field %d: unknown wire type %d", f.num, f.wt)
		return field{}
	}
	m.b, m.off = m.b[n:], m.off+n
	return f
}

// bytesAt decodes the length prefix at m.b[i:] and returns the contents
// and the offset just past them, or -1 on error.
func (m *msg) bytesAt(i int) ([]byte, int) {
	l, n := m.uvarint(i)
	if n <= 0 {
		return nil, -1
	}
	i += n
	if l > uint64(len(m.b)-i) {
		m.fail(m.off+i, "length %d exceeds the %d bytes left", l, len(m.b)-i)
		return nil, -1
	}
	return m.b[i : i+int(l)], i + int(l)
}

// check verifies a known field's wire type and, for singular fields,
// that it appears once.
func (m *msg) check(f field, wt wireType, singular bool) bool {
	if m.st.err != nil {
		return false
	}
	if f.wt != wt {
		m.fail(f.off, "field %d: %v, want %v", f.num, f.wt, wt)
		return false
	}
	if !singular || f.num >= maxSingular {
		return true
	}
	w, bit := f.num/64, uint64(1)<<(f.num%64)
	if m.seen[w]&bit != 0 {
		m.fail(f.off, "field %d: duplicate", f.num)
		return false
	}
	m.seen[w] |= bit
	return true
}

// elem counts one repeated element against maxElements.
func (m *msg) elem(f field) bool {
	if m.st.elems++; m.st.elems > maxElements {
		m.fail(f.off, "more than %d repeated elements", maxElements)
		return false
	}
	return true
}

func (m *msg) u64(f field) uint64 {
	if !m.check(f, wireVarint, true) {
		return 0
	}
	return f.u
}

func (m *msg) u32(f field) uint32 {
	v := m.u64(f)
	if v > math.MaxUint32 {
		m.fail(f.off, "field %d: %d overflows 32 bits", f.num, v)
		return 0
	}
	return uint32(v)
}

func (m *msg) i64(f field) int64 {
	v := m.u64(f)
	return int64(v>>1) ^ -int64(v&1)
}

func (m *msg) i32(f field) int32 {
	v := m.i64(f)
	if v < math.MinInt32 || v > math.MaxInt32 {
		m.fail(f.off, "field %d: %d overflows 32 bits", f.num, v)
		return 0
	}
	return int32(v)
}

func (m *msg) boolean(f field) bool {
	v := m.u64(f)
	if v > 1 {
		m.fail(f.off, "field %d: bool is %d", f.num, v)
	}
	return v == 1
}

func (m *msg) fixed64(f field) uint64 {
	if !m.check(f, wireFixed64, true) {
		return 0
	}
	return f.u
}

func (m *msg) str(f field) string {
	if !m.check(f, wireBytes, true) {
		return ""
	}
	return string(f.b)
}

// bytes returns a copy of a singular bytes field; nil when empty.
func (m *msg) bytes(f field) []byte {
	if !m.check(f, wireBytes, true) || len(f.b) == 0 {
		return nil
	}
	return append([]byte(nil), f.b...)
}

// elemBytes returns the contents of one element of a repeated bytes
// field, aliasing the input.
func (m *msg) elemBytes(f field) ([]byte, bool) {
	if !m.check(f, wireBytes, false) || !m.elem(f) {
		return nil, false
	}
	return f.b, true
}

// sub returns a decoder for a singular embedded message.
func (m *msg) sub(f field, name string) msg {
	return m.enter(f, name, m.check(f, wireBytes, true))
}

// subElem returns a decoder for one element of a repeated message field.
func (m *msg) subElem(f field, name string) msg {
	return m.enter(f, name, m.check(f, wireBytes, false) && m.elem(f))
}

func (m *msg) enter(f field, name string, ok bool) msg {
	s := msg{st: m.st, name: name, depth: m.depth + 1}
	if !ok {
		return s
	}
	if s.depth > maxDepth {
		m.fail(f.off, "nested deeper than %d", maxDepth)
		return s
	}
	// next has just consumed f, so its contents end at m.off.
	s.b, s.off = f.b, m.off-len(f.b)
	return s
}

// packed decodes a packed repeated integer field; nil when empty.
func packed[T uint32 | uint64](m *msg, f field) []T {
	if !m.check(f, wireBytes, true) {
		return nil
	}
	var vs []T
	for b, off := f.b, m.off-len(f.b); len(b) > 0; {
		v, n := binary.Uvarint(b)
		if n <= 0 || uint64(T(v)) != v {
			m.fail(off, "field %d: bad packed element", f.num)
			return nil
		}
		if !m.elem(f) {
			return nil
		}
		vs = append(vs, T(v))
		b, off = b[n:], off+n
	}
	return vs
}

// done returns the payload's decoding error, if any.
func (m *msg) done() error { return m.st.err }
