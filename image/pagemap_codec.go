package image

// MarshalPageMap encodes m as a page map payload.
func MarshalPageMap(m *PageMap) ([]byte, error) {
	b := m.append(nil)
	if len(b) > MaxMetadataSize {
		return nil, errorf(ErrTooLarge, "page map payload of %d bytes exceeds %d", len(b), MaxMetadataSize)
	}
	return b, nil
}

// UnmarshalPageMap decodes a page map payload. It does not call Validate.
func UnmarshalPageMap(b []byte) (*PageMap, error) {
	if len(b) > MaxMetadataSize {
		return nil, errorf(ErrTooLarge, "page map payload of %d bytes exceeds %d", len(b), MaxMetadataSize)
	}
	m := new(PageMap)
	d := newMsg(b, "pagemap")
	m.decode(d)
	if err := d.done(); err != nil {
		return nil, err
	}
	return m, nil
}

// EncodePageMap returns m as a complete record (pagemap-PID.img).
func EncodePageMap(m *PageMap) ([]byte, error) {
	payload, err := MarshalPageMap(m)
	if err != nil {
		return nil, err
	}
	return AppendRecord(nil, RecordPageMap, payload)
}

// DecodePageMap decodes a record written by EncodePageMap. It does not
// call Validate.
func DecodePageMap(b []byte) (*PageMap, error) {
	payload, err := decodeRecord(b, RecordPageMap)
	if err != nil {
		return nil, err
	}
	return UnmarshalPageMap(payload)
}

func (m *PageMap) append(b []byte) []byte {
	b = putInt(b, fPMPID, int64(m.PID))
	b = putUint(b, fPMDataSize, m.DataSize)
	for i := range m.Runs {
		b = putMsg(b, fPMRun, m.Runs[i].append)
	}
	return b
}

func (m *PageMap) decode(d msg) {
	for d.more() {
		f := d.next()
		switch f.num {
		case fPMPID:
			m.PID = d.i32(f)
		case fPMDataSize:
			m.DataSize = d.u64(f)
		case fPMRun:
			m.Runs = append(m.Runs, PageRun{})
			m.Runs[len(m.Runs)-1].decode(d.subElem(f, "page run"))
		}
	}
}

func (r *PageRun) append(b []byte) []byte {
	b = putUint(b, fRunAddr, r.Addr)
	b = putUint(b, fRunNPages, uint64(r.NPages))
	b = putUint(b, fRunKind, uint64(r.Kind))
	b = putUint(b, fRunOffset, r.Offset)
	return putUint(b, fRunCRC, uint64(r.CRC))
}

func (r *PageRun) decode(d msg) {
	for d.more() {
		f := d.next()
		switch f.num {
		case fRunAddr:
			r.Addr = d.u64(f)
		case fRunNPages:
			r.NPages = d.u32(f)
		case fRunKind:
			r.Kind = PageKind(d.u32(f))
		case fRunOffset:
			r.Offset = d.u64(f)
		case fRunCRC:
			r.CRC = d.u32(f)
		}
	}
}
