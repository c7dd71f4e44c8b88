package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"runtime"
	"testing"
)

func encodeSmall(t *testing.T) []byte {
	t.Helper()
	b, err := EncodeCheckpoint(smallCheckpoint())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEveryPrefixFails(t *testing.T) {
	for name, c := range map[string]*Checkpoint{"small": smallCheckpoint(), "full": testCheckpoint()} {
		t.Run(name, func(t *testing.T) {
			b, err := EncodeCheckpoint(c)
			if err != nil {
				t.Fatal(err)
			}
			for i := range len(b) {
				if _, err := DecodeCheckpoint(b[:i]); !errors.Is(err, ErrTruncated) {
					t.Fatalf("prefix %d of %d: got %v, want truncated", i, len(b), err)
				}
				_, _, err := ReadRecord(bytes.NewReader(b[:i]))
				if i == 0 && err != io.EOF || i > 0 && !errors.Is(err, ErrTruncated) {
					t.Fatalf("ReadRecord of prefix %d: got %v", i, err)
				}
			}
		})
	}
}

func TestTruncatedMessage(t *testing.T) {
	b := encodeSmall(t)
	_, err := DecodeCheckpoint(b[:40])
	wantErr(t, err, ErrTruncated, "image: truncated at byte 40")
}

func TestEveryByteFlipFails(t *testing.T) {
	b := encodeSmall(t)
	for i := range b {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= x
			if got, err := DecodeCheckpoint(c); err == nil {
				t.Fatalf("byte %d ^ %#x: decoded %+v", i, x, got)
			}
			if _, _, err := ReadRecord(bytes.NewReader(c)); err == nil {
				t.Fatalf("ReadRecord: byte %d ^ %#x accepted", i, x)
			}
		}
	}
}

// reseal recomputes the CRC of a record edited in place.
func reseal(b []byte) []byte {
	n := len(b) - TrailerSize
	binary.LittleEndian.PutUint32(b[n:], crc32.Checksum(b[:n], castagnoli))
	return b
}

func TestHeaderErrors(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(b []byte) []byte
		target error
		want   string
	}{
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, ErrMagic, "image: not a migrate image (bad magic)"},
		{"short magic", func(b []byte) []byte { return []byte("MIGX") }, ErrMagic, "bad magic"},
		{"version", func(b []byte) []byte { b[8] = 9; return reseal(b) }, ErrVersion, "image: version 9 not supported (this build reads 1)"},
		{"flags", func(b []byte) []byte { b[11] = 1; return reseal(b) }, ErrFlags, "image: unsupported flags 0x0100"},
		{"too large", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], MaxMetadataSize+1); return b }, ErrTooLarge, "exceeds"},
		{"checksum", func(b []byte) []byte { b[30] ^= 1; return b }, ErrChecksum, "image: checksum mismatch"},
		{"trailing", func(b []byte) []byte { return append(b, 0) }, ErrFormat, "1 trailing bytes"},
		{"kind", func(b []byte) []byte { b[12] = byte(RecordPageMap); return reseal(b) }, ErrFormat, "record kind pagemap, want checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCheckpoint(tt.edit(encodeSmall(t)))
			wantErr(t, err, tt.target, tt.want)
		})
	}
}

func TestReadRecordStream(t *testing.T) {
	a, _ := AppendRecord(nil, RecordCheckpoint, []byte("one"))
	a, _ = AppendRecord(a, RecordPageMap, []byte("second"))
	a, _ = AppendRecord(a, RecordManifest, nil)
	r := bytes.NewReader(a)
	for _, want := range []struct {
		kind RecordKind
		p    string
	}{{RecordCheckpoint, "one"}, {RecordPageMap, "second"}, {RecordManifest, ""}} {
		kind, p, err := ReadRecord(r)
		if err != nil || kind != want.kind || string(p) != want.p {
			t.Fatalf("got %v %q %v, want %v %q", kind, p, err, want.kind, want.p)
		}
	}
	if _, _, err := ReadRecord(r); err != io.EOF {
		t.Fatalf("after the last record: %v, want io.EOF", err)
	}
}

// A length field near the cap must not make ReadRecord allocate for data
// that is not there.
func TestReadRecordLyingLength(t *testing.T) {
	b, _ := AppendRecord(nil, RecordCheckpoint, []byte("tiny"))
	binary.LittleEndian.PutUint64(b[16:], MaxMetadataSize)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := ReadRecord(bytes.NewReader(b))
	runtime.ReadMemStats(&after)
	wantErr(t, err, ErrTruncated, "truncated at byte 32")
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*readChunk {
		t.Errorf("allocated %d bytes for a %d-byte input", grew, len(b))
	}
}

func TestReadRecordIOError(t *testing.T) {
	boom := errors.New("boom")
	_, _, err := ReadRecord(io.MultiReader(bytes.NewReader([]byte(Magic)), iotestErr{boom}))
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }

func TestAppendRecordTooLarge(t *testing.T) {
	_, err := AppendRecord(nil, RecordCheckpoint, make([]byte, MaxMetadataSize+1))
	wantErr(t, err, ErrTooLarge, "exceeds")
}

// TestGoldenRecord pins the encoding shown in docs/IMAGE.md.
func TestGoldenRecord(t *testing.T) {
	b, err := EncodeCheckpoint(&Checkpoint{Arch: "x86_64", Root: 7})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x4d, 0x49, 0x47, 0x52, 0x49, 0x4d, 0x47, 0x00, // magic
		0x01, 0x00, // version
		0x00, 0x00, // flags
		0x01, 0x00, 0x00, 0x00, // kind: checkpoint
		0x0a, 0, 0, 0, 0, 0, 0, 0, // payload length
		0x0a, 0x06, 'x', '8', '6', '_', '6', '4', // field 1, bytes, "x86_64"
		0x20, 0x0e, // field 4, varint, zigzag(7)
		0x8f, 0x0f, 0xed, 0xf9, // CRC32C
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("got % x\nwant % x", b, want)
	}
}
