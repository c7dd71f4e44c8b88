// Package api is the local API between the migrate CLI (or any local
// scheduler) and migrated: HTTP with JSON bodies over a unix socket.
//
// Routes (versioned; append only):
//
//	GET /v1/version  -> Version
//	GET /v1/nodes    -> []Node
//
// Errors are a non-2xx status with an Error body.
package api

import "time"

// DefaultSocket is where migrated listens and the CLI connects by default.
const DefaultSocket = "/run/migrated/migrated.sock"

// Node is one cluster member as the local daemon sees it.
type Node struct {
	Name         string    `json:"name"`
	Address      string    `json:"address"` // gossip host:port
	State        string    `json:"state"`   // alive, suspect, dead, left
	QUICAddr     string    `json:"quic_address,omitempty"`
	Load1        float64   `json:"load1"`
	MemAvailable uint64    `json:"mem_available"`
	Procs        int       `json:"procs"`
	Version      string    `json:"version,omitempty"`
	Self         bool      `json:"self,omitempty"`
	Since        time.Time `json:"since,omitzero"`
}

// Version describes the daemon answering the API.
type Version struct {
	Version string `json:"version"`
	Node    string `json:"node"`
}

// Error is the body of every failed request.
type Error struct {
	Error string `json:"error"`
}
