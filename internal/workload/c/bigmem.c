/*
 * bigmem - a large memory image for benchmarks.
 *
 *   bigmem SIZE_MIB [mixed|random|zero|text]
 *
 * Maps SIZE_MIB of private anonymous memory and fills every page (so the
 * memory is touched and present before anything is timed):
 *   random  xorshift64 output (incompressible)
 *   zero    zero pages, each written once so that it is present
 *   text    English-like lines with counters (compressible, not zero)
 *   mixed   half random, a quarter zero, a quarter text
 * It records an FNV-1a checksum of the region, prints READY and waits.
 * Verify compares the checksum.
 */
#include "common.h"

#include <sys/mman.h>

static unsigned char *mem;
static size_t size;
static uint64_t want_sum;

static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
}

static void fill_zero(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += 4096)
		((volatile unsigned char *)p)[i] = 0;
}

static void fill_text(unsigned char *p, size_t n)
{
	static const char *words[] = { "the ", "quick ", "brown ", "fox ", "jumps ", "over ",
				       "lazy ", "dog ", "and ", "process ", "memory ", "page " };
	size_t i = 0, k = 0;
	char num[32];

	while (i < n) {
		const char *w = words[(k * 7 + k / 13) % 12];
		size_t l = strlen(w);
		if (k % 16 == 15) {
			snprintf(num, sizeof(num), "%zu\n", k);
			w = num;
			l = strlen(num);
		}
		if (i + l > n)
			l = n - i;
		memcpy(p + i, w, l);
		i += l;
		k++;
	}
}

static uint64_t checksum(void)
{
	uint64_t h = 1469598103934665603ULL;
	const uint64_t *w = (const uint64_t *)mem;
	size_t i;

	for (i = 0; i < size / 8; i++)
		h = (h ^ w[i]) * 1099511628211ULL;
	return h;
}

static void corrupt(void)
{
	mem[size / 3] ^= 1;
	wl_out("CORRUPT: one byte of the region\n");
}

int main(int argc, char **argv)
{
	const char *kind = argc > 2 ? argv[2] : "mixed";

	wl_init(WL_WAIT_NANOSLEEP);
	if (argc < 2 || atol(argv[1]) <= 0)
		wl_setup_fail("usage: bigmem SIZE_MIB [mixed|random|zero|text]");
	size = (size_t)atol(argv[1]) << 20;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		wl_setup_fail("mmap %zu: %s", size, strerror(errno));
	if (strcmp(kind, "random") == 0)
		fill_random(mem, size, 42);
	else if (strcmp(kind, "zero") == 0)
		fill_zero(mem, size);
	else if (strcmp(kind, "text") == 0)
		fill_text(mem, size);
	else if (strcmp(kind, "mixed") == 0) {
		fill_random(mem, size / 2, 42);
		fill_zero(mem + size / 2, size / 4);
		fill_text(mem + size / 2 + size / 4, size / 4);
	} else
		wl_setup_fail("unknown content %s", kind);
	want_sum = checksum();
	wl_ready("size=%zu content=%s region=%p", size, kind, (void *)mem);
	wl_loop(corrupt);
	wl_check_hex("region checksum", want_sum, checksum());
	wl_finish();
}
