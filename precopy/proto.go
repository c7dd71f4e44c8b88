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
)

// Hello opens a migration.
type Hello struct {
	ID      string `json:"id"`
	PID     int    `json:"pid"`
	Comm    string `json:"comm"`
	Source  string `json:"source"`
	Version string `json:"version"`
}

// Ready reports a finished restore.
type Ready struct {
	RestoreMS float64 `json:"restore_ms"`
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
