/*
 * churn - an address space that keeps changing, for live migration.
 *
 *   churn [SLOTS [OPS_PER_MS [SEED [DIR [MODE]]]]]
 *
 * Defaults: 64 slots, 2 operations per millisecond, seed 1, the current
 * directory. MODE "filedontneed" enables MADV_DONTNEED on private file
 * mappings (see below); "-" or nothing leaves it off.
 *
 * The process keeps a table of at most SLOTS regions ("slots"), each a
 * contiguous range of 1..128 pages of private memory: anonymous, or a
 * private mapping of DIR/churn.dat (64 pages it writes at start and keeps
 * open). The table lives in the process's own memory (.bss), and so do the
 * PRNG state and the counters: everything moves with the process. Every
 * millisecond (nanosleep to a CLOCK_MONOTONIC deadline) it performs
 * OPS_PER_MS random operations (xorshift64 seeded with SEED):
 *
 *   map       mmap 1..64 pages at an address the kernel chooses, anonymous
 *             or (1 in 6; 1 in 2 with filedontneed) the file at a random
 *             offset
 *   over      mmap MAP_FIXED over a whole slot, its head, its tail or its
 *             middle (the old slot is cut, possibly in two)
 *   next      mmap MAP_FIXED_NOREPLACE right after or before a slot
 *   unmap     munmap a whole slot, its head, tail or middle
 *   protect   mprotect a slot or part of it to PROT_READ|PROT_WRITE,
 *             PROT_READ or (1 in 10) PROT_NONE, splitting mappings
 *   remap     mremap: grow (MREMAP_MAYMOVE), shrink, or move (and resize;
 *             a shrink is an munmap of the tail first) onto a placeholder
 *             (MREMAP_MAYMOVE|MREMAP_FIXED) the kernel chose or right after
 *             another slot. Growing or resizing a slot that is not one
 *             mapping fails (EFAULT) and is skipped; a move of the same
 *             size may move several (Linux 6.17+) or fail after moving the
 *             first ones when a later one is registered with a userfaultfd,
 *             as a migration's dirty tracking does: the moved prefix
 *             becomes a slot of its own ("partialmoves")
 *   dontneed  madvise(MADV_DONTNEED) 1..16 pages of an anonymous slot: they
 *             read zero afterwards; with MODE filedontneed, of file slots
 *             too: they read the file's contents again. The uffd-wp tracker
 *             documents that the kernel does not report the latter.
 *   write     1..8 random writes, each to a random writable page: one word
 *             changed, or the whole page refilled
 *
 * New regions get 3 of 4 pages filled, the rest are left untouched (zero,
 * or the file's). Every page's expected contents are a function of two
 * fields of the table, seed and nw: seed 0 is a zero page, otherwise 512
 * words derived from seed, then nw single-word writes derived from seed
 * and their number (after 15 the page is refilled with a new seed). A file
 * page the process did not write has the seed of its file page, which is
 * how the file was written. The table also holds each page's protection.
 *
 * Every 50 ms it prints "PROGRESS ops=<n> t=<CLOCK_REALTIME ns>". A fault
 * (SIGSEGV, SIGBUS) prints a FAIL line naming the address and the slot and
 * exits 1. With CHURN_JOURNAL=PATH in its environment it appends one line
 * per change of its memory and mappings to PATH.<pid>, stamped with
 * CLOCK_MONOTONIC: to follow a page through a migration.
 *
 * Checks (SIGUSR2): /proc/self/maps has every page of every slot with the
 * table's protection, private, and for file slots the file at the right
 * offset (anonymous ones: no file); then, after making PROT_NONE pages
 * readable, every page's contents (the first mismatches with address, slot,
 * page, word, expected and got). It prints "OPS ..." with the counts of
 * operations done and "STATS ..." about the table first.
 *
 * Corrupt (SIGUSR1): changes one word of a writable page without updating
 * the table, and pins its slot (no later operation touches it), so the
 * corruption survives until the check.
 */
#include "common.h"

#include <limits.h>
#include <sys/mman.h>

#define PAGE 4096UL
#define WORDS (PAGE / 8)
#define MAXSLOTS 256
#define MAXPG 128   /* pages in one slot at most */
#define NEWMAX 64   /* pages of a new region at most */
#define FILEPAGES 64
#define MAXNW 15    /* single-word writes before a page is refilled */
#define MAXMAPS 8192
#define NS 1000000000LL
#define TICK_NS 1000000LL
#define PROGRESS_NS (50 * 1000000LL)

