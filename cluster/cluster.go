package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// leavePropagation is how long Leave keeps gossiping after queueing the
// leave message (memberlist gossips every 200ms on LAN settings).
const leavePropagation = time.Second

// DefaultPort is the default gossip port (TCP and UDP).
const DefaultPort = 7946

// State is a member's state as this node sees it.
type State string

// Member states. Append only: external tools parse them.
const (
	StateAlive   State = "alive"
	StateSuspect State = "suspect"
	StateDead    State = "dead"
	StateLeft    State = "left"
)

// Config configures a node. The zero value (plus Name) is a one-node
// cluster listening on all addresses at DefaultPort.
type Config struct {
	Name          string   // unique node name; required
	BindAddr      string   // IP to listen on; default 0.0.0.0
	BindPort      int      // gossip port; default DefaultPort, -1 picks a free port
	AdvertiseAddr string   // IP peers reach us at; default: derived from BindAddr
	Join          []string // host:port of existing members; empty starts a new cluster
	Key           []byte   // gossip encryption key (16, 24 or 32 bytes); nil is plaintext
	// Meta returns this node's metadata; called when gossip needs it and by
	// the refresh loop. Nil advertises an empty Meta.
	Meta func() Meta
	// MetaRefresh is how often Meta is polled for changes; default 5s.
	MetaRefresh time.Duration
	Logger      *slog.Logger
}

// Member is one node of the cluster as seen from here.
type Member struct {
	Name    string    `json:"name"`
	Address string    `json:"address"` // gossip host:port
	State   State     `json:"state"`
	Meta    Meta      `json:"meta"`
	MetaErr string    `json:"meta_error,omitempty"`
	Since   time.Time `json:"since,omitzero"` // when this node learnt the state, for dead and left
}

// Cluster is a running membership of this node.
type Cluster struct {
	cfg    Config
	ml     *memberlist.Memberlist
	del    *delegate
	log    *slog.Logger
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once

	probeEvery, probeTimeout time.Duration

	mu      sync.Mutex
	gone    map[string]Member    // members that failed or left, until they return
	leaving map[string]time.Time // members that announced they leave
	lastAck map[string]time.Time // last direct probe ack (or join) per member
}

// Start creates the local node, joins cfg.Join (if any) and starts gossip.
// It fails if the gossip port cannot be bound or no join address answers;
// nothing is left running on failure.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Cluster{
		cfg:     cfg,
		log:     cfg.Logger,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		gone:    make(map[string]Member),
		leaving: make(map[string]time.Time),
		lastAck: make(map[string]time.Time),
	}
	c.del = &delegate{c: c, meta: cfg.Meta}
	c.del.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return c.ml.NumMembers() },
		RetransmitMult: 3,
	}
	mlc, err := c.memberlistConfig()
	if err != nil {
		return nil, err
	}
	ml, err := memberlist.Create(mlc)
	if err != nil {
		addr := net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.BindPort))
		if strings.Contains(err.Error(), "address already in use") {
			return nil, fmt.Errorf("gossip address %s: address already in use", addr)
		}
		return nil, fmt.Errorf("start gossip on %s: %w", addr, err)
	}
	c.ml = ml
	if len(cfg.Join) > 0 {
		if err := c.join(ctx, cfg.Join); err != nil {
			_ = ml.Shutdown()
			return nil, err
		}
	}
	go c.refreshLoop()
	return c, nil
}

