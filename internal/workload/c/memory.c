/*
 * memory - the address space and its contents.
 *
 * argv: [dir] for its two files (default: a new /tmp/wl-memory-XXXXXX).
 * Builds: an 8 MiB malloc block and 1000 small malloc chunks, 1 MiB of
 * sbrk, 64 recursive stack frames of 4 KiB each (256 KiB of stack) with the
 * wait happening in the deepest one, .data and .bss arrays, and, carved at
 * fixed places out of one PROT_NONE reservation (so that neighbours never
 * merge): 16 MiB of PRNG data, 8 MiB with only every other page touched, two
 * 64 KiB RW regions around a 64 KiB PROT_NONE guard, 256 KiB written then
 * made PROT_READ, a MAP_PRIVATE mapping of a file with two pages changed in
 * memory (copy-on-write, the file keeps its bytes), a MAP_SHARED mapping of
 * another file written through, and 1 MiB named "wl-named" with
 * PR_SET_VMA_ANON_NAME (when the kernel has it), and 64 KiB given
 * MADV_DONTFORK, MADV_WIPEONFORK, MADV_DONTDUMP, MADV_RANDOM and (with THP)
 * MADV_HUGEPAGE. Waits in nanosleep().
 *
 * Checks: /proc/self/maps (start, end, perms, offset, path of every line;
 * device and inode are not compared), the brk, a checksum of every region,
 * the advised region's madvise flags in smaps VmFlags,
 * the guard still PROT_NONE and the read-only region still PROT_READ (in
 * maps and by probing: reading the guard and writing the read-only region
 * both fault), the private file unchanged on disk and the shared file equal
 * to its mapping.
 *
 * Corrupt (SIGUSR1): flips one byte of the 16 MiB PRNG region.
 */
#include "common.h"

#include <limits.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

#define KiB 1024UL
#define MiB (1024 * KiB)
#define PAGE 4096UL
#define NFRAMES 64
#define FRAME_BYTES (4 * KiB)
#define NSMALL 1000
#define FILE_BYTES (256 * KiB)
#define MAXREGIONS 32
#define MAXMAPS 1024

struct region {
	const char *name;
	unsigned char *addr;
	size_t len;
	uint64_t hash;
};

struct mapline {
	unsigned long start, end;
	unsigned long long off;
	char perms[8];
	char path[256];
};

static struct region regions[MAXREGIONS];
static int nregions;
static unsigned char *frames[NFRAMES], *small[NSMALL];
static uint64_t small_hash, stack_hash, priv_file_hash, brk_want;
static unsigned char *guard, *ro, *fshared, *rnd, *named, *advised;
static int named_ok;
static char advice_want[64], advice_got[64], smapsbuf[1024 * KiB];
static char dirpath[PATH_MAX], filebuf[FILE_BYTES], mapsbuf[256 * KiB];
static struct mapline want_maps[MAXMAPS], got_maps[MAXMAPS];
static int nwant_maps, ngot_maps;
static uint64_t data_words[1024] = { 1, 2, 3 };
static uint64_t bss_words[16 * 1024];
static uint64_t seed = 0x6d656d6f7279;

static void fill(unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = wl_rand(&seed);
		memcpy(p + i, &v, 8);
	}
}

static unsigned char *add(const char *name, void *addr, size_t len)
{
	regions[nregions++] = (struct region){ name, addr, len, 0 };
	return addr;
}

static int parse_maps(struct mapline *out)
{
	char *line = mapsbuf, *nl;
	int n = 0;

	if (wl_read_file("/proc/self/maps", mapsbuf, sizeof(mapsbuf)) < 0)
		wl_fail("read /proc/self/maps: %s", strerror(errno));
	for (; *line && n < MAXMAPS; line = nl + 1, n++) {
		struct mapline *m = &out[n];
		int pos = 0;
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = 0;
		memset(m, 0, sizeof(*m));
		sscanf(line, "%lx-%lx %7s %llx %*s %*u %n", &m->start, &m->end, m->perms, &m->off, &pos);
		snprintf(m->path, sizeof(m->path), "%s", pos ? line + pos : "");
	}
	return n;
}

