package transport

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/quic-go/quic-go"
)

// Errors callers can test with errors.Is.
var (
	// ErrNotClusterCA: the peer's certificate does not chain to our CA.
	ErrNotClusterCA = errors.New("peer certificate is not signed by the cluster CA")
	// ErrRejected: the peer refused our certificate (it does not chain to
	// the peer's CA, or it expired).
	ErrRejected = errors.New("peer rejected our certificate: it is not signed by the peer's cluster CA")
	// ErrWrongPeer: the peer is a node of the cluster, but not the expected one.
	ErrWrongPeer = errors.New("peer is not the expected node")
	// ErrConfig: a Config field is out of range.
	ErrConfig = errors.New("invalid transport config")
	// ErrProtocol: the peer sent bytes that break the wire format.
	ErrProtocol = errors.New("transport protocol violation")
	// ErrFrameTooLarge: a control frame exceeds MaxFrameSize.
	ErrFrameTooLarge = errors.New("control frame too large")
	// ErrClosed: the sender or receiver was already closed.
	ErrClosed = errors.New("page stream closed")
	// ErrStaleBatch: Each was called on a batch whose data a later batch
	// (or a failure of the stream) took.
	ErrStaleBatch = errors.New("batch used after a later batch took its place")
	// ErrNotAcked: the receiver's acknowledgement does not match what was sent.
	ErrNotAcked = errors.New("receiver did not acknowledge every page")
)

// Application error codes on connections and streams. Append only.
const (
	codeNoError  quic.ApplicationErrorCode = 0
	codeCanceled quic.StreamErrorCode      = 1
	codeProtocol quic.StreamErrorCode      = 2
)

// TLS alerts a server sends when it refuses a client certificate.
const (
	alertBadCertificate     = 42
	alertCertificateUnknown = 46
	alertUnknownCA          = 48
	// A client whose certificates match none of the CAs the server asks
	// for sends none, and the server then requires one.
	alertCertificateRequired = 116
)

// protoErrorf returns an error wrapping ErrProtocol.
func protoErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// classifyHandshake puts a name on a failed handshake so that the caller can
// tell a foreign CA or a wrong node from a network problem.
func classifyHandshake(err error) error {
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) && !errors.Is(err, ErrNotClusterCA) {
		return fmt.Errorf("%w: %w", ErrNotClusterCA, err)
	}
	var host x509.HostnameError
	if errors.As(err, &host) && !errors.Is(err, ErrWrongPeer) {
		return fmt.Errorf("%w: %w", ErrWrongPeer, err)
	}
	var te *quic.TransportError
	if errors.As(err, &te) && te.Remote && te.ErrorCode.IsCryptoError() {
		switch te.ErrorCode - 0x100 {
		case alertBadCertificate, alertCertificateUnknown, alertUnknownCA, alertCertificateRequired:
			return fmt.Errorf("%w: %w", ErrRejected, err)
		}
	}
	return err
}
