//go:build linux

package precopy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/migrate-dev/migrate/dumper"
	"github.com/migrate-dev/migrate/internal/linux"
	"github.com/migrate-dev/migrate/internal/procfs"
	"github.com/migrate-dev/migrate/internal/self"
	"github.com/migrate-dev/migrate/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestMigrateResendsExactlyDirtied runs Migrate against an in-memory
// destination and checks that dirty tracking is exact end to end: a known
// random set of pages is dirtied between rounds, and the next round sends
// exactly those pages, no more, no fewer, each once.
//
// The target is `sleep`, not the Go dirty helper: Seize refuses
// multi-threaded processes. The test gives it a 64 MiB private anonymous
// mapping by injecting mmap through the session before Migrate, fills it,
// and then dirties pages with process_vm_writev while sleep sits in one
// long nanosleep. Nothing else in the process writes memory, so the
// expected sets hold for the whole address space, not only the mapping.
//
// Pages are dirtied in both windows Migrate has between two rounds:
//
//   - during[r] while round r is being sent (from EndRound(r)): the
//     collect after the send finds them, they are the round's DirtyPages,
//     and their count drives the convergence rule;
//   - after[r] from the Progress callback of round r: the next round's
//     first collect finds them. after[r] overlaps during[r] on purpose, so
//     a page dirtied in both windows must still be sent once.
//
// The sizes of during make the loop run four pre-copy rounds and stop on
// "the dirty set stopped shrinking" (1000 >= 1000), so the frozen final
// round carries during[4] and after[4], plus the one page the freeze
// itself writes: interrupting sleep's clock_nanosleep makes the kernel
// store the remaining time at its rem argument, on the stack.
//
// Round 1 must carry every page that held state before Migrate (read from
// /proc, see carryingPages). It also carries, as zero pages, the
// never-populated pages of the tracked mappings (most of [heap] and
// [stack]): MemReader.Present runs after Track, when uffd-wp markers fill
// those page tables, and lists them; reading them maps the zero page. The
// test accepts such extra pages only when they were empty pages of private
// writable mappings before and travelled as zero pages.
func TestMigrateResendsExactlyDirtied(t *testing.T) {
	testutil.RequireRoot(t)
	if err := linux.HaveUffdWPAsync(); err != nil {
		t.Skip(err)
	}
	if err := linux.HavePagemapScan(); err != nil {
		t.Skip(err)
	}
	const regionPages = 16384 // 64 MiB
	during := map[int]int{1: 3000, 2: 2000, 3: 1000, 4: 1000}
	after := map[int]int{1: 700, 2: 500, 3: 300, 4: 200}
	const overlap = 50 // pages of after[r] taken from during[r]
	const wantRounds = 4

	cmd, rem := startSleeper(t)
	pid := cmd.Process.Pid
	s, err := dumper.Seize(pid)
	if err != nil {
		t.Fatal(err)
	}
	region, err := mapInto(s, regionPages)
	if err != nil {
		s.Release()
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("pid %d, region %v, nanosleep rem at %#x, seed %d", pid, region, rem, seed)
	rng := rand.New(rand.NewPCG(seed, 0x7e5e7d))
	page := func(i int) uint64 { return region.Start + uint64(i)*trackPageSize }
	if err := pokePages(pid, rng, pagesFrom(region), 0); err != nil {
		s.Release()
		t.Fatal(err)
	}
	present, empty, err := carryingPages(pid)
	if err != nil {
		s.Release()
		t.Fatal(err)
	}
	for a := region.Start; a < region.End; a += trackPageSize {
		if !present[a] {
			s.Release()
			t.Fatalf("page %#x of the filled region is not present", a)
		}
	}

	// want[r] is what round r must send, from round 2 on.
	want := map[int]map[uint64]bool{}
	dirty := func(round int, set map[uint64]bool) {
		if want[round] == nil {
			want[round] = map[uint64]bool{}
		}
		maps.Copy(want[round], set)
	}
	pick := func(n int, from map[uint64]bool, k int) []uint64 {
		set := map[uint64]bool{}
		keys := slices.Sorted(maps.Keys(from))
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		for _, a := range keys[:min(k, len(keys))] {
			set[a] = true
		}
		for len(set) < n {
			set[page(rng.IntN(regionPages))] = true
		}
		return slices.Sorted(maps.Keys(set))
	}
	var pokeErr error
	dirtied := map[int]map[uint64]bool{} // during[r], as written
	stream := &recordingStream{pid: pid}
	stream.onEndRound = func(round int) {
		if n, ok := during[round]; ok && pokeErr == nil {
			pages := pick(n, nil, 0)
			dirtied[round] = setOf(pages)
			dirty(round+1, dirtied[round])
			pokeErr = pokePages(pid, rng, pages, 8)
		}
	}
	var progress []Progress
	opt := Options{
		ID:          "resend",
		MaxDowntime: time.Nanosecond, // only an empty dirty set fits
		NoThrottle:  true,            // the rounds end when the dirty set stops shrinking
		MaxRounds:   10,
		Progress: func(p Progress) {
			progress = append(progress, p)
			if n, ok := after[p.Round]; ok && p.Phase == "precopy" && pokeErr == nil {
				pages := pick(n, dirtied[p.Round], overlap)
				dirty(p.Round+1, setOf(pages))
				pokeErr = pokePages(pid, rng, pages, 8)
			}
		},
	}
	ctl := newFakeDestination(stream)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Migrate(ctx, s, ctl, stream, opt)
	if err != nil {
		t.Fatalf("Migrate: %v (control messages %v)", err, ctl.sent)
	}
	if pokeErr != nil {
		t.Fatal(pokeErr)
	}
	if !strings.HasPrefix(rep.Tracker, "uffd-wp") {
		t.Fatalf("tracker %q, want uffd-wp", rep.Tracker)
	}

	// The source is gone, killed by Migrate after MsgRunning.
	if err := cmd.Process.Signal(unix.Signal(0)); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("source pid %d after Migrate: signal 0 = %v, want it gone", pid, err)
	}
	if got := ctl.types(); !slices.Equal(got, []uint16{MsgHello, MsgFinal, MsgGo, MsgDone}) {
		t.Errorf("control messages %v, want hello, final, go, done", got)
	}
	if stream.memErr != nil {
		t.Errorf("destination memory at the freeze: %v", stream.memErr)
	}
	if !stream.closed {
		t.Error("page stream not closed")
	}

	// Rounds: 4 pre-copy rounds, then the final one.
	if rep.Rounds != wantRounds || len(stream.rounds) != wantRounds+1 {
		t.Fatalf("%d pre-copy rounds, %d rounds sent; want %d and %d (progress %+v)",
			rep.Rounds, len(stream.rounds), wantRounds, wantRounds+1, progress)
	}
	var total uint64
	for i, r := range stream.rounds {
		if r.number != i+1 {
			t.Errorf("round %d ended as %d", i+1, r.number)
		}
		for a, n := range r.pages {
			if n != 1 {
				t.Errorf("round %d sent page %#x %d times", r.number, a, n)
			}
			total += uint64(n)
		}
	}
	if sum := rep.PagesSent + rep.ZeroPages; sum != total {
		t.Errorf("report: %d data + %d zero pages, the stream got %d", rep.PagesSent, rep.ZeroPages, total)
	}
	first := stream.rounds[0]
	var unpopulated int
	for a := range first.pages {
		if empty[a] && first.zero[a] {
			present[a] = true // a never-populated page, sent as a zero page
			unpopulated++
		}
	}
	t.Logf("round 1: %d pages, of which %d never populated (zero pages)", len(first.pages), unpopulated)
	checkSent(t, 1, first.pages, present)
	if rem != 0 {
		want[wantRounds+1][rem&^(trackPageSize-1)] = true
	}
	for r := 2; r <= wantRounds+1; r++ {
		checkSent(t, r, stream.rounds[r-1].pages, want[r])
	}
	for _, p := range progress {
		if p.Phase != "precopy" {
			continue
		}
		if w := uint64(during[p.Round]); p.DirtyPages != w {
			t.Errorf("round %d: DirtyPages %d, want %d (written while it was sent)", p.Round, p.DirtyPages, w)
		}
	}
}