enum { P_NONE = 0, P_R = PROT_READ, P_RW = PROT_READ | PROT_WRITE };

struct pagestate {
	uint64_t seed; /* 0: zero page */
	uint8_t nw;    /* single-word writes after the fill */
	uint8_t prot;
};

struct slot {
	int used, pinned, file;
	unsigned long base;
	int n;
	long foff; /* file page of page 0 (file slots) */
	struct pagestate pg[MAXPG];
};

enum op { OP_MAP, OP_OVER, OP_NEXT, OP_UNMAP, OP_PROTECT, OP_REMAP, OP_DONTNEED, OP_WRITE, NOPS };
static const int opweights[NOPS] = { 12, 8, 8, 10, 14, 12, 10, 26 };

static struct slot slots[MAXSLOTS];
static int nslots = 64, opsms = 2, file_dontneed;
static uint64_t rng, fileseed;
static int filefd = -1;
static char filepath[PATH_MAX + 16];
static unsigned long long ops, done[NOPS], skipped, syserrs, filedn, partial;
static int whole; /* the next unmap takes a whole slot */

struct mapline {
	unsigned long start, end, off, ino;
	char perms[8];
	char path[512];
};
static struct mapline maps[MAXMAPS];
static int nmaps;
static char mapsbuf[2 << 20];
static uint64_t expect[WORDS];

