package cluster

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// Messages this package gossips on top of memberlist's own. The first byte
// is the type. WARNING: append only, peers of other versions read them.
const (
	msgLeaving byte = 1 // followed by the node name
)

// leaveMemory is how long a leave announcement marks the next departure of
// that node as "left" rather than "dead".
const leaveMemory = time.Minute

// announceLeave gossips that this node leaves on purpose and waits (at most
// timeout) until the message has been sent out enough times.
func (c *Cluster) announceLeave(timeout time.Duration) {
	if c.ml.NumMembers() <= 1 {
		return
	}
	done := make(chan struct{})
	c.del.queue.QueueBroadcast(&broadcast{msg: append([]byte{msgLeaving}, c.cfg.Name...), done: done})
	select {
	case <-done:
	case <-time.After(timeout):
	}
}

// suspect reports whether a live member has not answered a direct probe for
// longer than a full probe round should take. memberlist keeps its own
// suspicion private; this is our view of the same signal.
// Precondition: c.mu is held.
func (c *Cluster) suspect(name string, members int) bool {
	if name == c.cfg.Name {
		return false
	}
	last, ok := c.lastAck[name]
	if !ok {
		return false
	}
	window := time.Duration(members+2)*c.probeEvery + c.probeTimeout
	return time.Since(last) > window
}

// events keeps the tables of departed and probed members.
type events struct{ c *Cluster }

func (e *events) NotifyJoin(n *memberlist.Node) {
	e.c.mu.Lock()
	delete(e.c.gone, n.Name)
	delete(e.c.leaving, n.Name)
	e.c.lastAck[n.Name] = time.Now()
	e.c.mu.Unlock()
	e.c.log.Info("member joined", "node", n.Name, "addr", n.Addr.String())
}

func (e *events) NotifyLeave(n *memberlist.Node) {
	m := memberOf(n)
	m.Since = time.Now()
	e.c.mu.Lock()
	m.State = StateDead
	if t, ok := e.c.leaving[n.Name]; ok && time.Since(t) < leaveMemory {
		m.State = StateLeft
	}
	delete(e.c.leaving, n.Name)
	delete(e.c.lastAck, n.Name)
	e.c.gone[n.Name] = m
	e.c.mu.Unlock()
	e.c.log.Info("member gone", "node", n.Name, "state", m.State)
}

func (e *events) NotifyUpdate(n *memberlist.Node) {}

// pings records successful direct probes.
type pings struct{ c *Cluster }

func (p *pings) AckPayload() []byte { return nil }

func (p *pings) NotifyPingComplete(n *memberlist.Node, rtt time.Duration, payload []byte) {
	p.c.mu.Lock()
	if _, gone := p.c.gone[n.Name]; !gone {
		p.c.lastAck[n.Name] = time.Now()
	}
	p.c.mu.Unlock()
}

// delegate supplies node metadata and carries our own messages.
type delegate struct {
	c     *Cluster
	meta  func() Meta
	queue *memberlist.TransmitLimitedQueue
}

func (d *delegate) NodeMeta(limit int) []byte {
	var m Meta
	if d.meta != nil {
		m = d.meta()
	}
	b, err := m.encode()
	if err != nil || len(b) > limit {
		return nil
	}
	return b
}

// NotifyMsg handles a gossiped message from a peer holding the cluster key.
func (d *delegate) NotifyMsg(b []byte) {
	if len(b) < 2 || len(b) > 1+maxNameLen {
		return
	}
	switch b[0] {
	case msgLeaving:
		d.c.mu.Lock()
		d.c.leaving[string(b[1:])] = time.Now()
		d.c.mu.Unlock()
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte            { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool) {}

// maxNameLen bounds node names carried in messages.
const maxNameLen = 255

type broadcast struct {
	msg  []byte
	done chan struct{}
}

func (b *broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b *broadcast) Message() []byte                       { return b.msg }
func (b *broadcast) Finished() {
	if b.done != nil {
		close(b.done)
	}
}