static const struct mapline *find_map(const struct mapline *maps, int n, const void *addr)
{
	unsigned long a = (unsigned long)addr;
	int i;

	for (i = 0; i < n; i++)
		if (maps[i].start <= a && a < maps[i].end)
			return &maps[i];
	return NULL;
}

/* hash_all computes the checksums that are not a plain region. */
static void hash_all(uint64_t *small_h, uint64_t *stack_h)
{
	int i;

	*small_h = *stack_h = 0;
	for (i = 0; i < NSMALL; i++)
		*small_h = *small_h * 31 + wl_hash(small[i], 64);
	for (i = 0; i < NFRAMES; i++)
		*stack_h = *stack_h * 31 + wl_hash(frames[i], FRAME_BYTES);
}

static uint64_t file_hash(const char *name)
{
	char path[PATH_MAX + 16];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dirpath, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : pread(fd, filebuf, FILE_BYTES, 0);
	if (fd >= 0)
		close(fd);
	return n == (ssize_t)FILE_BYTES ? wl_hash(filebuf, FILE_BYTES) : 0;
}

static sigjmp_buf probe_env;
static void on_segv(int sig) { (void)sig; siglongjmp(probe_env, 1); }

/* faults tells whether reading (or writing back) *p raises SIGSEGV. */
static int faults(volatile unsigned char *p, int write)
{
	struct sigaction sa = { .sa_handler = on_segv, .sa_flags = SA_NODEFER }, old;
	int faulted = 1;

	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(probe_env, 1) == 0) {
		unsigned char v = *p;
		if (write)
			*p = v;
		faulted = 0;
	}
	sigaction(SIGSEGV, &old, NULL);
	return faulted;
}

/*
 * advice_of writes the madvise codes smaps shows for the mapping holding
 * addr (dc wf dd hg nh mg sr rr, in smaps order) to out.
 */
static void advice_of(const void *addr, char *out, size_t cap)
{
	static const char *const codes[] = { "dc", "wf", "dd", "hg", "nh", "mg", "sr", "rr" };
	unsigned long a = (unsigned long)addr, start, end;
	char *line, *nl;
	int in = 0;
	size_t i;

	out[0] = 0;
	if (wl_read_file("/proc/self/smaps", smapsbuf, sizeof(smapsbuf)) < 0) {
		snprintf(out, cap, "(smaps: %s)", strerror(errno));
		return;
	}
	for (line = smapsbuf; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = 0;
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && line[strlen(line) - 1] != ':' && strchr(line, ' '))
			in = start <= a && a < end;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			char *tok, *save;
			for (tok = strtok_r(line + 8, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
				for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
					if (strcmp(tok, codes[i]) == 0 && strlen(out) + 4 < cap)
						strcat(strcat(out, out[0] ? " " : ""), tok);
			return;
		}
	}
}

static void check_maps(void)
{
	const struct mapline *m;
	int i, bad = 0;

	wl_check_int("number of maps lines", nwant_maps, ngot_maps);
	for (i = 0; i < nwant_maps && i < ngot_maps && bad < 5; i++) {
		const struct mapline *w = &want_maps[i], *g = &got_maps[i];
		if (w->start != g->start || w->end != g->end || w->off != g->off ||
		    strcmp(w->perms, g->perms) || strcmp(w->path, g->path)) {
			bad++;
			wl_fail("maps line %d expected \"%lx-%lx %s %llx %s\" got \"%lx-%lx %s %llx %s\"",
				i, w->start, w->end, w->perms, w->off, w->path,
				g->start, g->end, g->perms, g->off, g->path);
		}
	}
	m = find_map(got_maps, ngot_maps, guard);
	wl_check_str("guard region perms", "---p", m ? m->perms : "(unmapped)");
	m = find_map(got_maps, ngot_maps, ro);
	wl_check_str("read-only region perms", "r--p", m ? m->perms : "(unmapped)");
	m = find_map(got_maps, ngot_maps, named);
	if (named_ok)
		wl_check_str("named region", "[anon:wl-named]", m ? m->path : "(unmapped)");
	advice_of(advised, advice_got, sizeof(advice_got));
	wl_check_str("advised region madvise flags", advice_want, advice_got);
}

