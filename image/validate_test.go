package image

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Checkpoint)
		want string
	}{
		{"arch", func(c *Checkpoint) { c.Arch = "aarch64" }, `arch "aarch64" not supported`},
		{"no processes", func(c *Checkpoint) { c.Processes = nil }, "no processes"},
		{"pid", func(c *Checkpoint) { c.Processes[1].PID = 0 }, "process 0 (index 1): PID not positive"},
		{"pid twice", func(c *Checkpoint) { c.Processes[1].PID = 42 }, "process 42: listed twice"},
		{"root missing", func(c *Checkpoint) { c.Root = 99 }, "root 99 is not among the processes"},
		{"root not first", func(c *Checkpoint) { c.Root = 50 }, "root 50 is not the first process"},
		{"orphan", func(c *Checkpoint) { c.Processes[1].PPID = 77 }, "process 50: parent 77 not listed before it"},
		{"no threads", func(c *Checkpoint) { c.Processes[0].Threads = nil }, "process 42: no threads"},
		{"leader", func(c *Checkpoint) { c.Processes[0].Threads[0].TID = 44 }, "process 42: first thread 44 is not the leader"},
		{"tid twice", func(c *Checkpoint) { c.Processes[1].Threads = append(c.Processes[1].Threads, testThread(43)) }, "process 50 thread 43: TID listed twice"},
		{"tid", func(c *Checkpoint) { c.Processes[0].Threads[1].TID = -3 }, "process 42 thread -3: TID not positive"},
		{"regs", func(c *Checkpoint) { c.Processes[0].Threads[1].Regs = make([]byte, 215) }, "process 42 thread 43: registers are 215 bytes, want 216"},
		{"xstate", func(c *Checkpoint) { c.Processes[0].Threads[1].XState = make([]byte, MaxXState+1) }, "xstate of 65537 bytes"},
		{"rseq", func(c *Checkpoint) { c.Processes[0].Threads[0].Rseq.Addr = 0 }, "rseq registered at address 0"},
		{"signals", func(c *Checkpoint) { c.Processes[0].SigActions = make([]SigAction, 65) }, "65 signal actions, at most 64"},
		{"rlimits", func(c *Checkpoint) { c.Processes[0].Rlimits = make([]Rlimit, 17) }, "17 rlimits, at most 16"},
		{"rlimit order", func(c *Checkpoint) { c.Processes[0].Rlimits[1].Cur = 1 << 30 }, "rlimit 1: soft limit"},
		{"ldt", func(c *Checkpoint) { c.Processes[0].LDT = make([]byte, 12) }, "LDT of 12 bytes"},
		{"umask", func(c *Checkpoint) { c.Processes[0].Umask = 0o1000 }, "umask 01000"},
		{"itimer", func(c *Checkpoint) { c.Processes[0].ITimers[2].ValueNS = -1 }, "itimer 2 negative"},
		{"groups", func(c *Checkpoint) { c.Processes[0].Creds.Groups = make([]uint32, MaxGroups+1) }, "65537 supplementary groups"},
		{"auxv", func(c *Checkpoint) { c.Processes[0].MM.Auxv = []uint64{1, 2, 3} }, "auxv of 3 words"},
		{"mm order", func(c *Checkpoint) { c.Processes[0].MM.Brk = 0x1000 }, "mm fields out of order"},
		{"vma overlap", func(c *Checkpoint) { c.Processes[0].MM.VMAs[1].Start = 0x401000 }, "process 42 vma 1 (0x401000-0x404000): overlaps previous"},
		{"vma align", func(c *Checkpoint) { c.Processes[0].MM.VMAs[2].End++ }, "vma 2 (0x7f0000000000-0x7f0000010001): not page-aligned"},
		{"vma empty", func(c *Checkpoint) { v := &c.Processes[0].MM.VMAs[2]; v.End = v.Start }, "vma 2 (0x7f0000000000-0x7f0000000000): empty or inverted"},
		{"vma high", func(c *Checkpoint) { v := &c.Processes[0].MM.VMAs[3]; v.End = 1 << 58 }, "beyond the user address space"},
		{"vma kind", func(c *Checkpoint) { c.Processes[0].MM.VMAs[2].Kind = 99 }, "vma 2 (0x7f0000000000-0x7f0000010000): unknown kind vma-kind-99"},
		{"vma kind 0", func(c *Checkpoint) { c.Processes[0].MM.VMAs[2].Kind = 0 }, "unknown kind vma-kind-0"},
		{"vma prot", func(c *Checkpoint) { c.Processes[0].MM.VMAs[2].Prot = 8 }, "unknown prot bits 0x8"},
		{"vma flags", func(c *Checkpoint) { c.Processes[0].MM.VMAs[2].Flags |= MapLocked }, "unknown flags 0x2000"},
		{"vma flags", func(c *Checkpoint) { c.Processes[0].MM.VMAs[2].Flags = MapAnonymous }, "exactly one of MAP_SHARED and MAP_PRIVATE"},
		{"vma both", func(c *Checkpoint) { c.Processes[0].MM.VMAs[2].Flags = MapShared | MapPrivate }, "exactly one of MAP_SHARED and MAP_PRIVATE"},
		{"vma offset", func(c *Checkpoint) { c.Processes[0].MM.VMAs[0].Offset = 12 }, "bad file offset 0xc"},
		{"vma file", func(c *Checkpoint) { c.Processes[0].MM.VMAs[0].File = nil }, "file mapping without a file"},
		{"anon vma with file", func(c *Checkpoint) {
			c.Processes[0].MM.VMAs[1].File = c.Processes[0].MM.VMAs[0].File
		}, "neither a file nor the vdso"},
		{"fd order", func(c *Checkpoint) { c.Processes[1].FDs[1].Num = 1 }, "process 50 fd 1: not ascending"},
		{"fd kind", func(c *Checkpoint) { c.Processes[1].FDs[0].Kind = 0 }, "process 50 fd 1: unknown kind fd-kind-0"},
		{"fd pos", func(c *Checkpoint) { c.Processes[1].FDs[0].Pos = -1 }, "negative position"},
		{"pgid", func(c *Checkpoint) { c.Processes[1].PGID = -1 }, "bad PPID 42, PGID -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCheckpoint()
			tt.edit(c)
			err := c.Validate()
			wantErr(t, err, ErrInvalid, tt.want)
			if !strings.HasPrefix(err.Error(), "image: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestValidateSmall(t *testing.T) {
	if err := smallCheckpoint().Validate(); err != nil {
		t.Fatal(err)
	}
}