// checkSent compares the pages a round sent with the expected set and
// names the differences.
func checkSent(t *testing.T, round int, got map[uint64]int, want map[uint64]bool) {
	t.Helper()
	var missing, extra []string
	for a := range want {
		if got[a] == 0 {
			missing = append(missing, fmt.Sprintf("%#x", a))
		}
	}
	for a := range got {
		if !want[a] {
			extra = append(extra, fmt.Sprintf("%#x", a))
		}
	}
	if len(missing)+len(extra) > 0 {
		slices.Sort(missing)
		slices.Sort(extra)
		t.Errorf("round %d sent %d pages, want %d: %d missing %v, %d extra %v", round, len(got), len(want),
			len(missing), missing[:min(len(missing), 10)], len(extra), extra[:min(len(extra), 10)])
	}
}

// startSleeper starts `sleep` and waits until it sits in its nanosleep, so
// that it writes no memory from then on. It returns the address where an
// interrupted nanosleep stores the remaining time (0: nowhere). Cleanup
// kills and reaps it (Migrate normally did both already).
func startSleeper(t *testing.T) (*exec.Cmd, uint64) {
	t.Helper()
	// Descriptors this binary inherited would go to sleep too, and a
	// migration refuses pipes.
	if err := self.CloexecInherited(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "100000")
	// Without rseq: the kernel writes a registered rseq area whenever the
	// process returns to user mode after it was switched out, which it does
	// once right after Migrate resumes it, racing with round 1's Track.
	cmd.Env = append(os.Environ(), "GLIBC_TUNABLES=glibc.pthread.rseq=0")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep to migrate: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		// "NR arg1 ... arg6 sp pc"
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", cmd.Process.Pid))
		f := strings.Fields(string(b))
		if err == nil && len(f) == 9 {
			rem := map[string]string{ // nanosleep(req, rem), clock_nanosleep(clock, flags, req, rem)
				strconv.Itoa(unix.SYS_NANOSLEEP): f[2], strconv.Itoa(unix.SYS_CLOCK_NANOSLEEP): f[4],
			}
			if arg, ok := rem[f[0]]; ok {
				addr, err := strconv.ParseUint(arg, 0, 64)
				if err != nil {
					t.Fatalf("/proc/%d/syscall: %q: %v", cmd.Process.Pid, b, err)
				}
				return cmd, addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleep pid %d not in nanosleep after 10s (/proc/PID/syscall: %q, %v)", cmd.Process.Pid, b, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mapInto maps n private anonymous pages in the stopped process of s (no
// huge pages: dirty pages are counted at 4 KiB).
func mapInto(s *dumper.Session, n int) (Range, error) {
	r, err := s.Remote()
	if err != nil {
		return Range{}, err
	}
	size := uint64(n) * trackPageSize
	addr, err := r.Syscall(unix.SYS_MMAP, 0, size, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return Range{}, fmt.Errorf("mmap in pid %d: %w", s.PID(), err)
	}
	if _, err := r.Syscall(unix.SYS_MADVISE, addr, size, unix.MADV_NOHUGEPAGE); err != nil {
		return Range{}, fmt.Errorf("madvise in pid %d: %w", s.PID(), err)
	}
	return Range{Start: addr, End: addr + size}, nil
}

func pagesFrom(r Range) []uint64 {
	var out []uint64
	for a := r.Start; a < r.End; a += trackPageSize {
		out = append(out, a)
	}
	return out
}

func setOf(pages []uint64) map[uint64]bool {
	s := make(map[uint64]bool, len(pages))
	for _, a := range pages {
		s[a] = true
	}
	return s
}

// pokePages writes into the given pages of pid with process_vm_writev.
// With n == 0 each page is filled with random bytes; otherwise n random
// bytes go at a random place in it, except that one page in eight is
// cleared (it must then travel as a zero page).
func pokePages(pid int, rng *rand.Rand, pages []uint64, n int) error {
	var local [][]byte
	var remote []linux.RemoteRange
	for _, a := range pages {
		var b []byte
		switch {
		case n == 0:
			b = make([]byte, trackPageSize)
		case rng.IntN(8) == 0:
			b = make([]byte, trackPageSize)
			local, remote = append(local, b), append(remote, linux.RemoteRange{Addr: a, Len: trackPageSize})
			continue
		default:
			b = make([]byte, n)
			a += uint64(rng.IntN(trackPageSize - n + 1))
		}
		for i := range b {
			b[i] = byte(rng.Uint32() | 1)
		}
		local, remote = append(local, b), append(remote, linux.RemoteRange{Addr: a, Len: uint64(len(b))})
	}
	_, err := linux.ProcessVMWritev(pid, local, remote)
	return err
}

// carryingPages lists the pages of pid that carry state, by the rule of
// docs/ARCHITECTURE.md read straight from /proc: present or swapped pages
// of private memory that are not the file's own, every page of shared
// anonymous memory; nothing of shared file mappings or the kernel's
// special mappings. empty lists the pages of private writable mappings
// that are neither present nor swapped.
func carryingPages(pid int) (out, empty map[uint64]bool, err error) {
	ms, err := procfs.Maps(pid)
	if err != nil {
		return nil, nil, err
	}
	pm, err := procfs.OpenPagemap(pid)
	if err != nil {
		return nil, nil, err
	}
	defer pm.Close()
	out, empty = map[uint64]bool{}, map[uint64]bool{}
	for _, m := range ms {
		switch {
		case m.IsSpecial() && m.Path != "[heap]" && m.Path != "[stack]":
			continue // vdso, vvar, vsyscall
		case m.Perms&procfs.PermShared != 0 && !m.IsFile():
			for a := m.Start; a < m.End; a += trackPageSize {
				out[a] = true
			}
			continue
		case m.Perms&procfs.PermShared != 0:
			continue
		}
		ents := make([]procfs.PagemapEntry, m.Size()/trackPageSize)
		if err := pm.ReadEntries(m.Start, ents); err != nil {
			return nil, nil, err
		}
		for i, e := range ents {
			a := m.Start + uint64(i)*trackPageSize
			switch {
			case !e.Present() && !e.Swapped():
				if m.Perms&procfs.PermWrite != 0 {
					empty[a] = true
				}
			case !m.IsFile() || !e.FileOrSharedAnon():
				out[a] = true
			}
		}
	}
	return out, empty, nil
}

// sentRound is what one round carried: how often each page was sent.
type sentRound struct {
	number int
	pages  map[uint64]int
	zero   map[uint64]bool // sent as a zero page (last time in the round)
}

// recordingStream is a PageStream that keeps, per round, the pages sent
// and, across rounds, the memory the destination would rebuild.
type recordingStream struct {
	pid        int
	onEndRound func(round int)
	ended      func(round uint32) // the destination acknowledges the round
	cur        sentRound
	rounds     []sentRound
	mem        map[uint64][]byte // nil: a zero page
	closed     bool
	memErr     error // from checkMemory at Close
}

func (s *recordingStream) add(addr, n uint64, data []byte) error {
	if s.closed {
		return errors.New("page after Close")
	}
	if s.cur.pages == nil {
		s.cur = sentRound{pages: map[uint64]int{}, zero: map[uint64]bool{}}
	}
	if s.mem == nil {
		s.mem = map[uint64][]byte{}
	}
	for i := range n {
		a := addr + i*trackPageSize
		s.cur.pages[a]++
		s.cur.zero[a] = data == nil
		if data == nil {
			s.mem[a] = nil
		} else {
			s.mem[a] = bytes.Clone(data[i*trackPageSize : (i+1)*trackPageSize])
		}
	}
	return nil
}

func (s *recordingStream) AddData(addr uint64, data []byte) error {
	if len(data)%trackPageSize != 0 || addr%trackPageSize != 0 {
		return fmt.Errorf("AddData(%#x, %d bytes): not whole pages", addr, len(data))
	}
	return s.add(addr, uint64(len(data))/trackPageSize, data)
}

func (s *recordingStream) AddZero(addr uint64, npages uint64) error {
	return s.add(addr, npages, nil)
}

func (s *recordingStream) EndRound(round uint32) error {
	if s.closed {
		return errors.New("EndRound after CloseSend")
	}
	r := s.cur
	r.number = int(round)
	s.rounds = append(s.rounds, r)
	s.cur = sentRound{}
	if s.onEndRound != nil {
		s.onEndRound(int(round))
	}
	if s.ended != nil {
		s.ended(round)
	}
	return nil
}

func (s *recordingStream) CloseSend() error {
	if len(s.cur.pages) > 0 {
		return fmt.Errorf("%d pages after the last EndRound", len(s.cur.pages))
	}
	s.closed = true
	// The source is frozen and the last round is in: what the destination
	// rebuilt must be the source's memory. (Not later: Collect's injected
	// system calls let the process return to user mode, where the kernel
	// updates a registered rseq area; it does so on the destination too.)
	s.memErr = s.checkMemory()
	return nil
}

func (s *recordingStream) Wait() error {
	if !s.closed {
		return errors.New("Wait before CloseSend")
	}
	return nil
}

// checkMemory compares the rebuilt memory with the frozen source: every
// page sent must hold what the source holds now.
func (s *recordingStream) checkMemory() error {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", s.pid))
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, trackPageSize)
	zero := make([]byte, trackPageSize)
	bad := 0
	var first uint64
	for _, a := range slices.Sorted(maps.Keys(s.mem)) {
		if _, err := f.ReadAt(buf, int64(a)); err != nil {
			return fmt.Errorf("read page %#x of the source: %w", a, err)
		}
		want := s.mem[a]
		if want == nil {
			want = zero
		}
		if !bytes.Equal(buf, want) {
			if bad == 0 {
				first = a
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d pages differ from the frozen source, the first at %#x", bad, len(s.mem), first)
	}
	return nil
}

// fakeDestination is a Control that plays a destination which accepts,
// restores and runs the process.
type fakeDestination struct {
	stream  *recordingStream
	final   bool // the last layout sent was the frozen round's
	replies chan reply
	sent    []string
}

type reply struct {
	typ  uint16
	body []byte
}

func newFakeDestination(s *recordingStream) *fakeDestination {
	d := &fakeDestination{stream: s, replies: make(chan reply, 64)}
	s.ended = func(round uint32) {
		if !d.final { // the frozen round is acknowledged by Close
			d.replies <- reply{MsgRoundDone, Encode(RoundDone{Round: round})}
		}
	}
	return d
}

func (d *fakeDestination) Send(ctx context.Context, typ uint16, payload []byte) error {
	d.sent = append(d.sent, strconv.Itoa(int(typ)))
	switch typ {
	case MsgHello:
		d.replies <- reply{typ: MsgAccept}
	case MsgLayout:
		var l Layout
		if err := Decode(payload, &l); err != nil {
			return err
		}
		d.final = l.Final
	case MsgFinal:
		if !d.stream.closed {
			d.stream.memErr = errors.New("final state before the page stream was closed")
		}
		d.replies <- reply{MsgReady, Encode(Ready{RestoreMS: 1})}
	case MsgGo:
		d.replies <- reply{typ: MsgRunning}
	case MsgError:
		d.sent[len(d.sent)-1] += ":" + string(payload)
	}
	return nil
}

func (d *fakeDestination) Recv(ctx context.Context) (uint16, []byte, error) {
	select {
	case r := <-d.replies:
		return r.typ, r.body, nil
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// types lists the control messages sent but the layouts (one per round).
func (d *fakeDestination) types() []uint16 {
	var out []uint16
	for _, s := range d.sent {
		n, _ := strconv.Atoi(strings.SplitN(s, ":", 2)[0])
		if uint16(n) != MsgLayout {
			out = append(out, uint16(n))
		}
	}
	return out
}
