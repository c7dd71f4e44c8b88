// Package transport moves bytes between two migration daemons: mutually
// authenticated QUIC connections (quic-go, TLS 1.3, ALPN "migrate/1"), a
// control stream of typed messages, and page streams that carry process
// memory in compressed batches. It never reads or builds processes and it
// does not log: every failure is returned.
//
// In a nutshell, it works as follows.
//
// Every node holds an [Identity]: a certificate issued by the cluster CA
// ([NewCA], [IssueNode]) whose CommonName and DNS name are the node name.
// [Listen] requires and verifies the client's certificate against the CA;
// [Dial] verifies the server's chain and, when given, its node name. A peer
// of another CA fails the handshake with [ErrNotClusterCA] on the side that
// checks it, or [ErrRejected] on the side that was refused. In TLS 1.3 a
// client completes its handshake before the server has checked the client
// certificate, so the listener greets every client it accepts with a
// one-way "hello" stream (preface kind 3) and Dial returns only after it:
// a refused client learns it from Dial.
//
// A [Conn] carries bidirectional QUIC streams. Each begins with a 4-byte
// preface, "mg", the protocol version (1) and the kind (1 control, 2
// pages), by which the receiving side routes it to [Conn.AcceptControl] or
// [Conn.AcceptPages].
//
// Control frames are little-endian:
//
//	+--------+--------+----------------+------------------+
//	| type   | flags  | length         | payload          |
//	| u16    | u16 =0 | u32 <= 16 MiB  | length bytes     |
//	+--------+--------+----------------+------------------+
//
// A page stream goes one way. Pages come in two ways. A reader can read
// them straight into a batch buffer that the sender lends it
// ([PageSender.Lend]), and hand it back with the pages' addresses and zero
// marks ([PageSender.Commit]): the read is then the only copy of a page on
// the sending side. Or the caller's goroutine hands pages over and they
// are copied into a batch buffer ([PageSender.AddData] finds zero pages
// and keeps them as bits). A second goroutine compresses the full batch
// with lz4 into its spare buffer, keeping the result only when it is
// smaller than the non-zero pages; a third writes the batch to the stream
// in a single write (1 MiB by default). Three buffers circulate (and the
// compressor's spare), so that reading memory, compressing and sending
// overlap while memory stays bounded. Round markers
// ([PageSender.EndRound]) and an end marker follow the data; the receiver
// answers the end marker with an ack that counts rounds, batches and
// pages, so that [PageSender.Close] returning nil means that the receiving
// application got every page.
//
// A batch is a 40-byte header, the extents, the zero bitmap and the data:
//
//	 0      1      2      3      4             8
//	+------+------+------+------+-------------+-------------------------+
//	| 'B'  | kind | comp | flags| round u32   | base address u64        |
//	+------+------+------+------+-------------+-------------------------+
//	16            20            24            28            32          36
//	+-------------+-------------+-------------+-------------+-----------+-----------+
//	| npages u32  | nexts u32   | extLen u32  | bitmapLen   | rawLen    | wireLen   |
//	+-------------+-------------+-------------+-------------+-----------+-----------+
//	40
//	+---------------------------+------------------------+---------------------+
//	| extents: nexts x          | zero bitmap:           | data: the non-zero  |
//	| (uvarint gap, uvarint n)  | bitmapLen bytes        | pages (every page   |
//	| extLen bytes              | bit i = page i is zero | if dense), raw or   |
//	|                           |                        | one lz4 block       |
//	+---------------------------+------------------------+---------------------+
//
// The fields:
//
//   - kind: 1 pages, 2 end of round, 3 end of stream. Markers have every
//     field zero but the round.
//   - comp: 0 none (wireLen = rawLen), 1 lz4 block (wireLen < rawLen; it
//     decompresses to exactly rawLen bytes).
//   - flags: bit 0 "all zero": no bitmap and no data. Bit 1 "dense": the
//     data, once decompressed, holds every page of the extents in order,
//     zero pages included (their bytes are ignored: the bitmap says they
//     are zero); a sender that read pages into its buffer sends them where
//     they lie, and lz4 turns a zero page into a few bytes. A dense batch
//     is lz4 (comp 1), has at least one zero and one non-zero page, and its
//     block is smaller than 4096 x its non-zero pages (else those go raw,
//     without the zero pages). Both bits, or any other, are refused.
//   - round: in a round marker, the number the sender gave the round; the
//     numbers increase. In other batches, the round in progress: one more
//     than the last round ended, 0 before the first. The receiver checks
//     that batches and markers come in this order.
//   - extents: runs of contiguous pages in ascending address order. The
//     first starts at the base address (gap 0); each next one starts gap
//     pages (>= 1) after the end of the previous one. n >= 1 pages each,
//     npages in all. A batch thus covers non-contiguous memory compactly.
//   - bitmap: one bit per page of the batch, least significant bit first;
//     ceil(npages/8) bytes, padding bits 0. Zero pages carry no data
//     (but in dense batches).
//   - rawLen: 4096 x the number of non-zero pages; 4096 x npages if dense.
//
// Limits, checked before anything is allocated: npages <= 2^18 (1 GiB of
// memory), nexts <= 2048, addresses below 2^63, rawLen <= 16 MiB. Every
// decoder is bounds-checked and fuzzed (FuzzControlFrame, FuzzBatch).
//
// After the end marker the sender closes its side; the receiver checks
// that the stream ends there, writes the 24-byte ack ('A', 3 zero bytes,
// u32 round in progress, u64 data batches, u64 pages) and closes its side.
//
// Integrity is QUIC's (AEAD per packet): frames and batches carry no
// checksum. Blocking calls take a context; cancelling it unblocks them
// through the stream deadlines. The context given to [Conn.OpenPages]
// bounds the whole life of the sender, whose methods take none.
package transport
