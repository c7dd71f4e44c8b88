package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/migrate-dev/migrate/internal/cli"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/self"
	"github.com/migrate-dev/migrate/transport"
	"github.com/quic-go/quic-go"
	"golang.org/x/sys/unix"
)

// The physical limit: a bare quic-go transfer between the two lab hosts,
// one stream of 1 MiB writes, with the TLS settings of transport
// (Identity.ServerTLS/ClientTLS) and the QUIC settings of migrations
// without their stream limits (Config.BareQUICConfig). The harness runs
// `bench quic-sink` in h2 and `bench quic-source` in h1, each a process
// of its own.

const (
	quicChunk = 1 << 20
	quicPort  = 7950
)

// quicResult is what quic-source prints as one JSON line.
type quicResult struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	CPUS    float64 `json:"cpu_s"`      // the source's CPU time
	SinkCPU float64 `json:"sink_cpu_s"` // the sink's, from its ack
	GSO     bool    `json:"gso"`
}

func (r quicResult) gibps() float64 { return float64(r.Bytes) / (1 << 30) / r.Seconds }

// writeIdentities makes a throwaway CA and an identity per host under dir
// (dir/NAME), for the bare QUIC measurement.
func writeIdentities(dir string, hosts map[string]net.IP) error {
	caPEM, caKey, err := transport.NewCA("bench CA")
	if err != nil {
		return err
	}
	for name, ip := range hosts {
		cert, key, err := transport.IssueNode(caPEM, caKey, name, []net.IP{ip})
		if err != nil {
			return err
		}
		if err := transport.WriteIdentity(filepath.Join(dir, name), caPEM, cert, key); err != nil {
			return err
		}
	}
	return nil
}

// cpuSeconds is this process's CPU time in seconds (0 if unreadable).
func cpuSeconds() float64 {
	d, _ := self.CPUTime()
	return d.Seconds()
}

