//go:build linux

package linux

import (
	"encoding/binary"
	"structs"
)

// arch_prctl codes from <asm/prctl.h>.
const (
	ARCH_SET_GS = 0x1001
	ARCH_SET_FS = 0x1002
	ARCH_GET_FS = 0x1003
	ARCH_GET_GS = 0x1004
)

// SizeofUserDesc is sizeof(struct user_desc).
const SizeofUserDesc = 16

// modify_ldt functions and sizes.
const (
	ModifyLDTFuncRead  = 0    // read the LDT (raw 8-byte descriptors)
	ModifyLDTFuncWrite = 0x11 // write one entry (new mode)
	LDTEntrySize       = 8    // LDT_ENTRY_SIZE
	LDTEntries         = 8192 // LDT_ENTRIES
)

// UserDesc is struct user_desc from <asm/ldt.h> (x86-64), the argument of
// modify_ldt(1 or 0x11). The C bitfield after Limit is Flags; use the
// accessors.
type UserDesc struct {
	_           structs.HostLayout
	EntryNumber uint32
	BaseAddr    uint32
	Limit       uint32
	Flags       uint32
}

// Bits of UserDesc.Flags, in C declaration order (GCC allocates bitfields
// from bit 0 on little-endian).
const (
	userDescSeg32Bit      = 1 << 0
	userDescContentsShift = 1 // 2 bits
	userDescReadExecOnly  = 1 << 3
	userDescLimitInPages  = 1 << 4
	userDescSegNotPresent = 1 << 5
	userDescUseable       = 1 << 6
	userDescLM            = 1 << 7
)

func (d *UserDesc) bit(m uint32) bool { return d.Flags&m != 0 }

func (d *UserDesc) setBit(m uint32, on bool) {
	if on {
		d.Flags |= m
	} else {
		d.Flags &^= m
	}
}

// Seg32Bit is the seg_32bit bit.
func (d *UserDesc) Seg32Bit() bool { return d.bit(userDescSeg32Bit) }

// SetSeg32Bit sets the seg_32bit bit.
func (d *UserDesc) SetSeg32Bit(on bool) { d.setBit(userDescSeg32Bit, on) }

// Contents is the 2-bit contents field (0 data, 1 stack, 2 code).
func (d *UserDesc) Contents() uint32 { return d.Flags >> userDescContentsShift & 3 }

// SetContents sets the 2-bit contents field; higher bits of c are dropped.
func (d *UserDesc) SetContents(c uint32) {
	d.Flags = d.Flags&^(3<<userDescContentsShift) | (c&3)<<userDescContentsShift
}

// ReadExecOnly is the read_exec_only bit.
func (d *UserDesc) ReadExecOnly() bool { return d.bit(userDescReadExecOnly) }

// SetReadExecOnly sets the read_exec_only bit.
func (d *UserDesc) SetReadExecOnly(on bool) { d.setBit(userDescReadExecOnly, on) }

// LimitInPages is the limit_in_pages bit.
func (d *UserDesc) LimitInPages() bool { return d.bit(userDescLimitInPages) }

// SetLimitInPages sets the limit_in_pages bit.
func (d *UserDesc) SetLimitInPages(on bool) { d.setBit(userDescLimitInPages, on) }

// SegNotPresent is the seg_not_present bit.
func (d *UserDesc) SegNotPresent() bool { return d.bit(userDescSegNotPresent) }

// SetSegNotPresent sets the seg_not_present bit.
func (d *UserDesc) SetSegNotPresent(on bool) { d.setBit(userDescSegNotPresent, on) }

// Useable is the useable bit.
func (d *UserDesc) Useable() bool { return d.bit(userDescUseable) }

// SetUseable sets the useable bit.
func (d *UserDesc) SetUseable(on bool) { d.setBit(userDescUseable, on) }

// LM is the lm bit (64-bit code segment; the kernel never sets it in the
// LDT).
func (d *UserDesc) LM() bool { return d.bit(userDescLM) }

// SetLM sets the lm bit.
func (d *UserDesc) SetLM(on bool) { d.setBit(userDescLM, on) }

// Append appends the exact kernel bytes of d (16 bytes) to b.
func (d *UserDesc) Append(b []byte) []byte { return appendLE(b, d) }

// DecodeLDT turns the raw descriptors returned by modify_ldt(0) into the
// user_desc entries that modify_ldt(0x11) would need to recreate them.
// Empty (all-zero) descriptors are skipped; a trailing partial descriptor is
// ignored. It inverts the kernel's fill_ldt.
func DecodeLDT(raw []byte) []UserDesc {
	var out []UserDesc
	for i := 0; i+LDTEntrySize <= len(raw); i += LDTEntrySize {
		lo := binary.LittleEndian.Uint32(raw[i:])
		hi := binary.LittleEndian.Uint32(raw[i+4:])
		if lo == 0 && hi == 0 {
			continue
		}
		out = append(out, decodeDescriptor(uint32(i/LDTEntrySize), lo, hi))
	}
	return out
}

// decodeDescriptor decodes one x86 segment descriptor (struct desc_struct).
func decodeDescriptor(n, lo, hi uint32) UserDesc {
	typ := hi >> 8 & 0xf
	d := UserDesc{
		EntryNumber: n,
		BaseAddr:    lo>>16 | (hi&0xff)<<16 | hi&0xff000000,
		Limit:       lo&0xffff | hi&0xf0000,
	}
	d.SetReadExecOnly(typ>>1&1 == 0)
	d.SetContents(typ >> 2 & 3)
	d.SetSegNotPresent(hi>>15&1 == 0)
	d.SetUseable(hi>>20&1 != 0)
	d.SetLM(hi>>21&1 != 0)
	d.SetSeg32Bit(hi>>22&1 != 0)
	d.SetLimitInPages(hi>>23&1 != 0)
	return d
}
