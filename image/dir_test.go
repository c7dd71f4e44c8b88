package image

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// writeDir writes testCheckpoint with some pages for each process. With
// finish false it stops before COMPLETE.
func writeDir(t *testing.T, finish bool) (string, *Checkpoint) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ckpt")
	w, err := CreateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := testCheckpoint()
	if err := w.WriteCheckpoint(c); err != nil {
		t.Fatal(err)
	}
	for i := range c.Processes {
		p := &c.Processes[i]
		pf, err := w.CreatePages(p.PID)
		if err != nil {
			t.Fatal(err)
		}
		heap := p.MM.VMAs[1]
		if err := pf.AddData(heap.Start, fill(PageSize, byte(p.PID))); err != nil {
			t.Fatal(err)
		}
		if err := pf.AddZero(heap.Start+PageSize, 1); err != nil {
			t.Fatal(err)
		}
		if err := pf.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if finish {
		if err := w.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	return dir, c
}

func TestDirRoundTrip(t *testing.T) {
	dir, c := writeDir(t, true)
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatal("checkpoint differs after the directory round trip")
	}
	for _, p := range got.Processes {
		pr, err := d.OpenPages(p.PID)
		if err != nil {
			t.Fatal(err)
		}
		data, err := pr.ReadRun(0, nil)
		if err != nil || !bytes.Equal(data, fill(PageSize, byte(p.PID))) {
			t.Fatalf("process %d pages: %v", p.PID, err)
		}
		if r := pr.Map().Runs[1]; r.Kind != PageZero || r.Addr != p.MM.VMAs[1].Start+PageSize {
			t.Fatalf("process %d second run %+v", p.PID, r)
		}
		if err := pr.Close(); err != nil {
			t.Fatal(err)
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 6 {
		t.Errorf("directory holds %v, want 6 files and no temporaries", names)
	}
}

func TestDirIncomplete(t *testing.T) {
	dir, _ := writeDir(t, false)
	_, err := OpenDir(dir)
	wantErr(t, err, ErrIncomplete, "image: "+dir+" is incomplete (no COMPLETE marker): the checkpoint did not finish")
}

// corrupt finishes a checkpoint and then edits one of its files.
func corrupt(t *testing.T, name string, edit func([]byte) []byte) string {
	t.Helper()
	dir, _ := writeDir(t, true)
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDirDamaged(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		edit   func([]byte) []byte
		target error
		want   string
	}{
		{"truncated checkpoint", CheckpointFile, func(b []byte) []byte { return b[:100] }, ErrTruncated, "image: checkpoint.img: truncated at byte 100"},
		{"flipped checkpoint", CheckpointFile, func(b []byte) []byte { b[200] ^= 1; return b }, ErrChecksum, "image: checkpoint.img: checksum mismatch"},
		{"replaced checkpoint", CheckpointFile, func([]byte) []byte { b, _ := EncodeCheckpoint(smallCheckpoint()); return b }, ErrChecksum, "image: checkpoint.img: a valid record, but not the one COMPLETE records"},
		{"truncated pagemap", PageMapFile(50), func(b []byte) []byte { return b[:len(b)-1] }, ErrTruncated, "image: pagemap-50.img: truncated at byte"},
		{"truncated pages", PagesFile(42), func(b []byte) []byte { return b[:10] }, ErrTruncated, "image: pages-42.img: 10 bytes, COMPLETE records 4096"},
		{"grown pages", PagesFile(42), func(b []byte) []byte { return append(b, 0) }, ErrFormat, "image: pages-42.img: 4097 bytes"},
		{"flipped complete", CompleteFile, func(b []byte) []byte { b[30] ^= 1; return b }, ErrChecksum, "image: COMPLETE: checksum mismatch"},
		{"empty complete", CompleteFile, func([]byte) []byte { return nil }, ErrTruncated, "image: COMPLETE: truncated at byte 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenDir(corrupt(t, tt.file, tt.edit))
			wantErr(t, err, tt.target, tt.want)
		})
	}
}

func TestDirCorruptPageData(t *testing.T) {
	dir := corrupt(t, PagesFile(50), func(b []byte) []byte { b[5] ^= 1; return b })
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := d.OpenPages(50)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	_, err = pr.ReadRun(0, nil)
	wantErr(t, err, ErrChecksum, "image: pages-50.img: process 50 page run 0 at 0x402000 (1 pages): checksum mismatch")
}

func TestDirMissingFile(t *testing.T) {
	dir, _ := writeDir(t, true)
	os.Remove(filepath.Join(dir, PageMapFile(42)))
	_, err := OpenDir(dir)
	wantErr(t, err, os.ErrNotExist, "image: pagemap-42.img: ")
}

func TestDirWriterChecks(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "junk"), nil, 0o600)
	if _, err := CreateDir(dir); err == nil {
		t.Error("CreateDir accepted a non-empty directory")
	}

	w, err := CreateDir(filepath.Join(t.TempDir(), "c"))
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.Finish(), nil, "no checkpoint written")
	bad := testCheckpoint()
	bad.Processes[0].Threads = nil
	wantErr(t, w.WriteCheckpoint(bad), ErrInvalid, "no threads")
	if err := w.WriteCheckpoint(testCheckpoint()); err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.WriteCheckpoint(testCheckpoint()), nil, "checkpoint.img written twice")
	wantErr(t, w.Finish(), nil, "no pages written for process 42")
	pf, err := w.CreatePages(42)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.CreatePages(42); err == nil {
		t.Error("pages of one process created twice")
	}
	wantErr(t, w.Finish(), nil, "1 page files not closed")
	if err := pf.Close(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, pf.Close(), nil, "closed twice")
	pf, _ = w.CreatePages(50)
	pf.AddData(0x1001, nil)
	pf.Close()
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.Finish(), nil, "already finished")
}

func TestDirPageFileWriteError(t *testing.T) {
	w, err := CreateDir(filepath.Join(t.TempDir(), "c"))
	if err != nil {
		t.Fatal(err)
	}
	w.WriteCheckpoint(smallCheckpoint())
	pf, err := w.CreatePages(7)
	if err != nil {
		t.Fatal(err)
	}
	pf.f.Close() // make every write fail
	pf.AddData(0x1000, fill(300*PageSize, 1))
	if err := pf.Close(); err == nil {
		t.Fatal("Close succeeded after a write error")
	}
	if err := w.Finish(); err == nil {
		t.Fatal("Finish succeeded after a page file failed")
	}
	if _, err := OpenDir(w.dir); err == nil {
		t.Fatal("OpenDir accepted the broken checkpoint")
	}
}
