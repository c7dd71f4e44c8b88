package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIdentityFiles(t *testing.T) {
	c := newCluster(t, "files-ca")
	cert, key, err := IssueNode(c.caPEM, c.caKey, "node-x", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "id")
	if err := WriteIdentity(dir, c.caPEM, cert, key); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir: %v %v", st.Mode(), err)
	}
	for _, name := range []string{CAFile, CertFile, KeyFile} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, st.Mode(), err)
		}
	}
	id, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id.Name() != "node-x" {
		t.Errorf("Name() = %q", id.Name())
	}
	leaf := id.Certificate.Leaf
	if leaf.NotAfter.Before(time.Now().Add(9 * 365 * 24 * time.Hour)) {
		t.Errorf("node certificate expires %v", leaf.NotAfter)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "node-x" {
		t.Errorf("DNS names %v", leaf.DNSNames)
	}
}

func TestLoadIdentityErrors(t *testing.T) {
	c, other := newCluster(t, "a-ca"), newCluster(t, "b-ca")
	cert, key, err := IssueNode(c.caPEM, c.caKey, "node-y", nil)
	if err != nil {
		t.Fatal(err)
	}
	write := func(files map[string][]byte) string {
		dir := t.TempDir()
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"missing key", map[string][]byte{CAFile: c.caPEM, CertFile: cert}, KeyFile},
		{"missing ca", map[string][]byte{CertFile: cert, KeyFile: key}, CAFile},
		{"bad ca", map[string][]byte{CAFile: []byte("junk"), CertFile: cert, KeyFile: key}, CAFile},
		{"bad cert", map[string][]byte{CAFile: c.caPEM, CertFile: []byte("junk"), KeyFile: key}, CertFile},
		{"wrong key", map[string][]byte{CAFile: c.caPEM, CertFile: cert, KeyFile: c.caKey}, KeyFile},
		{"other CA", map[string][]byte{CAFile: other.caPEM, CertFile: cert, KeyFile: key}, CAFile},
	}
	for _, tt := range tests {
		_, err := LoadIdentity(write(tt.files))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
	if err := WriteIdentity(t.TempDir(), other.caPEM, cert, key); err == nil {
		t.Error("WriteIdentity accepted a certificate of another CA")
	}
	if _, _, err := IssueNode(c.caPEM, c.caKey, "bad name!", nil); err == nil {
		t.Error("IssueNode accepted a bad node name")
	}
}

func TestMutualTLS(t *testing.T) {
	cfg := DefaultConfig()
	dialed, accepted, _ := connPair(t, cfg)
	if dialed.PeerName() != "node-b" || accepted.PeerName() != "node-a" {
		t.Fatalf("peer names %q, %q", dialed.PeerName(), accepted.PeerName())
	}
	st := dialed.qc.ConnectionState().TLS
	if st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != ALPN {
		t.Errorf("TLS version %x, ALPN %q", st.Version, st.NegotiatedProtocol)
	}
	if !dialed.GSO() {
		t.Log("GSO is off on this machine")
	}
	// Any node of the cluster will do.
	a, b := testIDs(t)
	l := listen(t, b, cfg)
	c, err := Dial(testCtx(t, 5*time.Second), l.Addr().String(), a, "", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.PeerName() != "node-b" {
		t.Errorf("peer %q", c.PeerName())
	}
}

func TestWrongPeerName(t *testing.T) {
	a, b := testIDs(t)
	l := listen(t, b, DefaultConfig())
	_, err := Dial(testCtx(t, 5*time.Second), l.Addr().String(), a, "node-c", DefaultConfig())
	if !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("got %v, want ErrWrongPeer", err)
	}
}

// A node of another CA can neither dial in nor be dialed.
func TestForeignCA(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HandshakeTimeout = 3 * time.Second
	a, b := testIDs(t)
	foreign := newCluster(t, "evil-ca").node(t, "node-b")
	l := listen(t, b, cfg)
	addr := l.Addr().String()

	_, err := Dial(testCtx(t, 5*time.Second), addr, foreign, "", cfg)
	if !errors.Is(err, ErrNotClusterCA) || !strings.Contains(err.Error(), "not signed by the cluster CA") {
		t.Errorf("foreign dialer: got %v, want ErrNotClusterCA", err)
	}

	fl := listen(t, foreign, cfg)
	_, err = Dial(testCtx(t, 5*time.Second), fl.Addr().String(), a, "node-b", cfg)
	if !errors.Is(err, ErrNotClusterCA) {
		t.Errorf("dialing a foreign node: got %v, want ErrNotClusterCA", err)
	}

	// A foreign node that trusts our CA still has a foreign certificate:
	// our listener refuses it.
	trusting := &Identity{Certificate: foreign.Certificate, CAs: x509.NewCertPool()}
	trusting.CAs.AddCert(caOf(t, a))
	_, err = Dial(testCtx(t, 5*time.Second), addr, trusting, "node-b", cfg)
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "cluster CA") {
		t.Errorf("foreign certificate: got %v, want ErrRejected", err)
	}
	if c, err := l.Accept(testCtx(t, 300*time.Millisecond)); err == nil {
		t.Errorf("listener accepted %q", c.PeerName())
	}
}

// caOf returns the CA certificate that issued id.
func caOf(t *testing.T, id *Identity) *x509.Certificate {
	chains, err := id.Certificate.Leaf.Verify(x509.VerifyOptions{
		Roots: id.CAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		t.Fatal(err)
	}
	return chains[0][len(chains[0])-1]
}

func TestConfig(t *testing.T) {
	if c := DefaultConfig(); !c.Compress || c.MaxBatch != 256<<10 || c.Streams != 1 || c.validate() != nil {
		t.Errorf("DefaultConfig() = %+v", c)
	}
	bad := []Config{
		{MaxBatch: 1000},
		{MaxBatch: 2 * MaxBatchLimit},
		{Streams: -1},
		{Streams: MaxStreams + 1},
		{IdleTimeout: time.Millisecond},
		{HandshakeTimeout: -time.Second},
	}
	for _, c := range bad {
		if _, err := c.populate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: got %v, want ErrConfig", c, err)
		}
	}
	a, _ := testIDs(t)
	if _, err := Listen(testCtx(t, time.Second), "127.0.0.1:0", a, bad[0]); !errors.Is(err, ErrConfig) {
		t.Errorf("Listen with a bad config: %v", err)
	}
}
