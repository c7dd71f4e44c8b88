/*
 * bigmem - a large memory image for benchmarks.
 *
 *   bigmem SIZE_MIB [mixed|random|zero|text]
 *
 * Maps SIZE_MIB of private anonymous memory and fills every page with the
 * content of fill.h (so the memory is touched and present before anything
 * is timed).
 * It records an FNV-1a checksum of the region, prints READY and waits.
 * Verify compares the checksum.
 */
#include "common.h"

#include <sys/mman.h>

#include "fill.h"

static unsigned char *mem;
static size_t size;
static uint64_t want_sum;

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
	if (wl_fill(mem, size, kind) < 0)
		wl_setup_fail("unknown content %s", kind);
	want_sum = checksum();
	wl_ready("size=%zu content=%s region=%p", size, kind, (void *)mem);
	wl_loop(corrupt);
	wl_check_hex("region checksum", want_sum, checksum());
	wl_finish();
}
