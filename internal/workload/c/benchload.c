/*
 * benchload - the workload of the benchmark harness (bench/).
 *
 *   benchload SIZE_MIB CONTENT RATE_MIB_S PATTERN HEARTBEAT_FILE
 *   benchload --touch SIZE_MIB
 *
 * Maps SIZE_MIB of private anonymous memory, fills it with CONTENT
 * (random, zero, text or mixed: fill.h), records a checksum, prints READY
 * and then loops on a 1 ms tick:
 *   - a heartbeat line "<count> <CLOCK_REALTIME ns>" appended to
 *     HEARTBEAT_FILE (beat.h: after a freeze it beats once and starts over
 *     from now, no burst);
 *   - RATE_MIB_S MiB/s of dirtied pages (0: idle), one 64-bit word written
 *     at the start of each page, paced by the time since the last tick
 *     (counted up to 2 ms, so that neither a freeze nor a throttled stretch
 *     is made up for afterwards: like a program whose work is paced by its
 *     CPU time, it writes less when it runs less).
 *     PATTERN spread walks every page of the region in a strided order
 *     (a stride coprime to the page count: a full cycle visits each page
 *     once, neighbours far apart); hotspot walks the first 10% of the
 *     pages the same way.
 * Single-threaded. SIGTERM: prints "TERM count=<n>" and exits 0.
 *
 * Checks (SIGUSR2): the heartbeat file counts 1, 2, ... without gaps or
 * repeats up to the process's own count, and the checksum of the region
 * without the first word of each page (the dirtied word) is unchanged.
 * Corrupt (SIGUSR1): flips one byte of the region outside the dirtied words.
 *
 * --touch maps SIZE_MIB, writes every page once, prints TOUCHED and exits
 * 0: the harness runs it in each lab host before a timed run, because on a
 * VM that returned freed memory to its host the first touch of a page is
 * slow, and that cost belongs to no migration.
 */
#include "common.h"

#include <sys/mman.h>

#include "beat.h"
#include "fill.h"

#define PAGE 4096
#define TICK_NS 1000000LL     /* heartbeat and pacing period */
#define MAX_CATCHUP_NS 2000000LL /* dirtying owed after a stall, at most: two ticks */

static volatile sig_atomic_t term_req;
static unsigned char *mem;
static size_t size, npages;
static uint64_t want_sum;

/* The dirtying walk: page = pos, pos += stride mod span. */
static size_t walk_span, walk_stride, walk_pos;
static double pages_per_ns, owed;
static uint64_t dirty_gen;

static void on_term(int sig) { (void)sig; term_req = 1; }

static size_t gcd(size_t a, size_t b)
{
	while (b) {
		size_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* checksum hashes the region except the first word of each page. */
static uint64_t checksum(void)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t p, w;

	for (p = 0; p < npages; p++) {
		const uint64_t *words = (const uint64_t *)(mem + p * PAGE);
		for (w = 1; w < PAGE / 8; w++)
			h = (h ^ words[w]) * 0x100000001b3ULL;
	}
	return h;
}

static void corrupt(void)
{
	mem[(npages / 3) * PAGE + 100] ^= 1;
	wl_out("CORRUPT: one byte of the region\n");
}

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		wl_setup_fail("mmap %zu: %s", len, strerror(errno));
	return p;
}

static int touch_only(const char *mib)
{
	size_t len = (size_t)atol(mib) << 20, i;
	unsigned char *p;

	if (len == 0)
		wl_setup_fail("usage: benchload --touch SIZE_MIB");
	p = map(len);
	for (i = 0; i < len; i += PAGE)
		p[i] = 1;
	wl_out("TOUCHED %zu\n", len);
	return 0;
}

/* setup_walk picks the pages to dirty and a stride that visits them all. */
static void setup_walk(const char *pattern, long rate_mib)
{
	if (strcmp(pattern, "spread") == 0)
		walk_span = npages;
	else if (strcmp(pattern, "hotspot") == 0)
		walk_span = npages / 10 ? npages / 10 : 1;
	else
		wl_setup_fail("unknown pattern %s (want spread or hotspot)", pattern);
	walk_stride = walk_span * 618 / 1000 | 1; /* about the golden ratio apart */
	while (walk_span > 1 && gcd(walk_stride, walk_span) != 1)
		walk_stride += 2;
	walk_stride %= walk_span;
	if (walk_stride == 0)
		walk_stride = 1;
	pages_per_ns = (double)rate_mib * (1 << 20) / PAGE / 1e9;
}

/* dirty writes the pages owed for elapsed ns. */
static void dirty(long long elapsed)
{
	if (pages_per_ns == 0)
		return;
	if (elapsed > MAX_CATCHUP_NS)
		elapsed = MAX_CATCHUP_NS;
	owed += pages_per_ns * elapsed;
	for (; owed >= 1; owed -= 1) {
		*(volatile uint64_t *)(mem + walk_pos * PAGE) = ++dirty_gen;
		walk_pos += walk_stride;
		if (walk_pos >= walk_span)
			walk_pos -= walk_span;
	}
}

static void run(int fd)
{
	struct timespec next, last, now;

	clock_gettime(CLOCK_MONOTONIC, &next);
	last = next;
	for (;;) {
		long long wait;

		if (wl_corrupt_req) {
			wl_corrupt_req = 0;
			corrupt();
		}
		if (wl_verify_req)
			return;
		if (term_req) {
			wl_out("TERM count=%llu dirtied=%llu\n", wl_beats, (unsigned long long)dirty_gen);
			exit(0);
		}
		wait = wl_beat_wait(&next, TICK_NS);
		if (wait > 0) {
			struct timespec ts = { 0, wait };
			if (nanosleep(&ts, NULL) != 0)
				continue; /* EINTR: look at the flags */
		}
		wl_beat(fd);
		clock_gettime(CLOCK_MONOTONIC, &now);
		dirty(wl_ns(&now) - wl_ns(&last));
		last = now;
		wl_beat_next(&next, TICK_NS);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	long mib, rate;
	int fd;

	wl_init(WL_WAIT_OTHER);
	if (argc == 3 && strcmp(argv[1], "--touch") == 0)
		return touch_only(argv[2]);
	if (argc != 6 || (mib = atol(argv[1])) <= 0 || (rate = atol(argv[3])) < 0)
		wl_setup_fail("usage: benchload SIZE_MIB CONTENT RATE_MIB_S PATTERN HEARTBEAT_FILE");
	size = (size_t)mib << 20;
	npages = size / PAGE;
	mem = map(size);
	if (wl_fill(mem, size, argv[2]) < 0)
		wl_setup_fail("unknown content %s", argv[2]);
	setup_walk(argv[4], rate);
	want_sum = checksum();
	fd = open(argv[5], O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		wl_setup_fail("open %s: %s", argv[5], strerror(errno));
	sigaction(SIGTERM, &sa, NULL);

	wl_ready("size=%zu content=%s rate_mib_s=%ld pattern=%s file=%s region=%p",
		 size, argv[2], rate, argv[4], argv[5], (void *)mem);
	run(fd);
	wl_check_beats(argv[5]);
	wl_check_hex("region checksum", want_sum, checksum());
	wl_finish();
}
