package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ALPN is the application protocol negotiated on every connection.
const ALPN = "migrate/1"

// ServerTLS is the TLS configuration of a listening node: it requires a
// client certificate that chains to the cluster CA.
func (id *Identity) ServerTLS() *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{id.Certificate},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        id.CAs,
		NextProtos:       []string{ALPN},
		VerifyConnection: checkPeerName(""),
	}
}

// ClientTLS is the TLS configuration of a dialling node: it verifies that
// the server chains to the cluster CA and, unless peer is "", that it is
// the node called peer.
func (id *Identity) ClientTLS(peer string) *tls.Config {
	c := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{id.Certificate},
		RootCAs:          id.CAs,
		ServerName:       peer,
		NextProtos:       []string{ALPN},
		VerifyConnection: checkPeerName(peer),
	}
	if peer == "" {
		// Any node of the cluster will do: crypto/tls would insist on a
		// server name, so the chain is verified by hand instead.
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := verifyChain(cs.PeerCertificates, id.CAs); err != nil {
				return err
			}
			return checkPeerName("")(cs)
		}
	}
	return c
}

// checkPeerName returns a VerifyConnection callback that requires a node
// name in the peer certificate, equal to want unless want is "".
func checkPeerName(want string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("peer sent no certificate")
		}
		cn := cs.PeerCertificates[0].Subject.CommonName
		if cn == "" {
			return errors.New("peer certificate has no node name (CommonName)")
		}
		if want != "" && cn != want {
			return fmt.Errorf("%w: want %q, peer is %q", ErrWrongPeer, want, cn)
		}
		return nil
	}
}

// verifyChain verifies a server chain against the cluster CA.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return errors.New("peer sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return fmt.Errorf("%w: %w", ErrNotClusterCA, err)
	}
	return err
}

// peerName returns the verified node name of a connection's peer.
func peerName(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return cs.PeerCertificates[0].Subject.CommonName
}
