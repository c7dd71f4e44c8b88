package transport

import (
	"github.com/migrate-dev/migrate/internal/atomicfile"

	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files of an identity directory.
const (
	CAFile      = "ca.pem"
	CertFile    = "node.pem"
	KeyFile     = "node-key.pem"
	maxNodeName = 253
	validity    = 10 * 365 * 24 * time.Hour
	clockSkew   = time.Hour
)

// Identity is a node's TLS identity: its certificate and key, and the pool
// of the cluster CA that every peer must chain to.
type Identity struct {
	Certificate tls.Certificate
	CAs         *x509.CertPool
}

// Name returns the node name: the CommonName of the node certificate.
func (id *Identity) Name() string {
	leaf, err := leafOf(&id.Certificate)
	if err != nil {
		return ""
	}
	return leaf.Subject.CommonName
}

// leafOf returns the parsed leaf of cert.
func leafOf(cert *tls.Certificate) (*x509.Certificate, error) {
	if cert.Leaf != nil {
		return cert.Leaf, nil
	}
	if len(cert.Certificate) == 0 {
		return nil, errors.New("no certificate")
	}
	return x509.ParseCertificate(cert.Certificate[0])
}

// NewCA creates a self-signed ECDSA P-256 cluster CA valid for ten years.
func NewCA(name string) (certPEM, keyPEM []byte, err error) {
	if name == "" {
		return nil, nil, errors.New("new CA: empty name")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("new CA: %w", err)
	}
	tmpl, err := template(name)
	if err != nil {
		return nil, nil, fmt.Errorf("new CA: %w", err)
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("new CA: %w", err)
	}
	return encodePair(der, key)
}

// IssueNode issues a certificate for node signed by the CA: CommonName and
// DNS SAN are the node name, IP SANs are ips, and it serves both as server
// and as client certificate.
func IssueNode(caCertPEM, caKeyPEM []byte, node string, ips []net.IP) (certPEM, keyPEM []byte, err error) {
	if err := checkNodeName(node); err != nil {
		return nil, nil, err
	}
	ca, err := tls.X509KeyPair(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("issue %q: CA key pair: %w", node, err)
	}
	caLeaf, err := leafOf(&ca)
	if err != nil {
		return nil, nil, fmt.Errorf("issue %q: CA certificate: %w", node, err)
	}
	if !caLeaf.IsCA {
		return nil, nil, fmt.Errorf("issue %q: the CA certificate is not a CA", node)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("issue %q: %w", node, err)
	}
	tmpl, err := template(node)
	if err != nil {
		return nil, nil, fmt.Errorf("issue %q: %w", node, err)
	}
	if tmpl.NotAfter.After(caLeaf.NotAfter) {
		tmpl.NotAfter = caLeaf.NotAfter
	}
	tmpl.DNSNames = []string{node}
	tmpl.IPAddresses = ips
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caLeaf, key.Public(), ca.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("issue %q: %w", node, err)
	}
	return encodePair(der, key)
}

// template returns a certificate template with a random serial.
func template(cn string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(validity),
	}, nil
}

func encodePair(der []byte, key crypto.Signer) (certPEM, keyPEM []byte, err error) {
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})
	return certPEM, keyPEM, nil
}

// checkNodeName accepts DNS-like names: letters, digits, '-' and '.'.
func checkNodeName(node string) error {
	if node == "" || len(node) > maxNodeName {
		return fmt.Errorf("node name %q: want 1..%d characters", node, maxNodeName)
	}
	for i, r := range node {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			(r == '-' || r == '.') && i > 0 && i < len(node)-1
		if !ok {
			return fmt.Errorf("node name %q: only letters, digits, inner '-' and '.'", node)
		}
	}
	return nil
}

// NewIdentity builds an identity from PEM data and checks that the node
// certificate chains to the CA and names a node.
func NewIdentity(caPEM, certPEM, keyPEM []byte) (*Identity, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s: no PEM certificate", CAFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", CertFile, KeyFile, err)
	}
	leaf, err := leafOf(&cert)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CertFile, err)
	}
	if leaf.Subject.CommonName == "" {
		return nil, fmt.Errorf("%s: certificate has no CommonName (node name)", CertFile)
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:     pool,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid certificate of the CA in %s: %w", CertFile, CAFile, err)
	}
	return &Identity{Certificate: cert, CAs: pool}, nil
}

// LoadIdentity reads dir/ca.pem, dir/node.pem and dir/node-key.pem.
func LoadIdentity(dir string) (*Identity, error) {
	var data [3][]byte
	for i, name := range []string{CAFile, CertFile, KeyFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("load identity: %w", err)
		}
		data[i] = b
	}
	id, err := NewIdentity(data[0], data[1], data[2])
	if err != nil {
		return nil, fmt.Errorf("load identity from %s: %w", dir, err)
	}
	return id, nil
}

// WriteIdentity checks the identity and writes it into dir (created 0700)
// as files of mode 0600, each replaced atomically.
func WriteIdentity(dir string, caPEM, certPEM, keyPEM []byte) error {
	if _, err := NewIdentity(caPEM, certPEM, keyPEM); err != nil {
		return fmt.Errorf("write identity: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write identity: %w", err)
	}
	files := map[string][]byte{CAFile: caPEM, CertFile: certPEM, KeyFile: keyPEM}
	for name, data := range files {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("write identity: %w", err)
		}
	}
	return nil
}