static int jfd = -1;
static void __attribute__((format(printf, 1, 2))) jr(const char *fmt, ...)
{
	char buf[512];
	struct timespec ts;
	va_list ap;
	int n;

	if (jfd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(buf, sizeof(buf), "%lld ", ts.tv_sec * 1000000000LL + ts.tv_nsec);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	if (write(jfd, buf, n) < 0) {
	}
}

/* ---- pseudo-random numbers and page contents ---- */

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int rn(int n) { return n > 0 ? (int)(rnd() % (uint64_t)n) : 0; }

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t newseed(void)
{
	uint64_t s;

	while ((s = rnd()) == 0)
		;
	return s;
}

static uint64_t fseed(long j) { return mix(fileseed + (uint64_t)j + 1) | 1; }

/* nth_write gives the word index and value of single-word write k of a page. */
static void nth_write(uint64_t seed, unsigned k, unsigned *idx, uint64_t *val)
{
	uint64_t h = mix(seed ^ (k * 0xd1b54a32d192ed03ULL));

	*idx = h % WORDS;
	*val = mix(h + k);
}

/* gen computes a page's contents from its seed and write count. */
static void gen(uint64_t *w, uint64_t seed, int nw)
{
	unsigned i, k, idx;
	uint64_t v;

	if (seed == 0) {
		memset(w, 0, PAGE);
		return;
	}
	for (i = 0; i < WORDS; i++)
		w[i] = mix(seed + (i + 1) * 0x9e3779b97f4a7c15ULL);
	for (k = 1; k <= (unsigned)nw; k++) {
		nth_write(seed, k, &idx, &v);
		w[idx] = v;
	}
}

/* ---- the table ---- */

static unsigned long addr_of(const struct slot *s, int i) { return s->base + (unsigned long)i * PAGE; }
static unsigned long end_of(const struct slot *s) { return addr_of(s, s->n); }

static int free_slot(void)
{
	int i;

	for (i = 0; i < nslots; i++)
		if (!slots[i].used)
			return i;
	return -1;
}

static int nfree(void)
{
	int i, n = 0;

	for (i = 0; i < nslots; i++)
		n += !slots[i].used;
	return n;
}

/* pick returns a random used slot that is not pinned (file: -1 any, 0 anonymous, 1 file), or -1. */
static int pick(int file)
{
	int i, start = rn(nslots);

	for (i = 0; i < nslots; i++) {
		struct slot *s = &slots[(start + i) % nslots];
		if (s->used && !s->pinned && (file < 0 || s->file == file))
			return (start + i) % nslots;
	}
	return -1;
}

/* untouched is the state of a page nobody wrote. */
static struct pagestate untouched(const struct slot *s, int i, int prot)
{
	struct pagestate p = { s->file ? fseed(s->foff + i) : 0, 0, (uint8_t)prot };

	return p;
}

static void refill(struct slot *s, int i)
{
	struct pagestate *p = &s->pg[i];

	p->seed = newseed();
	p->nw = 0;
	gen((uint64_t *)addr_of(s, i), p->seed, 0);
	jr("fill %#lx seed %#llx", addr_of(s, i), (unsigned long long)p->seed);
}

/* write_page changes a writable page: one word, or all of it. */
static void write_page(struct slot *s, int i)
{
	struct pagestate *p = &s->pg[i];
	unsigned idx;
	uint64_t v;

	if (p->seed == 0 || p->nw >= MAXNW || rn(4) == 0) {
		refill(s, i);
		return;
	}
	p->nw++;
	nth_write(p->seed, p->nw, &idx, &v);
	((volatile uint64_t *)addr_of(s, i))[idx] = v;
	jr("word %#lx nw %d", addr_of(s, i), p->nw);
}

/* add_slot records a new region of n pages at base, all RW, and fills 3 of 4 pages. */
static void add_slot(unsigned long base, int n, int file, long foff)
{
	int k = free_slot(), i;
	struct slot *s;

	if (k < 0) { /* callers check first */
		wl_out("ERROR: no free slot\n");
		syserrs++;
		return;
	}
	s = &slots[k];
	memset(s, 0, sizeof(*s));
	s->used = 1;
	s->base = base;
	s->n = n;
	s->file = file;
	s->foff = file ? foff : 0;
	jr("add slot %d %#lx-%#lx file %d foff %ld", k, base, end_of(s), file, foff);
	for (i = 0; i < n; i++) {
		s->pg[i] = untouched(s, i, P_RW);
		if (rn(4) != 0)
			refill(s, i);
	}
}

/*
 * cut removes pages [a, b) of slot s from the table (their memory is gone
 * or replaced already). Cutting the middle makes the tail a slot of its
 * own: the caller made sure one is free.
 */
static void cut(struct slot *s, int a, int b)
{
	jr("cut slot %d %#lx-%#lx of %#lx-%#lx", (int)(s - slots), addr_of(s, a), addr_of(s, b), s->base, end_of(s));
	if (a == 0 && b == s->n) {
		s->used = 0;
		return;
	}
	if (a == 0) {
		memmove(&s->pg[0], &s->pg[b], (s->n - b) * sizeof(s->pg[0]));
		s->base = addr_of(s, b);
		s->foff += b;
		s->n -= b;
		return;
	}
	if (b < s->n) {
		int k = free_slot();
		struct slot *t = &slots[k];
		memset(t, 0, sizeof(*t));
		t->used = 1;
		t->file = s->file;
		t->base = addr_of(s, b);
		t->foff = s->foff + b;
		t->n = s->n - b;
		memcpy(&t->pg[0], &s->pg[b], t->n * sizeof(t->pg[0]));
	}
	s->n = a;
}

/* range picks [a, b) in a slot of n pages: whole (0), head (1), tail (2) or middle (3). */
static int range(int n, int *a, int *b)
{
	int kind = n < 3 ? rn(n == 2 ? 3 : 1) : rn(4);

	switch (kind) {
	case 0:
		*a = 0, *b = n;
		break;
	case 1:
		*a = 0, *b = 1 + rn(n - 1);
		break;
	case 2:
		*a = 1 + rn(n - 1), *b = n;
		break;
	default:
		*a = 1 + rn(n - 2);
		*b = *a + 1 + rn(n - 1 - *a);
		break;
	}
	return kind;
}

static void syserr(const char *what, const struct slot *s)
{
	syserrs++;
	wl_out("ERROR: %s slot %d (%#lx-%#lx): %s\n", what, (int)(s - slots), s->base, end_of(s), strerror(errno));
}

/* ---- the operations ---- */

static void *map_region(unsigned long addr, int n, int flags, int file, long foff)
{
	if (file)
		return mmap((void *)addr, n * PAGE, P_RW, MAP_PRIVATE | flags, filefd, foff * PAGE);
	return mmap((void *)addr, n * PAGE, P_RW, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}

/* new_region chooses the kind and size of a new region of at most max pages. */
static void new_region(int max, int *n, int *file, long *foff)
{
	*file = filefd >= 0 && rn(file_dontneed ? 2 : 6) == 0;
	if (*file && max > FILEPAGES)
		max = FILEPAGES;
	*n = 1 + rn(max);
	*foff = *file ? rn(FILEPAGES - *n + 1) : 0;
}

static int op_map(void)
{
	int n, file;
	long foff;
	void *p;

	if (nfree() < 1)
		return 0;
	new_region(NEWMAX, &n, &file, &foff);
	p = map_region(0, n, 0, file, foff);
	if (p == MAP_FAILED) {
		syserrs++;
		wl_out("ERROR: mmap %d pages: %s\n", n, strerror(errno));
		return 1;
	}
	add_slot((unsigned long)p, n, file, foff);
	return 1;
}

static int op_over(void)
{
	int k = pick(-1), a, b, n, file;
	struct slot *s;
	long foff;
	void *p;

	if (k < 0 || nfree() < 2)
		return 0;
	s = &slots[k];
	range(s->n, &a, &b);
	n = b - a;
	file = filefd >= 0 && n <= FILEPAGES && rn(file_dontneed ? 2 : 6) == 0;
	foff = file ? rn(FILEPAGES - n + 1) : 0;
	p = map_region(addr_of(s, a), n, MAP_FIXED, file, foff);
	jr("mmap-fixed %#lx-%#lx file %d", addr_of(s, a), addr_of(s, b), file);
	if (p == MAP_FAILED) {
		syserr("mmap MAP_FIXED over", s);
		return 1;
	}
	cut(s, a, b);
	add_slot((unsigned long)p, n, file, foff);
	return 1;
}

static int op_next(void)
{
	int k = pick(-1), n, file;
	unsigned long addr;
	struct slot *s;
	long foff;
	void *p;

	if (k < 0 || nfree() < 1)
		return 0;
	s = &slots[k];
	new_region(NEWMAX, &n, &file, &foff);
	addr = rn(2) ? end_of(s) : s->base - n * PAGE;
	if (addr < (1UL << 20) || addr > s->base + (1UL << 40))
		return 0;
	p = map_region(addr, n, MAP_FIXED_NOREPLACE, file, foff);
	if (p == MAP_FAILED) {
		if (errno == EEXIST) {
			skipped++;
			return 1;
		}
		syserr("mmap MAP_FIXED_NOREPLACE next to", s);
		return 1;
	}
	if ((unsigned long)p != addr) { /* a kernel without MAP_FIXED_NOREPLACE */
		munmap(p, n * PAGE);
		skipped++;
		return 1;
	}
	add_slot(addr, n, file, foff);
	return 1;
}

static int op_unmap(void)
{
	int k = pick(-1), a, b;
	struct slot *s;

	if (k < 0)
		return 0;
	s = &slots[k];
	if ((range(s->n, &a, &b) == 3 && nfree() < 1) || whole)
		a = 0, b = s->n;
	jr("munmap %#lx-%#lx", addr_of(s, a), addr_of(s, b));
	if (munmap((void *)addr_of(s, a), (b - a) * PAGE) != 0) {
		syserr("munmap", s);
		return 1;
	}
	cut(s, a, b);
	return 1;
}

static int op_protect(void)
{
	int k = pick(-1), a, b, i, prot;
	struct slot *s;

	if (k < 0)
		return 0;
	s = &slots[k];
	range(s->n, &a, &b);
	prot = rn(10) == 0 ? P_NONE : rn(2) ? P_R : P_RW;
	jr("mprotect %#lx-%#lx %d", addr_of(s, a), addr_of(s, b), prot);
	if (mprotect((void *)addr_of(s, a), (b - a) * PAGE, prot) != 0) {
		syserr("mprotect", s);
		return 1;
	}
	for (i = a; i < b; i++)
		s->pg[i].prot = prot;
	return 1;
}

/* uniform returns the protection shared by every page of s, or -1. */
static int uniform(const struct slot *s)
{
	int i;

	for (i = 1; i < s->n; i++)
		if (s->pg[i].prot != s->pg[0].prot)
			return -1;
	return s->pg[0].prot;
}

/* resized records that s now has n pages at base (new pages untouched, with prot). */
static void resized(struct slot *s, unsigned long base, int n, int prot)
{
	int i;

	for (i = s->n; i < n; i++)
		s->pg[i] = untouched(s, i, prot);
	s->base = base;
	s->n = n;
	for (i = 0; i < n; i++)
		if ((s->pg[i].prot & PROT_WRITE) && rn(8) == 0)
			write_page(s, i);
}

static int mapped(unsigned long a) { return msync((void *)a, PAGE, MS_ASYNC) == 0; }

/*
 * moved_prefix sorts out a move of a whole slot (old and new length the
 * same) that failed with EFAULT. Since Linux 6.17 such a move may span
 * several mappings; it moves them one after the other and stops with
 * EFAULT at one it may not move, such as a mapping registered with a
 * userfaultfd (as a migration's dirty tracking does): a prefix of the slot
 * is at place then, the rest where it was. The prefix becomes a slot of
 * its own (the caller made sure one is free), the placeholder's rest is
 * unmapped. It returns the pages moved, or -1 when the memory is not as
 * that model says.
 */
static int moved_prefix(struct slot *s, unsigned long place)
{
	int j = 0, i, k;
	struct slot *t;

	while (j < s->n && !mapped(addr_of(s, j)))
		j++;
	for (i = 0; i < s->n; i++)
		if (mapped(i < j ? place + i * PAGE : addr_of(s, i)) != 1)
			return -1;
	munmap((void *)(place + j * PAGE), (s->n - j) * PAGE);
	if (j == 0)
		return 0;
	k = free_slot();
	t = &slots[k];
	memcpy(t, s, sizeof(*t));
	t->base = place;
	t->n = j;
	jr("mremap-partial slot %d %#lx-%#lx -> slot %d %#lx-%#lx", (int)(s - slots), s->base, addr_of(s, j), k, place, place + j * PAGE);
	cut(s, 0, j);
	return j;
}

static int op_remap(void)
{
	int k = pick(-1), prot, n, kind = rn(3), max;
	unsigned long place = 0;
	struct slot *s;
	void *p;

	if (k < 0)
		return 0;
	s = &slots[k];
	prot = uniform(s);
	if (prot < 0 && kind != 2) { /* grow and shrink need one mapping */
		skipped++;
		return 1;
	}
	max = s->file ? (int)(FILEPAGES - s->foff) : MAXPG;
	if (kind == 1 && s->n < 2)
		kind = 0;
	switch (kind) {
	case 0: /* grow, moving when needed */
		if (s->n >= max) {
			skipped++;
			return 1;
		}
		n = s->n + 1 + rn(max - s->n < 32 ? max - s->n : 32);
		p = mremap((void *)s->base, s->n * PAGE, n * PAGE, MREMAP_MAYMOVE);
		break;
	case 1: /* shrink in place */
		n = 1 + rn(s->n - 1);
		p = mremap((void *)s->base, s->n * PAGE, n * PAGE, 0);
		break;
	default: /* move, maybe resizing, onto a placeholder */
		n = prot < 0 ? s->n : s->n + rn(17) - 8;
		n = n < 1 ? 1 : n > max ? max : n;
		if (n < s->n) {
			/* Shrink first: a move that shrinks unmaps the tail even
			 * when it then fails. */
			jr("munmap %#lx-%#lx", addr_of(s, n), end_of(s));
			if (munmap((void *)addr_of(s, n), (s->n - n) * PAGE) != 0) {
				syserr("munmap tail", s);
				return 1;
			}
			cut(s, n, s->n);
		}
		if (n == s->n && nfree() < 1) { /* no slot for a partial move */
			skipped++;
			return 1;
		}
		if (rn(2)) {
			int o = pick(-1);
			if (o >= 0 && o != k) {
				place = end_of(&slots[o]);
				p = mmap((void *)place, n * PAGE, PROT_NONE,
					 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
				if (p == MAP_FAILED || (unsigned long)p != place) {
					if (p != MAP_FAILED)
						munmap(p, n * PAGE);
					place = 0;
				}
			}
		}
		if (!place) {
			p = mmap(NULL, n * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (p == MAP_FAILED) {
				syserr("mmap placeholder for", s);
				return 1;
			}
			place = (unsigned long)p;
		}
		p = mremap((void *)s->base, s->n * PAGE, n * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)place);
		if (p == MAP_FAILED && errno == EFAULT && n == s->n) {
			int moved = moved_prefix(s, place);
			if (moved < 0) {
				errno = EFAULT;
				syserr("mremap (a move that failed half-way?)", s);
			} else if (moved > 0)
				partial++;
			else
				skipped++;
			return 1;
		}
		if (p == MAP_FAILED) {
			int e = errno;
			munmap((void *)place, n * PAGE);
			errno = e;
		}
		break;
	}
	if (p == MAP_FAILED) {
		jr("mremap-failed slot %d kind %d %#lx-%#lx n %d: %s", k, kind, s->base, end_of(s), n, strerror(errno));
		if (errno == EFAULT) { /* the slot is more than one mapping */
			skipped++;
			return 1;
		}
		syserr("mremap", s);
		return 1;
	}
	jr("mremap slot %d %#lx-%#lx -> %#lx-%#lx", k, s->base, end_of(s), (unsigned long)p, (unsigned long)p + n * PAGE);
	if (n < s->n)
		s->n = n;
	resized(s, (unsigned long)p, n, prot);
	return 1;
}

static int op_dontneed(void)
{
	int k = pick(file_dontneed && rn(2) ? 1 : 0), a, n, i;
	struct slot *s;

	if (k < 0)
		return 0;
	s = &slots[k];
	a = rn(s->n);
	n = 1 + rn(s->n - a < 16 ? s->n - a : 16);
	jr("dontneed %#lx-%#lx", addr_of(s, a), addr_of(s, a + n));
	if (madvise((void *)addr_of(s, a), n * PAGE, MADV_DONTNEED) != 0) {
		syserr("madvise MADV_DONTNEED", s);
		return 1;
	}
	for (i = a; i < a + n; i++)
		s->pg[i] = untouched(s, i, s->pg[i].prot);
	if (s->file)
		filedn++;
	return 1;
}

static int op_write(void)
{
	int j, k, i;

	for (j = 1 + rn(8); j > 0; j--) {
		if ((k = pick(-1)) < 0)
			return 0;
		i = rn(slots[k].n);
		if (slots[k].pg[i].prot & PROT_WRITE)
			write_page(&slots[k], i);
	}
	return 1;
}

static int (*const opfns[NOPS])(void) = {
	op_map, op_over, op_next, op_unmap, op_protect, op_remap, op_dontneed, op_write,
};

static void one_op(void)
{
	int used = nslots - nfree(), w = 0, total = 0, i;
	enum op op = OP_WRITE;

	whole = 0;
	if (used < nslots / 4) {
		op = OP_MAP;
	} else if (used > nslots * 3 / 4 && rn(4) == 0) {
		op = OP_UNMAP; /* keep room for new slots: a whole one */
		whole = 1;
	} else {
		for (i = 0; i < NOPS; i++)
			total += opweights[i];
		w = rn(total);
		for (i = 0; i < NOPS; i++) {
			if (w < opweights[i]) {
				op = i;
				break;
			}
			w -= opweights[i];
		}
	}
	if (opfns[op]())
		done[op]++;
	else
		skipped++;
	ops++;
}

/* ---- checking ---- */

static void parse_maps(void)
{
	char *line = mapsbuf, *nl;

	nmaps = 0;
	if (wl_read_file("/proc/self/maps", mapsbuf, sizeof(mapsbuf)) < 0) {
		wl_fail("read /proc/self/maps: %s", strerror(errno));
		return;
	}
	for (; *line && nmaps < MAXMAPS; line = nl + 1) {
		struct mapline *m = &maps[nmaps];
		int pos = 0;
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = 0;
		memset(m, 0, sizeof(*m));
		if (sscanf(line, "%lx-%lx %7s %lx %*s %lu %n", &m->start, &m->end, m->perms, &m->off, &m->ino, &pos) < 5)
			continue;
		snprintf(m->path, sizeof(m->path), "%s", pos ? line + pos : "");
		nmaps++;
	}
}

static const struct mapline *find_map(unsigned long a)
{
	int lo = 0, hi = nmaps;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (maps[mid].end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nmaps && maps[lo].start <= a ? &maps[lo] : NULL;
}

static const char *perms_of(int prot)
{
	return prot == P_RW ? "rw-p" : prot == P_R ? "r--p" : "---p";
}

static void check_maps(void)
{
	int k, i, bad = 0;

	parse_maps();
	for (k = 0; k < nslots; k++) {
		const struct slot *s = &slots[k];
		if (!s->used)
			continue;
		for (i = 0; i < s->n; i++) {
			unsigned long a = addr_of(s, i);
			const struct mapline *m = find_map(a);
			const char *want = perms_of(s->pg[i].prot);
			const char *why = NULL;
			if (!m)
				why = "not mapped";
			else if (strncmp(m->perms, want, 4) != 0)
				why = "protection";
			else if (s->file && strcmp(m->path, filepath) != 0)
				why = "file";
			else if (s->file && m->off + (a - m->start) != (unsigned long)(s->foff + i) * PAGE)
				why = "file offset";
			else if (!s->file && m->ino != 0)
				why = "anonymous";
			if (why && bad++ < 5)
				wl_fail("maps: %s of slot %d page %d/%d at %#lx: expected %s %s offset %#lx, got %s",
					why, k, i, s->n, a, want, s->file ? filepath : "(anonymous)",
					s->file ? (unsigned long)(s->foff + i) * PAGE : 0UL,
					m ? m->perms : "(unmapped)");
		}
	}
	if (bad > 5)
		wl_fail("maps: %d pages differ", bad);
}

static void check_pages(void)
{
	int k, i, bad = 0, total = 0;

	for (k = 0; k < nslots; k++) {
		const struct slot *s = &slots[k];
		if (!s->used)
			continue;
		for (i = 0; i < s->n; i++) {
			const struct pagestate *p = &s->pg[i];
			const uint64_t *got = (const uint64_t *)addr_of(s, i);
			unsigned w;
			total++;
			gen(expect, p->seed, p->nw);
			if (memcmp(expect, got, PAGE) == 0)
				continue;
			if (bad++ >= 5)
				continue;
			for (w = 0; w < WORDS && expect[w] == got[w]; w++)
				;
			wl_fail("page content of slot %d page %d/%d at %#lx (%s%s, seed %#llx nw %d prot %s) "
				"word %u expected %#llx got %#llx%s",
				k, i, s->n, addr_of(s, i), s->file ? "file" : "anonymous",
				s->file ? (p->seed == fseed(s->foff + i) && p->nw == 0 ? " untouched" : " written") : "",
				(unsigned long long)p->seed, p->nw, perms_of(p->prot), w,
				(unsigned long long)expect[w], (unsigned long long)got[w],
				p->seed == 0 ? " (a zero page)" : "");
		}
	}
	if (bad)
		wl_fail("page content: %d of %d pages differ", bad, total);
}

static void report(void)
{
	int k, i, used = 0, pages = 0, zero = 0, file = 0, ro = 0, none = 0;

	for (k = 0; k < nslots; k++) {
		const struct slot *s = &slots[k];
		if (!s->used)
			continue;
		used++;
		for (i = 0; i < s->n; i++) {
			pages++;
			zero += s->pg[i].seed == 0;
			file += s->file;
			ro += s->pg[i].prot == P_R;
			none += s->pg[i].prot == P_NONE;
		}
	}
	wl_out("OPS total=%llu map=%llu over=%llu next=%llu unmap=%llu protect=%llu remap=%llu "
	       "dontneed=%llu write=%llu skipped=%llu filedontneed=%llu partialmoves=%llu errors=%llu\n",
	       ops, done[OP_MAP], done[OP_OVER], done[OP_NEXT], done[OP_UNMAP], done[OP_PROTECT],
	       done[OP_REMAP], done[OP_DONTNEED], done[OP_WRITE], skipped, filedn, partial, syserrs);
	wl_out("STATS slots=%d pages=%d zero=%d file=%d readonly=%d none=%d maps=%d\n",
	       used, pages, zero, file, ro, none, nmaps);
}

static void check(void)
{
	int k, i;

	check_maps(); /* before the protections change below */
	for (k = 0; k < nslots; k++) {
		const struct slot *s = &slots[k];
		if (!s->used)
			continue;
		for (i = 0; i < s->n; i++)
			if (s->pg[i].prot == P_NONE && mprotect((void *)addr_of(s, i), PAGE, PROT_READ) != 0)
				wl_fail("mprotect PROT_READ slot %d page %d at %#lx: %s", k, i, addr_of(s, i), strerror(errno));
	}
	report();
	check_pages();
	wl_check_int("failed system calls", 0, syserrs);
}

static void corrupt(void)
{
	int k, i, tries;

	for (tries = 0; tries < 1000; tries++) {
		if ((k = pick(-1)) < 0)
			break;
		i = rn(slots[k].n);
		if (slots[k].pg[i].prot == P_RW) {
			((volatile uint64_t *)addr_of(&slots[k], i))[7] ^= 0x100;
			slots[k].pinned = 1;
			wl_out("CORRUPT: slot %d page %d at %#lx word 7\n", k, i, addr_of(&slots[k], i));
			return;
		}
	}
	wl_out("CORRUPT: no writable page found\n");
	wl_failures++; /* the check must fail anyway */
}

/* on_segv reports a fault in the churn's own memory, with the table's view of it, and exits. */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
	unsigned long a = (unsigned long)si->si_addr;
	int k;

	(void)uc;
	for (k = 0; k < nslots; k++) {
		struct slot *s = &slots[k];
		if (s->used && s->base <= a && a < end_of(s)) {
			int i = (a - s->base) / PAGE;
			wl_out("FAIL: signal %d at %#lx: slot %d page %d/%d (%#lx-%#lx, %s, prot %s)\n", sig, a, k, i, s->n,
			       s->base, end_of(s), s->file ? "file" : "anonymous", perms_of(s->pg[i].prot));
			jr("SEGV %#lx slot %d page %d", a, k, i);
			_exit(1);
		}
	}
	wl_out("FAIL: signal %d at %#lx: in no slot\n", sig, a);
	_exit(1);
}

/* ---- set-up and main loop ---- */

static void make_file(const char *dir)
{
	char path[PATH_MAX];
	static uint64_t page[WORDS];
	long j;
	int fd;

	if (!realpath(dir, path))
		wl_setup_fail("dir %s: %s", dir, strerror(errno));
	snprintf(filepath, sizeof(filepath), "%s/churn.dat", path);
	fd = open(filepath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		wl_setup_fail("create %s: %s", filepath, strerror(errno));
	for (j = 0; j < FILEPAGES; j++) {
		gen(page, fseed(j), 0);
		if (write(fd, page, PAGE) != (ssize_t)PAGE)
			wl_setup_fail("write %s: %s", filepath, strerror(errno));
	}
	close(fd);
	filefd = open(filepath, O_RDONLY | O_CLOEXEC);
	if (filefd < 0)
		wl_setup_fail("open %s: %s", filepath, strerror(errno));
}

static long long ns(const struct timespec *t) { return t->tv_sec * NS + t->tv_nsec; }

static void progress(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	wl_out("PROGRESS ops=%llu t=%lld\n", ops, ns(&now));
}

int main(int argc, char **argv)
{
	long long next, now, last_progress;
	const char *dir = argc > 4 ? argv[4] : ".";
	struct timespec ts;
	int i;

	wl_init(WL_WAIT_OTHER);
	{
		struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
	}
	if (getenv("CHURN_JOURNAL")) {
		char jp[PATH_MAX];
		snprintf(jp, sizeof(jp), "%s.%d", getenv("CHURN_JOURNAL"), (int)getpid());
		jfd = open(jp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	}
	if (argc > 1)
		nslots = atoi(argv[1]);
	if (argc > 2)
		opsms = atoi(argv[2]);
	rng = argc > 3 ? strtoull(argv[3], NULL, 0) : 1;
	if (nslots < 4 || nslots > MAXSLOTS || opsms < 0 || opsms > 1000)
		wl_setup_fail("usage: churn [SLOTS (4..%d) [OPS_PER_MS [SEED [DIR [filedontneed]]]]]", MAXSLOTS);
	if (argc > 5 && strcmp(argv[5], "filedontneed") == 0)
		file_dontneed = 1;
	else if (argc > 5 && strcmp(argv[5], "-") != 0 && argv[5][0])
		wl_setup_fail("unknown mode %s", argv[5]);
	rng = mix(rng) | 1; /* xorshift state must not be 0 */
	fileseed = rnd();
	make_file(dir);
	for (i = 0; i < nslots / 2; i++)
		op_map();
	if (syserrs)
		wl_setup_fail("mapping the first regions failed");
	wl_ready("slots=%d ops_per_ms=%d file=%s filedontneed=%d", nslots, opsms, filepath, file_dontneed);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	next = last_progress = ns(&ts);
	for (;;) {
		long long wait;

		if (wl_corrupt_req) {
			wl_corrupt_req = 0;
			corrupt();
		}
		if (wl_verify_req)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = ns(&ts);
		wait = next - now;
		if (wait > TICK_NS) { /* the clock went back: another host */
			wait = TICK_NS;
			next = now + TICK_NS;
		}
		if (wait > 0) {
			struct timespec d = { 0, wait };
			if (nanosleep(&d, NULL) != 0)
				continue; /* EINTR: look at the flags */
		}
		for (i = 0; i < opsms; i++)
			one_op();
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = ns(&ts);
		if (now - last_progress >= PROGRESS_NS || now < last_progress) {
			last_progress = now;
			progress();
		}
		next += TICK_NS;
		if (next < now) /* fell behind (a freeze): start over from now */
			next = now + TICK_NS;
	}
	check();
	wl_finish();
}
