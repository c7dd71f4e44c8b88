package restorer_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/restorer"
)

func TestPageStore(t *testing.T) {
	s := restorer.NewPageStore()
	page := func(b byte) []byte { return bytes.Repeat([]byte{b}, image.PageSize) }
	s.AddData(0x1000, append(page(1), page(2)...))
	s.AddData(0x2000, page(3)) // sent again in a later round
	s.AddZero(0x3000, 2)
	s.AddData(0x9000, page(9))
	s.Keep([]image.VMA{{Start: 0x1000, End: 0x5000}})
	p := s.Seal()
	runs := p.Runs()
	if len(runs) != 2 || runs[0] != (image.PageRun{Addr: 0x1000, NPages: 2, Kind: image.PageData}) ||
		runs[1] != (image.PageRun{Addr: 0x3000, NPages: 2, Kind: image.PageZero}) {
		t.Fatalf("runs %+v", runs)
	}
	d, _ := p.Run(0)
	if !bytes.Equal(bytes.Join(d, nil), append(page(1), page(3)...)) {
		t.Error("run 0 data")
	}
	if d, _ := p.Run(1); d != nil {
		t.Error("zero run has data")
	}
}

// TestRestoreFromStore restores a workload from pages held in memory (the
// destination side of live migration), stopped, then committed.
func TestRestoreFromStore(t *testing.T) {
	p := startWorkload(t, "memory")
	dir := filepath.Join(t.TempDir(), "img")
	if _, err := dumper.Checkpoint(context.Background(), p.PID, dir, dumper.Options{Kill: true}); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	d, err := image.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := d.Checkpoint()
	pr, _ := d.OpenPages(c.Processes[0].PID)
	defer pr.Close()
	store := restorer.NewPageStore()
	err = pr.Each(func(r image.PageRun, data []byte) error {
		if r.Kind == image.PageZero {
			return store.AddZero(r.Addr, uint64(r.NPages))
		}
		return store.AddData(r.Addr, data)
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := restorer.RestoreImage(context.Background(), c, store.Seal(), restorer.Options{Stopped: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
}
