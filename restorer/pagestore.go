package restorer

import (
	"fmt"
	"slices"
	"sync"

	"github.com/migrate-dev/migrate/image"
)

// PageStore holds the memory of a process as it arrives over the network,
// page by page and round after round: a page sent again replaces the old
// copy in place. Seal turns it into Pages for RestoreImage. Pages live in
// 2 MiB slabs, so that a large store is a few hundred allocations.
type PageStore struct {
	mu    sync.Mutex
	pages map[uint64][]byte // page address -> its 4 KiB (nil: a zero page)
	slab  []byte
	free  [][]byte // pages of dropped ranges, for reuse
}

const slabSize = 2 << 20

// NewPageStore returns an empty store.
func NewPageStore() *PageStore { return &PageStore{pages: make(map[uint64][]byte)} }

// AddData stores pages starting at addr (page-aligned, len a multiple of
// the page size), copying them.
func (s *PageStore) AddData(addr uint64, data []byte) error {
	if addr%image.PageSize != 0 || len(data)%image.PageSize != 0 {
		return fmt.Errorf("page store: misaligned data at %#x (%d bytes)", addr, len(data))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for off := 0; off < len(data); off += image.PageSize {
		a := addr + uint64(off)
		p := s.pages[a]
		if p == nil {
			p = s.alloc()
			s.pages[a] = p
		}
		copy(p, data[off:off+image.PageSize])
	}
	return nil
}

// AddZero records zero pages.
func (s *PageStore) AddZero(addr, npages uint64) error {
	if addr%image.PageSize != 0 {
		return fmt.Errorf("page store: misaligned zero run at %#x", addr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range npages {
		a := addr + i*image.PageSize
		if p := s.pages[a]; p != nil {
			s.free = append(s.free, p)
		}
		s.pages[a] = nil
	}
	return nil
}

// Keep drops every page outside the given mappings (they went away or
// changed between rounds).
func (s *PageStore) Keep(vmas []image.VMA) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a, p := range s.pages {
		i, _ := slices.BinarySearchFunc(vmas, a, func(v image.VMA, a uint64) int {
			switch {
			case v.End <= a:
				return -1
			case v.Start > a:
				return 1
			}
			return 0
		})
		if i < len(vmas) && vmas[i].Start <= a && a < vmas[i].End {
			continue
		}
		if p != nil {
			s.free = append(s.free, p)
		}
		delete(s.pages, a)
	}
}

// Len is the number of pages held.
func (s *PageStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pages)
}

// alloc hands out one page. Precondition: s.mu is held.
func (s *PageStore) alloc() []byte {
	if n := len(s.free); n > 0 {
		p := s.free[n-1]
		s.free = s.free[:n-1]
		return p
	}
	if len(s.slab) == 0 {
		s.slab = make([]byte, slabSize)
	}
	p := s.slab[:image.PageSize:image.PageSize]
	s.slab = s.slab[image.PageSize:]
	return p
}

// Seal returns the store's contents as Pages: runs of contiguous data or
// zero pages, at most image.MaxRunPages long. The store must not change
// afterwards.
func (s *PageStore) Seal() Pages {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs := make([]uint64, 0, len(s.pages))
	for a := range s.pages {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	sp := &storePages{}
	for i := 0; i < len(addrs); {
		zero := s.pages[addrs[i]] == nil
		j := i + 1
		for j < len(addrs) && j-i < image.MaxRunPages && addrs[j] == addrs[j-1]+image.PageSize && (s.pages[addrs[j]] == nil) == zero {
			j++
		}
		r := image.PageRun{Addr: addrs[i], NPages: uint32(j - i), Kind: image.PageData}
		var bufs [][]byte
		if zero {
			r.Kind = image.PageZero
		} else {
			for _, a := range addrs[i:j] {
				bufs = append(bufs, s.pages[a])
			}
		}
		sp.runs = append(sp.runs, r)
		sp.data = append(sp.data, bufs)
		i = j
	}
	return sp
}

type storePages struct {
	runs []image.PageRun
	data [][][]byte
}

func (p *storePages) Runs() []image.PageRun       { return p.runs }
func (p *storePages) Run(i int) ([][]byte, error) { return p.data[i], nil }
