package image

import (
	"fmt"
	"path/filepath"
)

// manifestEntry describes one file of a checkpoint directory. The COMPLETE
// marker holds the list, so that a directory whose files were truncated,
// replaced or only partly written is refused.
type manifestEntry struct {
	Name string // base name in the directory
	Size uint64 // file size in bytes
	CRC  uint32 // CRC32C of the whole file; metadata files only
	Data bool   // raw page data: only the size is recorded, the page map's per-run CRCs cover the contents
}

func marshalManifest(es []manifestEntry) []byte {
	var b []byte
	for i := range es {
		b = putMsg(b, fManEntry, es[i].append)
	}
	return b
}

func (e *manifestEntry) append(b []byte) []byte {
	b = putString(b, fEntName, e.Name)
	b = putUint(b, fEntSize, e.Size)
	b = putUint(b, fEntCRC, uint64(e.CRC))
	return putBool(b, fEntData, e.Data)
}

// unmarshalManifest decodes a manifest and checks that names are plain,
// unique base names.
func unmarshalManifest(b []byte) (map[string]manifestEntry, error) {
	d := newMsg(b, "manifest")
	var es []manifestEntry
	for d.more() {
		f := d.next()
		if f.num == fManEntry {
			es = append(es, manifestEntry{})
			es[len(es)-1].decode(d.subElem(f, "entry"))
		}
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	byName := make(map[string]manifestEntry, len(es))
	for _, e := range es {
		if e.Name == "" || e.Name == "." || e.Name == ".." || filepath.Base(e.Name) != e.Name {
			return nil, errorf(ErrFormat, "manifest lists bad file name %q", clip(e.Name))
		}
		if _, dup := byName[e.Name]; dup {
			return nil, errorf(ErrFormat, "manifest lists %q twice", clip(e.Name))
		}
		byName[e.Name] = e
	}
	return byName, nil
}

func (e *manifestEntry) decode(d msg) {
	for d.more() {
		f := d.next()
		switch f.num {
		case fEntName:
			e.Name = d.str(f)
		case fEntSize:
			e.Size = d.u64(f)
		case fEntCRC:
			e.CRC = d.u32(f)
		case fEntData:
			e.Data = d.boolean(f)
		}
	}
}

// clip shortens untrusted strings quoted in error messages.
func clip(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%s...", s[:64])
	}
	return s
}
