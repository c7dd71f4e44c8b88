package cluster

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func startNode(t *testing.T, name string, key []byte, join ...string) *Cluster {
	t.Helper()
	c, err := Start(context.Background(), Config{
		Name:        name,
		BindAddr:    "127.0.0.1",
		BindPort:    -1,
		Join:        join,
		Key:         key,
		Meta:        func() Meta { return Meta{QUICAddr: "127.0.0.1:1", Version: "test-" + name} },
		MetaRefresh: 50 * time.Millisecond,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Leave(time.Second) })
	return c
}

// waitStates waits until c sees exactly the given states.
func waitStates(t *testing.T, c *Cluster, want map[string]State, within time.Duration) []Member {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ms := c.Members()
		got := make(map[string]State)
		for _, m := range ms {
			got[m.Name] = m.State
		}
		if equalStates(got, want) {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sees %v, want %v", c.Name(), got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func equalStates(a, b map[string]State) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestJoinMetaLeave(t *testing.T) {
	a := startNode(t, "a", testKey)
	b := startNode(t, "b", testKey, a.LocalAddr())
	c := startNode(t, "c", testKey, b.LocalAddr())
	all := map[string]State{"a": StateAlive, "b": StateAlive, "c": StateAlive}
	for _, n := range []*Cluster{a, b, c} {
		ms := waitStates(t, n, all, 5*time.Second)
		for _, m := range ms {
			if m.Meta.Version != "test-"+m.Name || m.Meta.QUICAddr != "127.0.0.1:1" {
				t.Errorf("%s sees meta of %s = %+v", n.Name(), m.Name, m.Meta)
			}
		}
	}
	if err := c.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	waitStates(t, a, map[string]State{"a": StateAlive, "b": StateAlive, "c": StateLeft}, 5*time.Second)
}

func TestWrongKeyRejected(t *testing.T) {
	a := startNode(t, "a", testKey)
	other := []byte("fedcba9876543210fedcba9876543210")
	_, err := Start(context.Background(), Config{
		Name: "intruder", BindAddr: "127.0.0.1", BindPort: -1,
		Join: []string{a.LocalAddr()}, Key: other,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err == nil {
		t.Fatal("node with another key joined")
	}
	if !strings.Contains(err.Error(), "join") {
		t.Errorf("error %q does not say join failed", err)
	}
	// Nor does a node without any key get in.
	_, err = Start(context.Background(), Config{
		Name: "plain", BindAddr: "127.0.0.1", BindPort: -1,
		Join: []string{a.LocalAddr()}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err == nil {
		t.Fatal("node without key joined an encrypted cluster")
	}
	time.Sleep(200 * time.Millisecond)
	waitStates(t, a, map[string]State{"a": StateAlive}, time.Second)
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "node name is empty"},
		{Config{Name: "x", BindAddr: "nope"}, `bind address "nope"`},
		{Config{Name: "x", Key: []byte("short")}, "gossip key"},
	} {
		_, err := Start(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v) = %v, want error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestPortInUse(t *testing.T) {
	a := startNode(t, "a", nil)
	port := a.ml.LocalNode().Port
	_, err := Start(context.Background(), Config{Name: "b", BindAddr: "127.0.0.1", BindPort: int(port),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("second node on the same port: %v", err)
	}
}

func TestDecodeMetaHostile(t *testing.T) {
	for _, in := range []string{"", "{", `{"procs":"x"}`, strings.Repeat("a", 600)} {
		m, err := decodeMeta([]byte(in))
		if in == "" {
			if err != nil {
				t.Errorf("empty meta: %v", err)
			}
			continue
		}
		if err == nil || m != (Meta{}) {
			t.Errorf("decodeMeta(%.20q) = %+v, %v", in, m, err)
		}
	}
}

func FuzzDecodeMeta(f *testing.F) {
	b, _ := Meta{QUICAddr: "198.18.0.1:7947", Load1: 0.5, MemAvailable: 1 << 30, Procs: 2, Version: "v"}.encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil && m != (Meta{}) {
			t.Fatalf("error with non-zero meta")
		}
	})
}

// TestFailedNode: a node that stops without leaving is first suspect, then
// dead, and comes back alive when it restarts on the same address.
func TestFailedNode(t *testing.T) {
	t.Parallel()
	a := startNode(t, "a", testKey)
	b := startNode(t, "b", testKey, a.LocalAddr())
	c := startNode(t, "c", testKey, a.LocalAddr())
	waitStates(t, a, map[string]State{"a": StateAlive, "b": StateAlive, "c": StateAlive}, 5*time.Second)
	addr := c.LocalAddr()
	close(c.stop)
	<-c.done
	c.closed.Do(func() {})
	if err := c.ml.Shutdown(); err != nil { // a crash: no leave message
		t.Fatal(err)
	}
	sawSuspect := false
	deadline := time.Now().Add(40 * time.Second)
	for {
		var st State
		for _, m := range a.Members() {
			if m.Name == "c" {
				st = m.State
			}
		}
		sawSuspect = sawSuspect || st == StateSuspect
		if st == StateDead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("c is %q after 40s, want dead", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawSuspect {
		t.Error("c went dead without being reported suspect first")
	}
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	c2, err := Start(context.Background(), Config{Name: "c", BindAddr: "127.0.0.1", BindPort: p,
		Join: []string{b.LocalAddr()}, Key: testKey, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c2.Leave(time.Second) })
	waitStates(t, a, map[string]State{"a": StateAlive, "b": StateAlive, "c": StateAlive}, 10*time.Second)
}
