package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// Meta is what a node advertises to the cluster about itself.
type Meta struct {
	// QUICAddr is where the node accepts migrations (host:port).
	QUICAddr string `json:"quic,omitempty"`
	// Load1 is the one-minute load average.
	Load1 float64 `json:"load1"`
	// MemAvailable is the node's available memory in bytes.
	MemAvailable uint64 `json:"mem_avail"`
	// Procs is the number of processes the node's daemon manages.
	Procs int `json:"procs"`
	// Version is the daemon's build version.
	Version string `json:"version,omitempty"`
}

// encode returns the wire form of m, refusing what memberlist cannot carry.
func (m Meta) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode node meta: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("encode node meta: %d bytes, limit is %d", len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

// decodeMeta parses a peer's metadata. Peers are not trusted: any error
// gives the zero Meta and the error, never a panic.
func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, nil
	}
	if len(b) > memberlist.MetaMaxSize {
		return Meta{}, fmt.Errorf("node meta: %d bytes, limit is %d", len(b), memberlist.MetaMaxSize)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("node meta: %w", err)
	}
	return m, nil
}