static void check(void)
{
	uint64_t small_h, stack_h;
	char what[64];
	int i;

	wl_check_hex("brk", brk_want, (uintptr_t)sbrk(0));
	ngot_maps = parse_maps(got_maps); /* before anything else can change them */
	check_maps();
	for (i = 0; i < nregions; i++) {
		snprintf(what, sizeof(what), "region %s checksum", regions[i].name);
		wl_check_hex(what, regions[i].hash, wl_hash(regions[i].addr, regions[i].len));
	}
	hash_all(&small_h, &stack_h);
	wl_check_hex("small malloc chunks checksum", small_hash, small_h);
	wl_check_hex("stack frames checksum", stack_hash, stack_h);
	wl_check_hex("MAP_PRIVATE file on disk checksum", priv_file_hash, file_hash("private.dat"));
	wl_check_hex("MAP_SHARED file on disk vs mapping", wl_hash(fshared, FILE_BYTES),
		     file_hash("shared.dat"));
	wl_check_int("reading the guard region faults", 1, faults(guard, 0));
	wl_check_int("writing the read-only region faults", 1, faults(ro, 1));
	wl_check_int("writing the RW region next to the guard faults", 0, faults(guard - PAGE, 1));
}

static void corrupt(void)
{
	rnd[12345] ^= 0x40;
	wl_out("CORRUPT: byte 12345 of rand16m\n");
}

/* grow_stack touches stack below the deepest frame so that checking does not grow [stack]. */
static void __attribute__((noinline)) grow_stack(void)
{
	volatile char pad[256 * KiB];
	size_t i;

	for (i = 0; i < sizeof(pad); i += 256)
		pad[i] = 0;
}

/* noipa: gcc must not see that bottom never returns (-Winfinite-recursion). */
static void __attribute__((noipa)) bottom(void)
{
	int i;

	grow_stack();
	for (i = 0; i < nregions; i++)
		regions[i].hash = wl_hash(regions[i].addr, regions[i].len);
	hash_all(&small_hash, &stack_hash);
	brk_want = (uintptr_t)sbrk(0);
	nwant_maps = parse_maps(want_maps);
	if (!find_map(want_maps, nwant_maps, guard))
		wl_setup_fail("guard region missing from /proc/self/maps");
	wl_ready("regions=%d maps=%d named=%d", nregions, nwant_maps, named_ok);
	wl_loop(corrupt);
	check();
	wl_finish();
}

static void recurse(int depth)
{
	unsigned char buf[FRAME_BYTES];

	fill(buf, sizeof(buf));
	frames[depth] = buf;
	if (depth + 1 < NFRAMES)
		recurse(depth + 1);
	else
		bottom();
	asm volatile("" : : "r"(buf) : "memory");
}

/* map_file creates dir/name with FILE_BYTES of data and maps it at addr. */
static unsigned char *map_file(const char *name, void *addr, int flags)
{
	char path[PATH_MAX + 16];
	unsigned char *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dirpath, name);
	fill((unsigned char *)filebuf, FILE_BYTES);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, filebuf, FILE_BYTES) != (ssize_t)FILE_BYTES)
		wl_setup_fail("write %s: %s", path, strerror(errno));
	p = mmap(addr, FILE_BYTES, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED)
		wl_setup_fail("mmap %s: %s", path, strerror(errno));
	close(fd); /* the mapping keeps the file */
	return p;
}

