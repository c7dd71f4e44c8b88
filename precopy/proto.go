package precopy

import (
	"encoding/json"
	"fmt"
)

// Control messages between source and destination, one per control-stream
// frame: a type and a JSON body (the checkpoint itself travels in the
// image format). WARNING: append only; peers of other versions read them.
const (
	MsgHello   uint16 = 1 // src -> dst: Hello
	MsgAccept  uint16 = 2 // dst -> src: the destination can take the process
	MsgFinal   uint16 = 3 // src -> dst: image.Marshal of the frozen state; pages are complete
	MsgReady   uint16 = 4 // dst -> src: Ready, the process is rebuilt and stopped
	MsgGo      uint16 = 5 // src -> dst: let it run
	MsgRunning uint16 = 6 // dst -> src: it runs; the source may now be killed
	MsgError   uint16 = 7 // either way: Error, the migration is abandoned
	MsgDone    uint16 = 8 // src -> dst: the source is gone, final figures
	MsgLayout  uint16 = 9 // src -> dst: Layout, before the pages of each round
	// MsgRoundDone: dst -> src, RoundDone: every page of the round is in
	// place. The source waits for it after each pre-copy round, so that
	// rounds are timed end to end and no backlog is left for the freeze.
	// The frozen round (Layout.Final) has none: the page stream's Close
	// is acknowledged instead.
	MsgRoundDone uint16 = 10
	// MsgQuery: src -> dst, Query, on a new connection, when the handover
	// broke after Go: did the destination run the process? MsgOutcome
	// (dst -> src, Outcome) answers.
	MsgQuery   uint16 = 11
	MsgOutcome uint16 = 12
)

// Query asks for the outcome of migration ID of PID.
type Query struct {
	ID  string `json:"id"`
	PID int    `json:"pid"`
}

// Outcomes of a migration as the destination knows it.
const (
	OutcomeCommitted = "committed" // the process runs on the destination
	OutcomeAborted   = "aborted"   // the destination has no copy; it never ran there
	OutcomePending   = "pending"   // still waiting for Go: ask again
)

// Outcome answers a Query.
type Outcome struct {
	State string `json:"state"`
}

// RoundDone acknowledges a round.
type RoundDone struct {
	Round uint32 `json:"round"`
}

// Hello opens a migration.
type Hello struct {
	ID      string `json:"id"`
	PID     int    `json:"pid"`
	Comm    string `json:"comm"`
	Source  string `json:"source"`
	Version string `json:"version"`
}

// Layout is the address space for one round: the destination builds the
// process from the first and applies each next one before writing that
// round's pages.
type Layout struct {
	Round uint32 `json:"round"`
	// Image is image.Marshal of a checkpoint holding the process's PID,
	// name, credentials and mappings (dumper.Session.Layout).
	Image []byte `json:"image"`
	// Fresh are the ranges of mappings that are new or changed since the
	// previous layout: the destination maps them anew, empty, and this
	// round carries all their present pages.
	Fresh []Range `json:"fresh,omitempty"`
	// Final marks the last round, sent with the process frozen.
	Final bool `json:"final,omitempty"`
}

// Ready reports a finished restore.
type Ready struct {
	RestoreMS float64 `json:"restore_ms"`
	Steps     []Step  `json:"steps,omitempty"` // where the restore's time went
}

// Step is a named part of a migration and its duration.
type Step struct {
	What string  `json:"what"`
	MS   float64 `json:"ms"`
}

// Error carries the reason a migration was abandoned.
type Error struct {
	Error string `json:"error"`
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("precopy: encode %T: %v", v, err)) // our own types always encode
	}
	return b
}

// Decode parses a control message body; peers are not trusted.
func Decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("control message: %w", err)
	}
	return nil
}

// Encode returns the body of a control message.
func Encode(v any) []byte { return encode(v) }
