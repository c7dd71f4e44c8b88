package image

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMappedPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "img")
	w, err := CreateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := testCheckpoint()
	pid := c.Processes[0].PID
	pf, err := w.CreatePages(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := pf.Reserve(1 << 20); err != nil {
		t.Fatal(err)
	}
	v := c.Processes[0].MM.VMAs[2]
	data := bytes.Repeat([]byte{7}, 2*PageSize)
	if err := pf.AddData(v.Start, data); err != nil {
		t.Fatal(err)
	}
	if err := pf.AddZero(v.Start+2*PageSize, 1); err != nil {
		t.Fatal(err)
	}
	if err := pf.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Processes[1:] {
		q, _ := w.CreatePages(p.PID)
		q.Close()
	}
	if err := w.WriteCheckpoint(c); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	open := func() (*PageReader, *MappedPages) {
		d, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := d.OpenPages(pid)
		if err != nil {
			t.Fatal(err)
		}
		mp, err := pr.Mapped()
		if err != nil {
			t.Fatal(err)
		}
		return pr, mp
	}
	pr, mp := open()
	if st, _ := os.Stat(filepath.Join(dir, PagesFile(pid))); st.Size() != int64(len(data)) {
		t.Errorf("reserved space changed the file size to %d", st.Size())
	}
	got, err := mp.Run(0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("run 0: %v", err)
	}
	if z, err := mp.Run(1); z != nil || err != nil {
		t.Fatalf("zero run: %v %v", z, err)
	}
	mp.Close()
	pr.Close()
	b, _ := os.ReadFile(filepath.Join(dir, PagesFile(pid)))
	b[100] ^= 1
	os.WriteFile(filepath.Join(dir, PagesFile(pid)), b, 0o600)
	pr, mp = open()
	defer pr.Close()
	defer mp.Close()
	if _, err := mp.Run(0); !errors.Is(err, ErrChecksum) {
		t.Fatalf("corrupted run: %v", err)
	}
}
