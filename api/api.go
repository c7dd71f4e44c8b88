// Package api is the local API between the migrate CLI (or any local
// scheduler) and migrated: HTTP with JSON bodies over a unix socket.
//
// Routes (versioned; append only):
//
//	GET  /v1/version  -> Version
//	GET  /v1/nodes    -> []Node
//	POST /v1/migrate  MigrateRequest -> a stream of MigrateEvent (JSON lines)
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

// MigrateRequest asks the daemon to move one of its processes.
type MigrateRequest struct {
	PID           int     `json:"pid"`
	Host          string  `json:"host"`                      // node name or address
	MaxDowntimeMS float64 `json:"max_downtime_ms,omitempty"` // default 50
	MaxRounds     int     `json:"max_rounds,omitempty"`      // default 10
	Streams       int     `json:"streams,omitempty"`
	Compress      string  `json:"compress,omitempty"` // "lz4" (default) or "none"
	// NoThrottle: never slow the process down to make pre-copy converge.
	NoThrottle bool `json:"no_throttle,omitempty"`
}

// MigrateEvent is one line of the answer to a migration: progress, then
// either the report or the error.
type MigrateEvent struct {
	Progress *MigrateProgress `json:"progress,omitempty"`
	Report   *MigrateReport   `json:"report,omitempty"`
	Error    string           `json:"error,omitempty"`
}

// MigrateProgress follows the rounds.
type MigrateProgress struct {
	Round       int     `json:"round"`
	Phase       string  `json:"phase"`
	PagesSent   uint64  `json:"pages_sent"`
	DirtyPages  uint64  `json:"dirty_pages"`
	DirtyRate   float64 `json:"dirty_rate"`
	LinkRate    float64 `json:"link_rate"`
	RemainingMS float64 `json:"remaining_ms"`
	Throttle    float64 `json:"throttle,omitempty"` // share of the round the process was kept stopped
}

// MigrateReport is the outcome of a migration.
type MigrateReport struct {
	PID       int     `json:"pid"`
	Host      string  `json:"host"`
	Rounds    int     `json:"rounds"`
	PagesSent uint64  `json:"pages_sent"`
	ZeroPages uint64  `json:"zero_pages"`
	WireBytes uint64  `json:"wire_bytes"`
	Tracker   string  `json:"tracker"`
	TotalMS   float64 `json:"total_ms"`
	FrozenMS  float64 `json:"frozen_ms"`
	// FrozenAtUnixNS is when the freeze began (CLOCK_REALTIME ns).
	FrozenAtUnixNS int64 `json:"frozen_at_unix_ns,omitempty"`
	// StreamingMS is the time pages were on their way (pre-copy rounds up
	// to their acknowledgement, and the frozen round\'s last pages).
	StreamingMS float64 `json:"streaming_ms,omitempty"`
	RestoreMS   float64 `json:"restore_ms"`
	// Freeze is where the frozen time went (source's view, in order);
	// RestoreSteps details the destination's "restore" step.
	Freeze       []Step `json:"freeze,omitempty"`
	RestoreSteps []Step `json:"restore_steps,omitempty"`
	// Resolved says how a handover that broke after Go was settled.
	Resolved string `json:"resolved,omitempty"`
	// Throttle is the largest share of a pre-copy round the process was
	// kept stopped to make pre-copy converge (0: never).
	Throttle float64 `json:"throttle,omitempty"`
}

// Step is a named part of a migration and its duration.
type Step struct {
	What string  `json:"what"`
	MS   float64 `json:"ms"`
}
