package image

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"slices"
)

// Record framing. See the package documentation for the layout.
const (
	// Magic starts every record.
	Magic = "MIGRIMG\x00"
	// Version is the only record format version this build reads and writes.
	Version = 1
	// HeaderSize is the size of the record header.
	HeaderSize = 24
	// TrailerSize is the size of the CRC32C that ends a record.
	TrailerSize = 4
	// MaxMetadataSize caps a record's payload. It is checked before any
	// payload memory is allocated.
	MaxMetadataSize = 256 << 20
)

// castagnoli is the CRC32C table used for records and page runs.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendRecord appends a record holding payload to b.
func AppendRecord(b []byte, kind RecordKind, payload []byte) ([]byte, error) {
	if len(payload) > MaxMetadataSize {
		return nil, errorf(ErrTooLarge, "%v payload of %d bytes exceeds %d", kind, len(payload), MaxMetadataSize)
	}
	start := len(b)
	b = slices.Grow(b, HeaderSize+len(payload)+TrailerSize)
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint16(b, Version)
	b = binary.LittleEndian.AppendUint16(b, 0) // flags
	b = binary.LittleEndian.AppendUint32(b, uint32(kind))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli)), nil
}

// header is a decoded record header.
type header struct {
	kind RecordKind
	size uint64 // payload length
}

// parseHeader checks the first min(len(b), HeaderSize) bytes of a record:
// magic, version, flags, payload cap. It reports truncation only when
// everything present is valid, so a short but wrong input says what is
// wrong with it.
func parseHeader(b []byte) (header, error) {
	n := min(len(b), len(Magic))
	if string(b[:n]) != Magic[:n] {
		return header{}, &Error{Err: ErrMagic}
	}
	if len(b) < HeaderSize {
		return header{}, truncatedAt(int64(len(b)))
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != Version {
		return header{}, errorf(ErrVersion, "version %d not supported (this build reads %d)", v, Version)
	}
	if f := binary.LittleEndian.Uint16(b[10:]); f != 0 {
		return header{}, errorf(ErrFlags, "unsupported flags %#04x", f)
	}
	h := header{
		kind: RecordKind(binary.LittleEndian.Uint32(b[12:])),
		size: binary.LittleEndian.Uint64(b[16:]),
	}
	if h.size > MaxMetadataSize {
		return header{}, errorf(ErrTooLarge, "payload length %d exceeds %d", h.size, MaxMetadataSize)
	}
	return h, nil
}

// checkSum verifies the CRC32C at the end of rec, a whole record.
func checkSum(rec []byte) error {
	body := rec[:len(rec)-TrailerSize]
	want := binary.LittleEndian.Uint32(rec[len(body):])
	if crc32.Checksum(body, castagnoli) != want {
		return &Error{Err: ErrChecksum}
	}
	return nil
}

// ParseRecord decodes one record that fills b exactly and returns its kind
// and payload. The payload aliases b.
func ParseRecord(b []byte) (RecordKind, []byte, error) {
	h, err := parseHeader(b)
	if err != nil {
		return 0, nil, err
	}
	end := HeaderSize + h.size + TrailerSize
	if uint64(len(b)) < end {
		return 0, nil, truncatedAt(int64(len(b)))
	}
	if uint64(len(b)) > end {
		return 0, nil, errorf(ErrFormat, "%d trailing bytes after the record", uint64(len(b))-end)
	}
	if err := checkSum(b); err != nil {
		return 0, nil, err
	}
	return h.kind, b[HeaderSize : HeaderSize+h.size], nil
}

// readChunk bounds how much ReadRecord allocates ahead of the data it has
// actually read, so that a lying length field cannot force a large
// allocation.
const readChunk = 1 << 20

// ReadRecord reads one record from r. It returns io.EOF when r ends before
// the first byte, and an ErrTruncated error when it ends inside the record.
func ReadRecord(r io.Reader) (RecordKind, []byte, error) {
	hdr := make([]byte, HeaderSize)
	n, err := io.ReadFull(r, hdr)
	switch {
	case errors.Is(err, io.EOF):
		return 0, nil, io.EOF
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return 0, nil, err
	}
	h, err := parseHeader(hdr[:n])
	if err != nil {
		return 0, nil, err
	}
	rec, err := readRest(r, hdr, h.size+TrailerSize)
	if err != nil {
		return 0, nil, err
	}
	if err := checkSum(rec); err != nil {
		return 0, nil, err
	}
	return h.kind, rec[HeaderSize : len(rec)-TrailerSize], nil
}

// readRest appends n bytes from r to buf, growing buf at most readChunk
// beyond what has been read.
func readRest(r io.Reader, buf []byte, n uint64) ([]byte, error) {
	want := uint64(len(buf)) + n
	for uint64(len(buf)) < want {
		k := int(min(want-uint64(len(buf)), readChunk))
		buf = slices.Grow(buf, k)
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+got]
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, truncatedAt(int64(len(buf)))
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// decodeRecord parses a whole record of the wanted kind.
func decodeRecord(b []byte, want RecordKind) ([]byte, error) {
	kind, payload, err := ParseRecord(b)
	if err != nil {
		return nil, err
	}
	if kind != want {
		return nil, errorf(ErrFormat, "record kind %v, want %v", kind, want)
	}
	return payload, nil
}

// EncodeCheckpoint returns c as a complete record (the contents of
// checkpoint.img).
func EncodeCheckpoint(c *Checkpoint) ([]byte, error) {
	payload, err := Marshal(c)
	if err != nil {
		return nil, err
	}
	return AppendRecord(nil, RecordCheckpoint, payload)
}

// DecodeCheckpoint decodes a record written by EncodeCheckpoint. Like
// Unmarshal, it does not call Validate.
func DecodeCheckpoint(b []byte) (*Checkpoint, error) {
	payload, err := decodeRecord(b, RecordCheckpoint)
	if err != nil {
		return nil, err
	}
	return Unmarshal(payload)
}
