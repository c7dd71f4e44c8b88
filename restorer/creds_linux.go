package restorer

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/migrate-dev/migrate/image"
	"github.com/migrate-dev/migrate/internal/procfs"
	"golang.org/x/sys/unix"
)

// Securebits (<linux/securebits.h>).
const (
	secbitKeepCaps       = 1 << 4
	secbitKeepCapsLocked = 1 << 5
)

// setCreds gives the task the image's credentials, and only those. It runs
// last, while the task is still root: bounding set, groups, securebits
// (keeping capabilities across the uid change), gids, uids, ambient set,
// fs ids, the capability sets, keep-caps and no_new_privs. It then reads
// the result back and fails on any difference.
func (t *task) setCreds(c image.Creds, noNewPrivs bool) error {
	last, err := capLast()
	if err != nil {
		return err
	}
	keep := c.Securebits | secbitKeepCaps
	if c.Securebits&secbitKeepCapsLocked != 0 {
		keep = c.Securebits
	}
	steps := []step{
		{"bounding set", func() error { return t.dropBounding(c.CapBnd, last) }},
		{"groups", func() error { return t.setGroups(c.Groups) }},
		{"securebits", func() error { return t.prctl(unix.PR_SET_SECUREBITS, uint64(keep)) }},
		{"gids", func() error { return t.call3(unix.SYS_SETRESGID, c.GID, c.EGID, c.SGID) }},
		{"uids", func() error { return t.call3(unix.SYS_SETRESUID, c.UID, c.EUID, c.SUID) }},
		{"capabilities", func() error { return t.raiseEffective(c.CapInh) }},
		{"ambient capabilities", func() error { return t.raiseAmbient(c.CapAmb, last) }},
		{"fsgid", func() error { return t.do("setfsgid", unix.SYS_SETFSGID, uint64(c.FSGID)) }},
		{"fsuid", func() error { return t.do("setfsuid", unix.SYS_SETFSUID, uint64(c.FSUID)) }},
		{"capabilities", func() error { return t.capset(c.CapEff, c.CapPrm, c.CapInh) }},
		{"keep-caps", func() error {
			if c.Securebits&secbitKeepCapsLocked != 0 {
				return nil
			}
			return t.prctl(unix.PR_SET_KEEPCAPS, b2u(c.Securebits&secbitKeepCaps != 0))
		}},
		{"no_new_privs", func() error {
			if !noNewPrivs {
				return nil
			}
			return t.prctl(unix.PR_SET_NO_NEW_PRIVS, 1)
		}},
	}
	// In batches: the set of a dozen to sixty calls is cut in two where
	// the effective capabilities are read back.
	if err := t.batched(func() error { return runSteps(steps, nil) }); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return t.checkCreds(c, noNewPrivs)
}

func (t *task) prctl(opt, val uint64) error {
	return t.do(fmt.Sprintf("prctl %d %d", opt, val), unix.SYS_PRCTL, opt, val, 0, 0, 0)
}

func (t *task) call3(nr uintptr, a, b, c uint32) error {
	return t.do(fmt.Sprintf("system call %d (%d, %d, %d)", nr, a, b, c), nr, uint64(a), uint64(b), uint64(c))
}

// raiseEffective makes every permitted capability effective (the uid
// change cleared the effective set) and sets the inheritable set, so that
// ambient capabilities can be raised and fs ids set.
func (t *task) raiseEffective(inh uint64) error {
	if err := t.flush(); err != nil { // the uid change ran
		return err
	}
	st, err := procfs.Status(t.pid)
	if err != nil {
		return err
	}
	return t.capset(st.CapPrm, st.CapPrm, inh)
}

