package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/migrate-dev/migrate/internal/atomicfile"
)

// The daemon's records (handover/, outcomes/ under the state directory)
// are JSON files named after the migration ID, written durably.

// writeRecord writes v to dir/id.json, the file and the directory synced.
func writeRecord(dir, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, id+".json"), b, 0o600); err != nil {
		return fmt.Errorf("%s record %s: %w", filepath.Base(dir), id, err)
	}
	return nil
}

// readRecord reads dir/id.json into v.
func readRecord(dir, id string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, id+".json"))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// removeRecord removes dir/id.json; a record already gone is no error,
// any other failure is logged.
func (d *Daemon) removeRecord(dir, id string) {
	if err := os.Remove(filepath.Join(dir, id+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.log.Warn("remove record", "dir", dir, "id", id, "error", err)
	}
}
