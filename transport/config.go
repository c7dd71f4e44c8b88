package transport

import (
	"fmt"
	"time"

	"github.com/quic-go/quic-go"
)

// Defaults and limits of [Config].
const (
	// DefaultMaxBatch keeps a batch inside a core's L2 cache (512 KiB on
	// the development VM) between the read or receive that fills it and
	// the send or write that empties it: against 1 MiB, the page stream's
	// share of bare quic-go was 78% against 73%, 85% against 80% and 93%
	// against 86% in three A/B runs of 1 GiB (README, Benchmarks).
	DefaultMaxBatch         = 256 << 10
	DefaultStreams          = 1
	DefaultIdleTimeout      = 5 * time.Second // keep-alives every third of it
	DefaultHandshakeTimeout = 10 * time.Second

	// MaxBatchLimit is the largest MaxBatch accepted; receivers refuse
	// batches whose page data is larger.
	MaxBatchLimit = 16 << 20
	// MaxStreams is the largest Streams accepted.
	MaxStreams = 64

	minIdleTimeout = 100 * time.Millisecond
)

// Config tunes a connection. Numeric fields follow the zero-value-means-default
// rule; Compress has no such default (false is a real choice), so start from
// [DefaultConfig] to get lz4 on.
type Config struct {
	// Compress compresses page data with lz4 when that makes it smaller.
	Compress bool
	// MaxBatch is the number of bytes of page data per batch, a multiple of
	// the page size (default 256 KiB, at most MaxBatchLimit). Zero pages do
	// not count: they travel as bits.
	MaxBatch int
	// Streams is the number of page streams that may be open at once in
	// each direction (default 1). Both peers should use the same value.
	Streams int
	// IdleTimeout closes a connection whose peer went silent (default 30 s).
	// Keep-alives are sent at a third of it.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds the QUIC+TLS handshake and the wait for the
	// first bytes of a new stream (default 10 s).
	HandshakeTimeout time.Duration
}

// DefaultConfig returns the configuration to start from: lz4 on, 256 KiB
// batches, one page stream, 30 s idle timeout.
func DefaultConfig() Config {
	return Config{Compress: true}.withDefaults()
}

// withDefaults fills the zero fields with their defaults.
func (c Config) withDefaults() Config {
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.Streams == 0 {
		c.Streams = DefaultStreams
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	return c
}

// validate rejects values out of range; call it after withDefaults.
func (c Config) validate() error {
	switch {
	case c.MaxBatch < PageSize || c.MaxBatch > MaxBatchLimit || c.MaxBatch%PageSize != 0:
		return fmt.Errorf("%w: MaxBatch %d: want a multiple of %d in [%d, %d]",
			ErrConfig, c.MaxBatch, PageSize, PageSize, MaxBatchLimit)
	case c.Streams < 1 || c.Streams > MaxStreams:
		return fmt.Errorf("%w: Streams %d: want 1..%d", ErrConfig, c.Streams, MaxStreams)
	case c.IdleTimeout < minIdleTimeout:
		return fmt.Errorf("%w: IdleTimeout %v: want at least %v", ErrConfig, c.IdleTimeout, minIdleTimeout)
	case c.HandshakeTimeout < 0:
		return fmt.Errorf("%w: HandshakeTimeout %v is negative", ErrConfig, c.HandshakeTimeout)
	}
	return nil
}

// populate applies the defaults and validates.
func (c Config) populate() (Config, error) {
	c = c.withDefaults()
	return c, c.validate()
}

// quicConfig derives the quic-go configuration. The flow-control windows are
// large enough for several batches in flight; GSO stays on (quic-go's
// default), which halves the per-packet cost. A client accepts the one
// unidirectional stream that carries the server's hello; a server none.
func (c Config) quicConfig(client bool) *quic.Config {
	uni := int64(-1)
	if client {
		uni = 1
	}
	q := c.BareQUICConfig()
	// Page streams, the control stream and one spare.
	q.MaxIncomingStreams, q.MaxIncomingUniStreams = int64(c.Streams)+2, uni
	return q
}

// BareQUICConfig is the quic-go configuration migrations use (timeouts and
// flow-control windows) without their stream limits: for measuring bare
// quic-go under the same conditions.
func (c Config) BareQUICConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:           c.HandshakeTimeout,
		MaxIdleTimeout:                 c.IdleTimeout,
		KeepAlivePeriod:                c.IdleTimeout / 3,
		InitialStreamReceiveWindow:     4 << 20,
		MaxStreamReceiveWindow:         32 << 20,
		InitialConnectionReceiveWindow: 8 << 20,
		MaxConnectionReceiveWindow:     64 << 20,
	}
}