func (t *task) dropBounding(bnd uint64, last int) error {
	for c := 0; c <= last; c++ {
		if bnd&(1<<c) == 0 {
			if err := t.do(fmt.Sprintf("drop capability %d", c), unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uint64(c), 0, 0, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *task) raiseAmbient(amb uint64, last int) error {
	for c := 0; c <= last; c++ {
		if amb&(1<<c) != 0 {
			if err := t.do(fmt.Sprintf("raise ambient capability %d", c), unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uint64(c), 0, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// capset sets the three capability sets (version 3: two 32-bit halves).
func (t *task) capset(eff, prm, inh uint64) error {
	defer t.reset()
	b := make([]byte, 8+24)
	binary.LittleEndian.PutUint32(b, unix.LINUX_CAPABILITY_VERSION_3)
	for i := range 2 {
		off := 8 + 12*i
		shift := 32 * i
		binary.LittleEndian.PutUint32(b[off:], uint32(eff>>shift))
		binary.LittleEndian.PutUint32(b[off+4:], uint32(prm>>shift))
		binary.LittleEndian.PutUint32(b[off+8:], uint32(inh>>shift))
	}
	addr, err := t.put(b)
	if err != nil {
		return err
	}
	return t.do("capset", unix.SYS_CAPSET, addr, addr+8)
}

// checkCreds compares the task's credentials with the image's.
func (t *task) checkCreds(c image.Creds, noNewPrivs bool) error {
	st, err := procfs.Status(t.pid)
	if err != nil {
		return err
	}
	sec, err := t.call(unix.SYS_PRCTL, unix.PR_GET_SECUREBITS, 0, 0, 0, 0)
	if err != nil {
		return err
	}
	got := image.Creds{
		UID: st.Uid[0], EUID: st.Uid[1], SUID: st.Uid[2], FSUID: st.Uid[3],
		GID: st.Gid[0], EGID: st.Gid[1], SGID: st.Gid[2], FSGID: st.Gid[3],
		Groups: st.Groups, CapInh: st.CapInh, CapPrm: st.CapPrm, CapEff: st.CapEff,
		CapBnd: st.CapBnd, CapAmb: st.CapAmb, Securebits: uint32(sec),
	}
	if d := diffCreds(c, got); d != "" || st.NoNewPrivs != noNewPrivs {
		if d == "" {
			d = fmt.Sprintf("no_new_privs %v, image has %v", st.NoNewPrivs, noNewPrivs)
		}
		return fmt.Errorf("credentials after restore differ from the image: %s", d)
	}
	return nil
}

func diffCreds(want, got image.Creds) string {
	var d []string
	cmp := func(name string, w, g any) {
		if fmt.Sprint(w) != fmt.Sprint(g) {
			d = append(d, fmt.Sprintf("%s %v (image %v)", name, g, w))
		}
	}
	cmp("uids", []uint32{want.UID, want.EUID, want.SUID, want.FSUID}, []uint32{got.UID, got.EUID, got.SUID, got.FSUID})
	cmp("gids", []uint32{want.GID, want.EGID, want.SGID, want.FSGID}, []uint32{got.GID, got.EGID, got.SGID, got.FSGID})
	cmp("groups", normGroups(want.Groups), normGroups(got.Groups))
	cmp("CapInh", fmt.Sprintf("%#x", want.CapInh), fmt.Sprintf("%#x", got.CapInh))
	cmp("CapPrm", fmt.Sprintf("%#x", want.CapPrm), fmt.Sprintf("%#x", got.CapPrm))
	cmp("CapEff", fmt.Sprintf("%#x", want.CapEff), fmt.Sprintf("%#x", got.CapEff))
	cmp("CapBnd", fmt.Sprintf("%#x", want.CapBnd), fmt.Sprintf("%#x", got.CapBnd))
	cmp("CapAmb", fmt.Sprintf("%#x", want.CapAmb), fmt.Sprintf("%#x", got.CapAmb))
	cmp("securebits", want.Securebits, got.Securebits)
	return strings.Join(d, ", ")
}

func normGroups(g []uint32) []uint32 {
	if len(g) == 0 {
		return nil
	}
	return g
}

// capLast is the highest capability number this kernel knows.
// capLast is the highest capability number this kernel knows (fixed until
// reboot: read once).
var capLast = sync.OnceValues(func() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
})