func (cfg *Config) validate() error {
	if cfg.Name == "" {
		return errors.New("cluster: node name is empty")
	}
	if len(cfg.Name) > maxNameLen {
		return fmt.Errorf("cluster: node name is %d bytes, limit is %d", len(cfg.Name), maxNameLen)
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = "0.0.0.0"
	}
	if net.ParseIP(cfg.BindAddr) == nil {
		return fmt.Errorf("cluster: bind address %q is not an IP address", cfg.BindAddr)
	}
	if cfg.BindPort == 0 {
		cfg.BindPort = DefaultPort
	}
	if cfg.BindPort == -1 {
		cfg.BindPort = 0
	}
	if cfg.AdvertiseAddr != "" && net.ParseIP(cfg.AdvertiseAddr) == nil {
		return fmt.Errorf("cluster: advertise address %q is not an IP address", cfg.AdvertiseAddr)
	}
	if cfg.Key != nil {
		if err := memberlist.ValidateKey(cfg.Key); err != nil {
			return fmt.Errorf("cluster: gossip key: %w", err)
		}
	}
	if cfg.MetaRefresh == 0 {
		cfg.MetaRefresh = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return nil
}

func (c *Cluster) memberlistConfig() (*memberlist.Config, error) {
	mlc := memberlist.DefaultLANConfig()
	mlc.Name = c.cfg.Name
	mlc.BindAddr = c.cfg.BindAddr
	mlc.BindPort = c.cfg.BindPort
	mlc.AdvertisePort = c.cfg.BindPort
	if c.cfg.AdvertiseAddr != "" {
		mlc.AdvertiseAddr = c.cfg.AdvertiseAddr
	}
	mlc.Delegate = c.del
	mlc.Events = &events{c: c}
	mlc.Ping = &pings{c: c}
	c.probeEvery = mlc.ProbeInterval
	c.probeTimeout = mlc.ProbeTimeout
	mlc.Logger = log.New(&logWriter{log: c.log}, "", 0)
	if c.cfg.Key != nil {
		kr, err := memberlist.NewKeyring(nil, c.cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("cluster: gossip key: %w", err)
		}
		mlc.Keyring = kr
		mlc.GossipVerifyIncoming = true
		mlc.GossipVerifyOutgoing = true
	}
	// A restarted node may come back with the same name on a new address
	// once the old one has been dead for a while.
	mlc.DeadNodeReclaimTime = 30 * time.Second
	return mlc, nil
}

// join contacts the given members; it succeeds when at least one answers.
func (c *Cluster) join(ctx context.Context, addrs []string) error {
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		n, err := c.ml.Join(addrs)
		ch <- result{n, err}
	}()
	select {
	case r := <-ch:
		if r.n == 0 {
			if r.err == nil {
				r.err = errors.New("no member answered")
			}
			return fmt.Errorf("join %s: %s", strings.Join(addrs, ","), flatten(r.err))
		}
		if r.err != nil {
			c.log.Warn("some join addresses did not answer", "joined", r.n, "error", flatten(r.err))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("join %s: %w", strings.Join(addrs, ","), ctx.Err())
	}
}

// flatten turns memberlist's multi-line error lists into one line.
func flatten(err error) string {
	var list interface{ WrappedErrors() []error }
	if errors.As(err, &list) {
		var parts []string
		for _, e := range list.WrappedErrors() {
			parts = append(parts, strings.TrimPrefix(e.Error(), "failed to join "))
		}
		return strings.Join(parts, "; ")
	}
	return err.Error()
}

// LocalAddr is the gossip address of this node (host:port).
func (c *Cluster) LocalAddr() string {
	n := c.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Name is this node's name.
func (c *Cluster) Name() string { return c.cfg.Name }

// Members lists every node this node knows, sorted by name: alive and
// suspect nodes from gossip, and dead or departed ones until they return.
func (c *Cluster) Members() []Member {
	var out []Member
	seen := make(map[string]bool)
	live := c.ml.Members()
	c.mu.Lock()
	for _, n := range live {
		m := memberOf(n)
		if c.suspect(m.Name, len(live)) {
			m.State = StateSuspect
		}
		out = append(out, m)
		seen[m.Name] = true
	}
	for name, m := range c.gone {
		if !seen[name] {
			out = append(out, m)
		}
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func memberOf(n *memberlist.Node) Member {
	m := Member{
		Name:    n.Name,
		Address: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))),
		State:   StateAlive, // memberlist lists only live nodes
	}
	meta, err := decodeMeta(n.Meta)
	m.Meta = meta
	if err != nil {
		m.MetaErr = err.Error()
	}
	return m
}

// refreshLoop re-advertises Meta whenever it changes.
func (c *Cluster) refreshLoop() {
	defer close(c.done)
	t := time.NewTicker(c.cfg.MetaRefresh)
	defer t.Stop()
	last := c.del.NodeMeta(memberlist.MetaMaxSize)
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		cur := c.del.NodeMeta(memberlist.MetaMaxSize)
		if bytes.Equal(cur, last) {
			continue
		}
		last = cur
		if err := c.ml.UpdateNode(2 * time.Second); err != nil {
			c.log.Warn("advertise node meta", "error", err)
		}
	}
}

// Leave tells the cluster this node is going away and stops gossip. It is
// safe to call more than once.
func (c *Cluster) Leave(timeout time.Duration) error {
	var err error
	c.closed.Do(func() {
		close(c.stop)
		<-c.done
		c.announceLeave(timeout / 2)
		if lerr := c.ml.Leave(timeout); lerr != nil {
			err = fmt.Errorf("leave cluster: %w", lerr)
		} else if c.ml.NumMembers() > 1 {
			// Leave returns once the message is queued; give gossip a few
			// rounds to carry it before the sockets close.
			time.Sleep(min(timeout, leavePropagation))
		}
		if serr := c.ml.Shutdown(); serr != nil && err == nil {
			err = fmt.Errorf("stop gossip: %w", serr)
		}
	})
	return err
}
