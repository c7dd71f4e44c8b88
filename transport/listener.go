package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// Listener accepts connections from nodes of the cluster.
type Listener struct {
	cfg      Config
	udp      net.PacketConn
	tr       *quic.Transport
	ln       *quic.Listener
	accepted chan *Conn
	loopDone chan struct{}

	mu    sync.Mutex
	conns map[*Conn]struct{} // accepted by the loop and still open
}

// acceptQueue is the number of connections that wait for Accept.
const acceptQueue = 16

// Listen listens on the UDP address addr ("host:port") and authenticates
// peers with id.
func Listen(ctx context.Context, addr string, id *Identity, cfg Config) (*Listener, error) {
	cfg, err := cfg.populate()
	if err != nil {
		return nil, err
	}
	if id == nil {
		return nil, errors.New("listen: no identity")
	}
	var lc net.ListenConfig
	udp, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	tr := &quic.Transport{Conn: udp}
	ln, err := tr.Listen(id.ServerTLS(), cfg.quicConfig(false))
	if err != nil {
		tr.Close()
		udp.Close()
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	l := &Listener{
		cfg: cfg, udp: udp, tr: tr, ln: ln,
		accepted: make(chan *Conn, acceptQueue),
		loopDone: make(chan struct{}),
		conns:    map[*Conn]struct{}{},
	}
	go l.loop()
	return l, nil
}

// loop completes the connections: it greets every client whose handshake
// succeeded (see sendHello) and queues it for Accept.
func (l *Listener) loop() {
	defer close(l.loopDone)
	for {
		qc, err := l.ln.Accept(context.Background())
		if err != nil {
			return
		}
		if err := sendHello(qc, l.cfg.HandshakeTimeout); err != nil {
			qc.CloseWithError(codeNoError, "")
			continue
		}
		c := newConn(qc, l.cfg, nil)
		l.track(c)
		select {
		case l.accepted <- c:
		default:
			c.CloseWithError(0, "too many connections waiting")
		}
	}
}

// track keeps c until it closes, so that Close can close it.
func (l *Listener) track(c *Conn) {
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	context.AfterFunc(c.qc.Context(), func() {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
	})
}

// Accept waits for the next connection. Peers whose certificate does not
// chain to the cluster CA never get here: their handshake fails and they
// see the error.
func (l *Listener) Accept(ctx context.Context) (*Conn, error) {
	select {
	case c := <-l.accepted:
		return c, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("accept: %w", ctx.Err())
	case <-l.loopDone:
		return nil, fmt.Errorf("accept: %w", net.ErrClosed)
	}
}

// Addr returns the local UDP address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting, closes every connection accepted from l (telling
// the peers) and releases the socket.
func (l *Listener) Close() error {
	err := l.ln.Close()
	<-l.loopDone
	l.mu.Lock()
	conns := make([]*Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	l.tr.Close()
	return errors.Join(err, l.udp.Close())
}

// sendHello tells the client that its certificate was accepted. In TLS 1.3
// the client finishes its handshake before the server checks the client
// certificate, so without it Dial would succeed for a refused client.
func sendHello(qc *quic.Conn, timeout time.Duration) error {
	s, err := qc.OpenUniStream()
	if err != nil {
		return err
	}
	s.SetWriteDeadline(time.Now().Add(timeout))
	p := preface(kindHello)
	if _, err := s.Write(p[:]); err != nil {
		return err
	}
	return s.Close()
}

// awaitHello waits for the server's hello, or for the error that closed
// the connection (a refused certificate).
func awaitHello(ctx context.Context, qc *quic.Conn) error {
	s, err := qc.AcceptUniStream(ctx)
	if err != nil {
		return err
	}
	stop := watch(ctx, func() { s.SetReadDeadline(past) })
	defer stop()
	p, err := io.ReadAll(io.LimitReader(s, prefaceLen+1))
	if err != nil {
		return err
	}
	if len(p) != prefaceLen {
		return protoErrorf("hello of %d bytes", len(p))
	}
	if kind, err := parsePreface([prefaceLen]byte(p)); err != nil || kind != kindHello {
		return protoErrorf("bad hello %x", p)
	}
	return nil
}
