package image

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

func TestTestCheckpointIsFull(t *testing.T) {
	c := testCheckpoint()
	checkAllSet(t, reflect.ValueOf(c), "Checkpoint")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	c := testCheckpoint()
	b, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, c)
	}
	b2, _ := Marshal(got)
	if !bytes.Equal(b, b2) {
		t.Error("Marshal is not deterministic")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for name, c := range map[string]*Checkpoint{"full": testCheckpoint(), "small": smallCheckpoint(), "empty": {}} {
		t.Run(name, func(t *testing.T) {
			b, err := EncodeCheckpoint(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeCheckpoint(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, c)
			}
		})
	}
}

// unknownFields returns one field of each wire type with numbers no
// message uses.
func unknownFields() []byte {
	var b []byte
	b = putUint(b, 100, 12345)
	b = putFixed64(b, 101, 0xdeadbeef)
	b = putString(b, 102, "from the future")
	b = putMsg(b, 103, func(b []byte) []byte { return putUint(b, 1, 7) })
	return b
}

func TestUnknownFieldsSkipped(t *testing.T) {
	c := testCheckpoint()
	// Unknown fields at the top, in a process and in a VMA of it.
	p := &c.Processes[0]
	var vma []byte
	vma = append(p.MM.VMAs[0].append(nil), unknownFields()...)
	mm := p.MM
	mm.VMAs = nil
	mmb := putMsg(mm.append(nil), fMMVMA, func(b []byte) []byte { return append(b, vma...) })
	for i := 1; i < len(p.MM.VMAs); i++ {
		mmb = putMsg(mmb, fMMVMA, p.MM.VMAs[i].append)
	}
	proc := *p
	proc.MM = MM{}
	pb := append(unknownFields(), proc.append(nil)...)
	// The MM field was emitted empty by proc.append; a second one would be
	// a duplicate, so rebuild without it.
	pb = removeField(t, pb, fProcMM)
	pb = putMsg(pb, fProcMM, func(b []byte) []byte { return append(b, mmb...) })

	top := *c
	top.Processes = c.Processes[1:]
	payload := append(top.append(nil), unknownFields()...)
	payload = putMsg(payload, fCkptProcess, func(b []byte) []byte { return append(b, pb...) })

	got, err := Unmarshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	// Process order changed: the first went last.
	want := *c
	want.Processes = append(append([]Process(nil), c.Processes[1:]...), c.Processes[0])
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("unknown fields changed the result:\n got %+v\nwant %+v", got, &want)
	}
}

// removeField returns payload without the top-level fields numbered num.
func removeField(t *testing.T, payload []byte, num uint32) []byte {
	t.Helper()
	m := newMsg(payload, "test")
	var out []byte
	for m.more() {
		start := m.off
		f := m.next()
		if f.num != num {
			out = append(out, payload[start:m.off]...)
		}
	}
	if err := m.done(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUnmarshalErrors(t *testing.T) {
	tag := func(num uint32, wt wireType) []byte { return appendTag(nil, num, wt) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	vmaWith := func(field []byte) []byte {
		mm := putMsg(nil, fMMVMA, func(b []byte) []byte { return append(b, field...) })
		proc := putMsg(nil, fProcMM, func(b []byte) []byte { return append(b, mm...) })
		return putMsg(nil, fCkptProcess, func(b []byte) []byte { return append(b, proc...) })
	}
	tests := []struct {
		name, want string
		payload    []byte
	}{
		{"duplicate", "field 1: duplicate", cat(putString(nil, fCkptArch, "a"), putString(nil, fCkptArch, "b"))},
		{"wrong wire type", "field 1: varint, want bytes", putUint(nil, fCkptArch, 5)},
		{"unknown wire type", "unknown wire type 5", cat(tag(200, 5), []byte{0, 0, 0, 0})},
		{"wire type 3", "unknown wire type 3", tag(1, 3)},
		{"field zero", "field number 0 out of range", []byte{0x00, 0x01}},
		{"truncated tag", "varint runs past the end", []byte{0x80}},
		{"truncated varint", "varint runs past the end", cat(tag(fCkptRoot, wireVarint), []byte{0xff})},
		{"long varint", "overflows 64 bits", cat(tag(fCkptRoot, wireVarint), bytes.Repeat([]byte{0xff}, 11))},
		{"truncated fixed64", "fixed64 runs past the end", cat(tag(fCkptCreated, wireFixed64), []byte{1, 2, 3})},
		{"huge length", "exceeds the 0 bytes left", cat(tag(fCkptArch, wireBytes), binary.AppendUvarint(nil, 1<<40))},
		{"int32 overflow", "overflows 32 bits", putUint(nil, fCkptRoot, 1<<40)},
		{"uint32 overflow", "overflows 32 bits", vmaWith(putUint(nil, fVMAProt, 1<<33))},
		{"bool", "bool is 2", putMsg(nil, fCkptProcess, func(b []byte) []byte { return putUint(b, fProcNoNewPrivs, 2) })},
		{"siginfo size", "siginfo of 3 bytes", putMsg(nil, fCkptProcess, func(b []byte) []byte { return putBytes(b, fProcSharedPending, []byte{1, 2, 3}) })},
		{"packed", "bad packed element", putMsg(nil, fCkptProcess, func(b []byte) []byte {
			return putMsg(b, fProcCreds, func(b []byte) []byte { return putBytes(b, fCredGroups, []byte{0xff, 0xff, 0xff, 0xff, 0x7f}) })
		})},
		{"nested vma error", "vma: field 5: bytes, want varint", vmaWith(putString(nil, fVMAKind, "x"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Unmarshal(tt.payload)
			if c != nil {
				t.Errorf("got a checkpoint with the error")
			}
			wantErr(t, err, ErrFormat, tt.want)
		})
	}
}

// The schema does not recurse, so the depth cap is tested directly.
func TestNestingCap(t *testing.T) {
	b := putMsg(nil, 1, func(b []byte) []byte { return putUint(b, 1, 1) })
	m := newMsg(b, "test")
	m.depth = maxDepth
	s := m.sub(m.next(), "inner")
	if s.more() {
		t.Error("sub-message decodable beyond the depth cap")
	}
	wantErr(t, m.done(), ErrFormat, "nested deeper than 16")
}

func TestPutMsgLongLength(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 1 << 21} {
		body := fill(n, 1)
		b := putMsg([]byte{9}, 5, func(b []byte) []byte { return append(b, body...) })
		m := newMsg(b[1:], "test")
		f := m.next()
		if err := m.done(); err != nil || f.num != 5 || !bytes.Equal(f.b, body) || m.more() {
			t.Fatalf("n=%d: got field %d with %d bytes, err %v", n, f.num, len(f.b), err)
		}
	}
}
