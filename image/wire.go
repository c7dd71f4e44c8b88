package image

import (
	"encoding/binary"
	"strconv"
)

// wireType is the low 3 bits of a field tag.
type wireType uint8

// Wire types. Any other value is rejected by the decoder.
const (
	wireVarint  wireType = 0 // unsigned LEB128 varint
	wireFixed64 wireType = 1 // 8 bytes, little-endian
	wireBytes   wireType = 2 // uvarint length, then that many bytes
)

func (t wireType) String() string {
	switch t {
	case wireVarint:
		return "varint"
	case wireFixed64:
		return "fixed64"
	case wireBytes:
		return "bytes"
	}
	return "wire type " + strconv.Itoa(int(t))
}

// maxFieldNum is the largest field number a tag can carry.
const maxFieldNum = 1<<29 - 1

// The put* helpers append one field. Singular scalar fields are omitted
// when they hold the zero value; decoders read a missing field as zero.

func appendTag(b []byte, num uint32, wt wireType) []byte {
	return binary.AppendUvarint(b, uint64(num)<<3|uint64(wt))
}

func putUint(b []byte, num uint32, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.AppendUvarint(appendTag(b, num, wireVarint), v)
}

// putInt stores v zigzag-encoded, so small negative values stay short.
func putInt(b []byte, num uint32, v int64) []byte {
	return putUint(b, num, uint64(v<<1)^uint64(v>>63))
}

func putBool(b []byte, num uint32, v bool) []byte {
	if !v {
		return b
	}
	return append(appendTag(b, num, wireVarint), 1)
}

func putFixed64(b []byte, num uint32, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.LittleEndian.AppendUint64(appendTag(b, num, wireFixed64), v)
}

func putString(b []byte, num uint32, v string) []byte {
	if v == "" {
		return b
	}
	b = binary.AppendUvarint(appendTag(b, num, wireBytes), uint64(len(v)))
	return append(b, v...)
}

func putBytes(b []byte, num uint32, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return putElemBytes(b, num, v)
}

// putElemBytes appends one element of a repeated bytes field, even empty.
func putElemBytes(b []byte, num uint32, v []byte) []byte {
	b = binary.AppendUvarint(appendTag(b, num, wireBytes), uint64(len(v)))
	return append(b, v...)
}

// putPacked appends a packed repeated integer field: one bytes field
// holding the varints back to back. Empty lists are omitted.
func putPacked[T uint32 | uint64](b []byte, num uint32, vs []T) []byte {
	if len(vs) == 0 {
		return b
	}
	return putMsg(b, num, func(b []byte) []byte {
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(v))
		}
		return b
	})
}

// zeros pads putMsg's length prefix.
var zeros [binary.MaxVarintLen64]byte

// putMsg appends a length-delimited field whose contents enc appends. It
// reserves one byte for the length and moves the contents up when the
// length needs more.
func putMsg(b []byte, num uint32, enc func([]byte) []byte) []byte {
	b = appendTag(b, num, wireBytes)
	start := len(b)
	b = enc(append(b, 0))
	n := len(b) - start - 1
	if n < 0x80 {
		b[start] = byte(n)
		return b
	}
	k := uvarintLen(uint64(n))
	b = append(b, zeros[:k-1]...)
	copy(b[start+k:], b[start+1:start+1+n])
	binary.PutUvarint(b[start:], uint64(n))
	return b
}

// uvarintLen returns the encoded size of v.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
