package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// Dial connects to the node listening on addr. peerName is the node name
// expected in the peer's certificate; "" accepts any node of the cluster.
func Dial(ctx context.Context, addr string, id *Identity, peerName string, cfg Config) (*Conn, error) {
	cfg, err := cfg.populate()
	if err != nil {
		return nil, err
	}
	if id == nil {
		return nil, errors.New("dial: no identity")
	}
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	network := "udp"
	if raddr.IP.To4() != nil {
		network = "udp4"
	}
	udp, err := net.ListenUDP(network, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	tr := &quic.Transport{Conn: udp}
	release := func() {
		tr.Close()
		udp.Close()
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	qc, err := tr.Dial(ctx, raddr, id.ClientTLS(peerName), cfg.quicConfig(true))
	if err == nil {
		err = awaitHello(ctx, qc)
	}
	if err != nil {
		if qc != nil {
			qc.CloseWithError(codeNoError, "")
		}
		release()
		return nil, fmt.Errorf("dial %s: %w", addr, classifyHandshake(err))
	}
	return newConn(qc, cfg, release), nil
}

// Conn is an authenticated connection to another node. It carries one
// control stream per direction and page streams.
type Conn struct {
	qc      *quic.Conn
	cfg     Config
	peer    string
	release func() // closes a dialer's own socket; nil for accepted conns

	ctrl  chan *quic.Stream
	pages chan *quic.Stream
	once  sync.Once
}

func newConn(qc *quic.Conn, cfg Config, release func()) *Conn {
	c := &Conn{
		qc:      qc,
		cfg:     cfg,
		peer:    peerName(qc.ConnectionState().TLS),
		release: release,
		ctrl:    make(chan *quic.Stream, 1),
		pages:   make(chan *quic.Stream, cfg.Streams),
	}
	if release != nil {
		// The socket outlives no connection, even one the peer closed.
		context.AfterFunc(qc.Context(), func() { c.once.Do(release) })
	}
	go c.acceptLoop()
	return c
}

// PeerName returns the verified node name of the peer.
func (c *Conn) PeerName() string { return c.peer }

// RemoteAddr returns the peer's UDP address.
func (c *Conn) RemoteAddr() net.Addr { return c.qc.RemoteAddr() }

// GSO reports whether UDP generic segmentation offload is in use.
func (c *Conn) GSO() bool { return c.qc.ConnectionState().GSO }

// Close closes the connection at once; streams still sending fail. Close
// page senders first: their Close waits until the peer has every page.
func (c *Conn) Close() error { return c.CloseWithError(0, "") }

// Linger waits until the peer closes the connection or d passes, so that
// a last message written on a stream is delivered before Close (closing
// at once may drop stream data still unsent).
func (c *Conn) Linger(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.qc.Context().Done():
	case <-t.C:
	}
}

// CloseWithError closes the connection, sending code and msg to the peer.
func (c *Conn) CloseWithError(code uint64, msg string) error {
	err := c.qc.CloseWithError(quic.ApplicationErrorCode(code), msg)
	if c.release != nil {
		c.once.Do(c.release)
	}
	return err
}

// closedErr returns the error that ended the connection, wrapped for op.
func (c *Conn) closedErr(op string) error {
	return fmt.Errorf("%s: connection closed: %w", op, context.Cause(c.qc.Context()))
}

// acceptLoop routes incoming streams by their preface until the
// connection ends. The QUIC stream limit bounds the goroutines.
func (c *Conn) acceptLoop() {
	ctx := c.qc.Context()
	for {
		s, err := c.qc.AcceptStream(ctx)
		if err != nil {
			return
		}
		go c.route(s)
	}
}

// route reads the preface of s and queues it for AcceptControl or
// AcceptPages; a stream with a bad or missing preface is reset.
func (c *Conn) route(s *quic.Stream) {
	ch, err := c.classify(s)
	if err == nil {
		select {
		case ch <- s:
			return
		case <-c.qc.Context().Done():
		}
	}
	s.CancelRead(codeProtocol)
	s.CancelWrite(codeProtocol)
}

// classify reads the preface of s and returns the queue for its kind.
func (c *Conn) classify(s *quic.Stream) (chan *quic.Stream, error) {
	ctx, cancel := context.WithTimeout(c.qc.Context(), c.cfg.HandshakeTimeout)
	defer cancel()
	var p [prefaceLen]byte
	if _, err := readFull(ctx, s, p[:]); err != nil {
		return nil, err
	}
	switch kind, err := parsePreface(p); {
	case err != nil:
		return nil, err
	case kind == kindControl:
		return c.ctrl, nil
	case kind == kindPages:
		return c.pages, nil
	default:
		return nil, protoErrorf("stream kind %d on a bidirectional stream", kind)
	}
}

// open opens a stream of the given kind and sends its preface.
func (c *Conn) open(ctx context.Context, kind byte) (*quic.Stream, error) {
	s, err := c.qc.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	p := preface(kind)
	if err := writeAll(ctx, s, p[:]); err != nil {
		s.CancelWrite(codeCanceled)
		s.CancelRead(codeCanceled)
		return nil, err
	}
	return s, nil
}

// accept waits for a stream on ch.
func (c *Conn) accept(ctx context.Context, ch chan *quic.Stream, op string) (*quic.Stream, error) {
	select {
	case s := <-ch:
		return s, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", op, ctx.Err())
	case <-c.qc.Context().Done():
		return nil, c.closedErr(op)
	}
}

// OpenControl opens this side's control stream.
func (c *Conn) OpenControl(ctx context.Context) (*Control, error) {
	s, err := c.open(ctx, kindControl)
	if err != nil {
		return nil, fmt.Errorf("open control stream: %w", err)
	}
	return &Control{s: s}, nil
}

// AcceptControl waits for the control stream the peer opened.
func (c *Conn) AcceptControl(ctx context.Context) (*Control, error) {
	s, err := c.accept(ctx, c.ctrl, "accept control stream")
	if err != nil {
		return nil, err
	}
	return &Control{s: s}, nil
}

// OpenPages opens a page stream. ctx bounds the whole life of the sender,
// not only the opening: cancelling it aborts the stream, and AddData,
// EndRound and Close then fail.
func (c *Conn) OpenPages(ctx context.Context) (*PageSender, error) {
	s, err := c.open(ctx, kindPages)
	if err != nil {
		return nil, fmt.Errorf("open page stream: %w", err)
	}
	return newPageSender(ctx, s, c.cfg), nil
}

// AcceptPages waits for a page stream the peer opened.
func (c *Conn) AcceptPages(ctx context.Context) (*PageReceiver, error) {
	s, err := c.accept(ctx, c.pages, "accept page stream")
	if err != nil {
		return nil, err
	}
	return newPageReceiver(s), nil
}
