// Package image defines the versioned description of a frozen process tree
// that the dumper writes, the restorer reads, the on-disk checkpoint stores
// and the transport carries, and its encoding.
//
// In a nutshell: a Checkpoint (the tree: processes, threads, registers,
// credentials, memory layout, signals, files) is encoded with Marshal into
// a tagged, protobuf-like payload; a payload travels inside a record that
// adds magic, version, flags, kind, length and a CRC32C. Memory contents
// are not in the Checkpoint: each process has a PageMap (runs of pages,
// each data run with its CRC32C) and a page data file of raw pages.
// A checkpoint directory holds these files and a COMPLETE marker written
// last. The model is general (trees of multi-threaded processes); the
// first release fills in one single-threaded process.
//
// # Records
//
// Every metadata file (and every metadata message on the wire) is one
// record. All integers in this package's formats are little-endian;
// there is no byte-order mark.
//
//	offset  size  field
//	     0     8  magic "MIGRIMG\x00"
//	     8     2  version, u16 = 1 (Version)
//	    10     2  flags, u16, must be 0 ("unsupported flags" otherwise)
//	    12     4  kind, u32 (RecordKind: 1 checkpoint, 2 page map, 3 manifest)
//	    16     8  payload length N, u64, at most MaxMetadataSize (256 MiB),
//	              checked before anything is allocated
//	    24     N  payload
//	  24+N     4  CRC32C (Castagnoli) of bytes [0, 24+N)
//
// Readers check, in order: magic, version, flags, the length cap, that the
// input holds the whole record (and, for ParseRecord, nothing more), the
// CRC, and only then decode the payload. A new version may change anything
// after the version field.
//
// # Payload encoding
//
// A payload is a message: a sequence of fields, each a tag then a value.
// The tag is a uvarint, field number << 3 | wire type. Wire types:
//
//	0 varint   unsigned LEB128, at most 10 bytes
//	1 fixed64  8 bytes, little-endian
//	2 bytes    uvarint length L, then L bytes (string, bytes, embedded
//	           message, or packed repeated varints)
//
// Other wire types are errors. Signed integers are zigzag varints (PIDs,
// sizes, times), except Checkpoint.CreatedUnixNano, a fixed64. Booleans
// are varint 0 or 1. Repeated messages repeat their field, one element per
// occurrence, in order; repeated integers are packed into one bytes field.
// Singular scalar fields equal to zero and empty strings, bytes and lists
// are omitted; an absent field decodes as zero. Optional messages (VMA.File,
// FD.File, Thread.Rseq) are present exactly when the pointer is non-nil.
// Marshal's output is deterministic.
//
// Decoders skip fields with unknown numbers (of a known wire type), so
// fields can be added without breaking older readers; skipped fields are
// dropped, not preserved. A known field with the wrong wire type, and a
// singular field that appears twice, are errors (no "last one wins"). Field
// numbers and enum values are append-only; docs/IMAGE.md lists them all.
//
// Decoding allocates at most a constant factor of its input: every length
// is checked against the bytes left, slices grow one decoded element at a
// time, repeated elements are capped at 4Mi per payload, and embedded
// messages nest at most 16 deep. Decoding checks the encoding only;
// Checkpoint.Validate and PageMap.Validate check the meaning (sorted,
// non-overlapping, page-aligned VMAs, register sizes, PIDs, ...).
//
// # Pages
//
// A PageMap lists runs of pages in ascending address order: a data run of
// at most MaxRunPages (1 MiB) stored at a page-aligned offset in the page
// data file together with the CRC32C of its bytes, or a zero run that
// stores nothing. The page data file is raw pages with no header; its
// integrity comes from the per-run CRCs and its size, recorded in the map.
// PageWriter writes runs and builds the map; PageReader reads them back
// with ReadAt and verifies each CRC.
//
// # Checkpoint directory
//
//	checkpoint.img     record kind 1: the Checkpoint
//	pagemap-PID.img    record kind 2: the PageMap of process PID
//	pages-PID.img      raw page data of process PID
//	COMPLETE           record kind 3: name, size and (for records) CRC32C
//	                   of every other file; written last
//
// DirWriter writes each file under a ".tmp" name, fsyncs it, renames it
// into place and fsyncs the directory; Finish writes COMPLETE the same way.
// OpenDir refuses a directory without COMPLETE, so an interrupted
// checkpoint never looks complete, and checks every file against it.
//
// # Errors
//
// Bad input gives an *Error, never a panic, e.g.
// "image: checkpoint.img: checksum mismatch", "image: truncated at byte 40",
// "image: version 9 not supported (this build reads 1)",
// "image: process 42 vma 3 (0x1000-0x3000): overlaps previous".
// Test the cause with errors.Is and the sentinels (ErrChecksum,
// ErrTruncated, ErrVersion, ErrInvalid, ErrIncomplete, ...).
//
// Nothing in this package logs. It imports only the standard library.
package image