// runQUICSink: quic-sink --id DIR --listen ADDR. Prints LISTENING, takes
// one connection and one stream, discards it, and acknowledges the byte
// count and its CPU time.
func runQUICSink(args []string) error {
	fs := cli.NewFlagSet("bench quic-sink", "--id DIR --listen ADDR", "")
	idDir := fs.String("id", "", "identity directory")
	addr := fs.String("listen", "", "UDP address to listen on")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after")
	copyMiB := fs.Int("copy", 0, "write what arrives, up to this many MiB, into fresh pages with UFFDIO_COPY, as a migration's destination does")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	id, err := transport.LoadIdentity(*idDir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ln, err := quic.ListenAddr(*addr, id.ServerTLS(), transport.DefaultConfig().BareQUICConfig())
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println("LISTENING")
	qc, err := ln.Accept(ctx)
	if err != nil {
		return err
	}
	s, err := qc.AcceptStream(ctx)
	if err != nil {
		return err
	}
	buf := make([]byte, quicChunk)
	var n int64
	if *copyMiB > 0 {
		f, ferr := newFreshPages(*copyMiB)
		if ferr != nil {
			return ferr
		}
		defer f.Close()
		n, err = f.readFrom(s, buf)
	} else {
		n, err = io.CopyBuffer(io.Discard, s, buf)
	}
	if err != nil {
		return err
	}
	ack := binary.LittleEndian.AppendUint64(nil, uint64(n))
	ack = binary.LittleEndian.AppendUint64(ack, uint64(cpuSeconds()*1e9))
	if _, err := s.Write(ack); err != nil {
		return err
	}
	s.Close()
	select { // the source closes the connection once it has the ack
	case <-qc.Context().Done():
	case <-ctx.Done():
	}
	fmt.Printf("RECEIVED %d\n", n)
	return nil
}

// runQUICSource: quic-source --id DIR --addr ADDR --peer NAME --mib N.
// Sends N MiB of random bytes in 1 MiB writes and prints a quicResult.
func runQUICSource(args []string) error {
	fs := cli.NewFlagSet("bench quic-source", "--id DIR --addr ADDR --peer NAME --mib N", "")
	idDir := fs.String("id", "", "identity directory")
	addr := fs.String("addr", "", "the sink's UDP address")
	peer := fs.String("peer", "", "the sink's node name")
	mib := fs.Int("mib", 1024, "MiB to send")
	copyOut := fs.Bool("copy", false, "read each MiB out of memory with process_vm_readv first, as a migration's source does")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	id, err := transport.LoadIdentity(*idDir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	qc, err := quic.DialAddr(ctx, *addr, id.ClientTLS(*peer), transport.DefaultConfig().BareQUICConfig())
	if err != nil {
		return err
	}
	defer qc.CloseWithError(0, "")
	r, err := sendAll(ctx, qc, *mib, *copyOut)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

func sendAll(ctx context.Context, qc *quic.Conn, mib int, copyOut bool) (quicResult, error) {
	buf := make([]byte, quicChunk)
	rand.Read(buf)
	var region []byte
	if copyOut {
		var err error
		if region, err = filledRegion(buf, mib); err != nil {
			return quicResult{}, err
		}
		defer unix.Munmap(region)
	}
	cpu0, start := cpuSeconds(), time.Now()
	s, err := qc.OpenStreamSync(ctx)
	if err != nil {
		return quicResult{}, err
	}
	for i := range mib {
		if copyOut {
			if err := linux.ReadMem(os.Getpid(), linux.SliceAddr(region[i*quicChunk:]), buf); err != nil {
				return quicResult{}, err
			}
		}
		if _, err := s.Write(buf); err != nil {
			return quicResult{}, err
		}
	}
	s.Close()
	ack := make([]byte, 16)
	if _, err := io.ReadFull(s, ack); err != nil {
		return quicResult{}, fmt.Errorf("no ack from the sink: %w", err)
	}
	r := quicResult{
		Bytes:   int64(binary.LittleEndian.Uint64(ack)),
		Seconds: time.Since(start).Seconds(),
		CPUS:    cpuSeconds() - cpu0,
		SinkCPU: float64(binary.LittleEndian.Uint64(ack[8:])) / 1e9,
		GSO:     qc.ConnectionState().GSO,
	}
	if r.Bytes != int64(mib)*quicChunk {
		return r, errors.New("the sink received " + fmt.Sprint(r.Bytes) + " bytes, not all")
	}
	return r, nil
}

// filledRegion maps mib MiB and fills it with copies of chunk, touching
// every page: what a migration's source reads pages out of.
func filledRegion(chunk []byte, mib int) ([]byte, error) {
	region, err := unix.Mmap(-1, 0, mib*quicChunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mmap %d MiB: %w", mib, err)
	}
	for i := range mib {
		copy(region[i*quicChunk:], chunk)
	}
	return region, nil
}

// freshPages puts what it reads into pages never touched before, with
// UFFDIO_COPY (the kernel allocates each page and copies into it), as a
// migration's destination writes a process's memory. Its region is
// registered for missing pages.
type freshPages struct {
	region []byte
	uffd   int
	off    uint64
}

func newFreshPages(mib int) (*freshPages, error) {
	region, err := unix.Mmap(-1, 0, mib<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mmap %d MiB: %w", mib, err)
	}
	uffd, err := linux.UffdMissing(linux.SliceAddr(region), uint64(len(region)))
	if err != nil {
		unix.Munmap(region)
		return nil, err
	}
	return &freshPages{region: region, uffd: uffd}, nil
}

// readFrom reads r to its end in chunks of len(buf), copying each into
// the next fresh pages, and returns the bytes read. The stream must be
// whole pages.
func (f *freshPages) readFrom(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, err := io.ReadFull(r, buf)
		if k%linux.PageSize != 0 || f.off+uint64(k) > uint64(len(f.region)) {
			return n, fmt.Errorf("fresh pages: %d bytes at %d (whole pages, %d MiB at most)", k, f.off, len(f.region)>>20)
		}
		if k > 0 {
			if _, err := linux.UffdCopy(f.uffd, linux.SliceAddr(f.region)+f.off, buf[:k]); err != nil {
				return n, err
			}
			f.off += uint64(k)
			n += int64(k)
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return n, nil
		case err != nil:
			return n, err
		}
	}
}

func (f *freshPages) Close() error {
	unix.Close(f.uffd)
	return unix.Munmap(f.region)
}

// hidden subcommands of the bench binary, run inside lab hosts.
var subcommands = map[string]func([]string) error{
	"quic-sink":   runQUICSink,
	"quic-source": runQUICSource,
}