/* carve maps len bytes at *at inside the reservation and leaves a one-page hole after. */
static unsigned char *carve(unsigned char **at, size_t len)
{
	unsigned char *p = mmap(*at, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	if (p == MAP_FAILED)
		wl_setup_fail("mmap: %s", strerror(errno));
	*at += len + PAGE;
	return p;
}

static void setup_mappings(void)
{
	size_t total = 32 * MiB;
	unsigned char *at, *p;
	size_t i;

	at = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (at == MAP_FAILED)
		wl_setup_fail("reserve: %s", strerror(errno));
	rnd = add("rand16m", carve(&at, 16 * MiB), 16 * MiB);
	fill(rnd, 16 * MiB);
	p = add("sparse8m", carve(&at, 8 * MiB), 8 * MiB);
	for (i = 0; i < 8 * MiB; i += 2 * PAGE)
		fill(p + i, PAGE);
	p = carve(&at, 192 * KiB);
	fill(p, 192 * KiB);
	guard = p + 64 * KiB;
	if (mprotect(guard, 64 * KiB, PROT_NONE) < 0)
		wl_setup_fail("mprotect guard: %s", strerror(errno));
	add("guard-left", p, 64 * KiB);
	add("guard-right", guard + 64 * KiB, 64 * KiB);
	ro = add("readonly", carve(&at, 256 * KiB), 256 * KiB);
	fill(ro, 256 * KiB);
	if (mprotect(ro, 256 * KiB, PROT_READ) < 0)
		wl_setup_fail("mprotect ro: %s", strerror(errno));
	p = add("file-private", map_file("private.dat", at, MAP_PRIVATE), FILE_BYTES);
	priv_file_hash = wl_hash(filebuf, FILE_BYTES);
	at += FILE_BYTES + PAGE;
	fill(p + PAGE, PAGE); /* copy-on-write pages 1 and 3 */
	fill(p + 3 * PAGE, PAGE);
	fshared = add("file-shared", map_file("shared.dat", at, MAP_SHARED), FILE_BYTES);
	at += FILE_BYTES + PAGE;
	fill(fshared, FILE_BYTES); /* new data, written through to the file */
	msync(fshared, FILE_BYTES, MS_SYNC);
	named = add("named", carve(&at, 1 * MiB), 1 * MiB);
	fill(named, 1 * MiB);
	named_ok = prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, named, 1 * MiB, "wl-named") == 0;
	if (!named_ok)
		wl_out("NOTE: PR_SET_VMA_ANON_NAME: %s (the region stays unnamed)\n", strerror(errno));
	advised = add("advised", carve(&at, 64 * KiB), 64 * KiB);
	fill(advised, 64 * KiB);
	if (madvise(advised, 64 * KiB, MADV_DONTFORK) < 0 || madvise(advised, 64 * KiB, MADV_WIPEONFORK) < 0 ||
	    madvise(advised, 64 * KiB, MADV_DONTDUMP) < 0 || madvise(advised, 64 * KiB, MADV_RANDOM) < 0)
		wl_setup_fail("madvise: %s", strerror(errno));
	if (madvise(advised, 64 * KiB, MADV_HUGEPAGE) < 0) /* no THP here: the other four */
		wl_out("NOTE: MADV_HUGEPAGE: %s\n", strerror(errno));
	advice_of(advised, advice_want, sizeof(advice_want));
	if (!strstr(advice_want, "dc") || !strstr(advice_want, "wf") || !strstr(advice_want, "dd") || !strstr(advice_want, "rr"))
		wl_setup_fail("advised region shows \"%s\" in smaps", advice_want);
}

static void setup_heap(void)
{
	unsigned char *p;
	int i;

	p = add("malloc8m", malloc(8 * MiB), 8 * MiB);
	if (!p)
		wl_setup_fail("malloc: %s", strerror(errno));
	fill(p, 8 * MiB);
	for (i = 0; i < NSMALL; i++) {
		if (!(small[i] = malloc(64)))
			wl_setup_fail("malloc: %s", strerror(errno));
		fill(small[i], 64);
	}
	p = sbrk(1 * MiB);
	if (p == (void *)-1)
		wl_setup_fail("sbrk: %s", strerror(errno));
	fill(add("sbrk1m", p, 1 * MiB), 1 * MiB);
	fill(add(".data", data_words, sizeof(data_words)), sizeof(data_words));
	fill(add(".bss", bss_words, sizeof(bss_words)), sizeof(bss_words));
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/wl-memory-XXXXXX";
	const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);

	wl_init(WL_WAIT_NANOSLEEP);
	if (!dir || !realpath(dir, dirpath))
		wl_setup_fail("dir: %s", strerror(errno));
	setup_heap();
	setup_mappings();
	recurse(0);
	return 0;
}
