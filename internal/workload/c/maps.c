/*
 * maps - a process with thousands of mappings.
 *
 * argv: [n] mappings (default 5000). Reserves n pages PROT_NONE, fills
 * every page with PRNG data and leaves them alternately PROT_READ|
 * PROT_WRITE and PROT_READ, so that no two neighbours merge: n mappings
 * of one page each, on top of the program's own. Waits in pause().
 *
 * Checks: the /proc/self/maps lines inside the reservation (start, end,
 * perms: n of them, in place) and a checksum of every page.
 *
 * Corrupt (SIGUSR1): flips one byte of the first writable page.
 */
#include "common.h"

#include <sys/mman.h>

#define PAGE 4096UL

static unsigned char *base;
static long n;
static uint64_t seed = 0x6d617073;
static char mapsbuf[4 << 20]; /* about 60 bytes a line */

/* count_lines counts the maps lines inside [base, base+n pages) that
 * have the expected place and protection, and all lines inside it. */
static void count_lines(long *good, long *inside)
{
	unsigned long lo = (unsigned long)base, hi = lo + n * PAGE;
	char *line = mapsbuf, *nl;

	*good = *inside = 0;
	if (wl_read_file("/proc/self/maps", mapsbuf, sizeof(mapsbuf)) < 0) {
		wl_fail("read /proc/self/maps: %s", strerror(errno));
		return;
	}
	for (; *line; line = nl + 1) {
		unsigned long start, end;
		char perms[8];

		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = 0;
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3 || end <= lo || start >= hi)
			continue;
		(*inside)++;
		long i = (long)((start - lo) / PAGE);
		const char *want = i % 2 ? "r--p" : "rw-p";
		if (start >= lo && end == start + PAGE && (start - lo) % PAGE == 0 && strcmp(perms, want) == 0)
			(*good)++;
	}
}

static void corrupt(void)
{
	base[100] ^= 0x40;
	wl_out("CORRUPT: one byte of page 0\n");
}

int main(int argc, char **argv)
{
	uint64_t want, got;
	long good, inside, i;

	wl_init(WL_WAIT_PAUSE);
	n = argc > 1 ? atol(argv[1]) : 5000;
	if (n < 2 || n > 60000)
		wl_setup_fail("usage: maps [n in 2..60000]");
	base = mmap(NULL, n * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		wl_setup_fail("mmap %ld pages: %s", n, strerror(errno));
	if (mprotect(base, n * PAGE, PROT_READ | PROT_WRITE) < 0)
		wl_setup_fail("mprotect: %s", strerror(errno));
	for (i = 0; i < (long)(n * PAGE / 8); i++) {
		uint64_t v = wl_rand(&seed);
		memcpy(base + i * 8, &v, 8);
	}
	for (i = 1; i < n; i += 2)
		if (mprotect(base + i * PAGE, PAGE, PROT_READ) < 0)
			wl_setup_fail("mprotect page %ld: %s", i, strerror(errno));
	want = wl_hash(base, n * PAGE);
	wl_fail_prefix = "SETUP";
	count_lines(&good, &inside);
	if (good != n || inside != n)
		wl_setup_fail("%ld of %ld maps lines as made, %ld inside", good, n, inside);
	wl_fail_prefix = "FAIL";

	wl_ready("maps=%ld base=%p", n, (void *)base);
	wl_loop(corrupt);
	got = wl_hash(base, n * PAGE);
	if (got != want)
		wl_fail("pages checksum expected %016llx got %016llx", (unsigned long long)want,
			(unsigned long long)got);
	count_lines(&good, &inside);
	if (good != n || inside != n)
		wl_fail("maps lines in the region expected %ld as made got %ld (%ld inside)", n, good, inside);
	wl_finish();
}
