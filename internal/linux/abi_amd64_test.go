//go:build linux

package linux

import (
	"encoding/binary"
	"testing"
)

func TestUserDescBitfield(t *testing.T) {
	// Values printed by a C program setting one bitfield of struct
	// user_desc at a time.
	for _, tc := range []struct {
		name string
		set  func(*UserDesc)
		want uint32
	}{
		{"seg_32bit", func(d *UserDesc) { d.SetSeg32Bit(true) }, 0x1},
		{"contents=3", func(d *UserDesc) { d.SetContents(3) }, 0x6},
		{"read_exec_only", func(d *UserDesc) { d.SetReadExecOnly(true) }, 0x8},
		{"limit_in_pages", func(d *UserDesc) { d.SetLimitInPages(true) }, 0x10},
		{"seg_not_present", func(d *UserDesc) { d.SetSegNotPresent(true) }, 0x20},
		{"useable", func(d *UserDesc) { d.SetUseable(true) }, 0x40},
		{"lm", func(d *UserDesc) { d.SetLM(true) }, 0x80},
	} {
		var d UserDesc
		tc.set(&d)
		if d.Flags != tc.want {
			t.Errorf("%s: flags %#x, want %#x", tc.name, d.Flags, tc.want)
		}
	}
	d := UserDesc{Flags: 0xff}
	if !d.Seg32Bit() || d.Contents() != 3 || !d.ReadExecOnly() || !d.LimitInPages() ||
		!d.SegNotPresent() || !d.Useable() || !d.LM() {
		t.Errorf("getters on all-ones flags: %+v", d)
	}
	d.SetContents(1)
	d.SetLM(false)
	if d.Contents() != 1 || d.LM() || d.Flags != 0x7b {
		t.Errorf("clearing bits: flags %#x", d.Flags)
	}
}

// fillLDT is the kernel's fill_ldt (arch/x86/include/asm/desc.h).
func fillLDT(d UserDesc) (lo, hi uint32) {
	b2i := func(b bool) uint32 {
		if b {
			return 1
		}
		return 0
	}
	typ := (b2i(d.ReadExecOnly())^1)<<1 | d.Contents()<<2 | 1
	lo = d.Limit&0xffff | (d.BaseAddr&0xffff)<<16
	hi = (d.BaseAddr&0xff0000)>>16 | typ<<8 | 1<<12 | 3<<13 | (b2i(d.SegNotPresent())^1)<<15 |
		d.Limit&0xf0000 | b2i(d.Useable())<<20 | b2i(d.Seg32Bit())<<22 |
		b2i(d.LimitInPages())<<23 | d.BaseAddr&0xff000000
	return lo, hi
}

func TestDecodeLDTInvertsFillLDT(t *testing.T) {
	var in []UserDesc
	for i, base := range []uint32{0, 0x12345000, 0xfedcba98} {
		for flags := uint32(0); flags < 0x80; flags++ { // every bit but lm
			in = append(in, UserDesc{EntryNumber: uint32(i*0x80) + flags, BaseAddr: base, Limit: 0xabcde, Flags: flags})
		}
	}
	raw := make([]byte, (len(in)+1)*LDTEntrySize) // +1: a trailing empty entry
	for _, d := range in {
		lo, hi := fillLDT(d)
		binary.LittleEndian.PutUint32(raw[d.EntryNumber*LDTEntrySize:], lo)
		binary.LittleEndian.PutUint32(raw[d.EntryNumber*LDTEntrySize+4:], hi)
	}
	out := DecodeLDT(append(raw, 1, 2, 3)) // and a partial descriptor
	if len(out) != len(in) {
		t.Fatalf("decoded %d entries, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Fatalf("entry %d: decoded %+v, want %+v", i, out[i], in[i])
		}
	}
}

func TestModifyLDTSelf(t *testing.T) {
	want := UserDesc{EntryNumber: 3, BaseAddr: 0x12345000, Limit: 0xfff}
	want.SetSeg32Bit(true)
	want.SetLimitInPages(true)
	want.SetUseable(true)
	if err := ModifyLDTWrite(&want); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, LDTEntries*LDTEntrySize)
	n, err := ModifyLDTRead(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := DecodeLDT(buf[:n])
	if len(got) != 1 || got[0] != want {
		t.Fatalf("LDT after writing entry 3: %+v (%d bytes), want [%+v]", got, n, want)
	}
}
