package image

import (
	"bytes"
	"reflect"
	"testing"
)

// The fuzz targets check that decoders never panic, and that whatever they
// accept survives a re-encode unchanged.

func seedCheckpoints(f *testing.F, enc func(*Checkpoint) ([]byte, error)) {
	for _, c := range []*Checkpoint{testCheckpoint(), smallCheckpoint(), {}} {
		b, err := enc(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzUnmarshal(f *testing.F) {
	seedCheckpoints(f, Marshal)
	f.Add(unknownFields())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Unmarshal(b)
		if (c == nil) == (err == nil) {
			t.Fatalf("got %v and %v", c, err)
		}
		if err != nil {
			return
		}
		_ = c.Validate()
		checkCheckpointRoundTrip(t, c)
	})
}

// FuzzDecodeFile decodes the input as is, and again with its CRC fixed so
// that the fuzzer also reaches the header and payload checks.
func FuzzDecodeFile(f *testing.F) {
	seedCheckpoints(f, EncodeCheckpoint)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeFile(t, b)
		if len(b) >= HeaderSize+TrailerSize {
			checkDecodeFile(t, reseal(bytes.Clone(b)))
		}
	})
}

func checkDecodeFile(t *testing.T, b []byte) {
	t.Helper()
	c, err := DecodeCheckpoint(b)
	if (c == nil) == (err == nil) {
		t.Fatalf("got %v and %v", c, err)
	}
	_, p, rerr := ReadRecord(bytes.NewReader(b))
	if err != nil {
		return
	}
	if rerr != nil {
		t.Fatalf("DecodeCheckpoint accepted what ReadRecord refuses: %v", rerr)
	}
	if _, err := Unmarshal(p); err != nil {
		t.Fatalf("ReadRecord payload: %v", err)
	}
	checkCheckpointRoundTrip(t, c)
}

func checkCheckpointRoundTrip(t *testing.T, c *Checkpoint) {
	t.Helper()
	b, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("re-encoded checkpoint does not decode: %v", err)
	}
	if !reflect.DeepEqual(c, c2) {
		t.Fatalf("re-encode changed the checkpoint:\n got %+v\nwant %+v", c2, c)
	}
}

func FuzzPageMap(f *testing.F) {
	var buf bytes.Buffer
	pw := NewPageWriter(&buf, 3)
	pw.AddData(0x1000, fill(3*PageSize, 1))
	pw.AddZero(0x4000, 5)
	pw.AddData(0x10000, fill(PageSize, 2))
	b, _ := MarshalPageMap(pw.Map())
	f.Add(b)
	f.Add([]byte{})
	data := buf.Bytes()
	vmas := []VMA{{Start: 0x1000, End: 0x9000}, {Start: 0x10000, End: 0x11000}}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalPageMap(b)
		if (m == nil) == (err == nil) {
			t.Fatalf("got %v and %v", m, err)
		}
		if err != nil {
			return
		}
		_ = m.Validate(vmas)
		if pr, err := NewPageReader(m, bytes.NewReader(data), int64(len(data))); err == nil {
			_ = pr.Each(func(PageRun, []byte) error { return nil })
		}
		b2, err := MarshalPageMap(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := UnmarshalPageMap(b2)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encode changed the page map (%v):\n got %+v\nwant %+v", err, m2, m)
		}
	})
}
