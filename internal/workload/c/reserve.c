/*
 * reserve - a large sparse reservation, as a JVM's heap or a sanitizer's
 * shadow memory.
 *
 * argv: [gib] (default 64: more than this machine's memory). Maps gib GiB
 * PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, and
 * writes one word into 256 pages spread over it. Waits in pause().
 *
 * Checks: the words, a zero page between them, and that smaps still shows
 * the region as one mapping with VmFlags nr (no reserve): mapped without
 * MAP_NORESERVE it would be refused for want of commit.
 *
 * Corrupt (SIGUSR1): changes the first word.
 */
#include "common.h"

#include <sys/mman.h>

#define PAGE 4096UL
#define NWORDS 256

static unsigned char *base;
static size_t size;
static char smaps[1 << 20];

static size_t at(int i) { return (size / NWORDS) * i + (i % 7) * PAGE; }

static void corrupt(void)
{
	*(uint64_t *)base ^= 1;
	wl_out("CORRUPT: word 0\n");
}

/* noreserve reports whether smaps shows [base, base+size) with nr. */
static int noreserve(void)
{
	unsigned long lo = (unsigned long)base, start, end;
	char *line, *nl;
	int in = 0;

	if (wl_read_file("/proc/self/smaps", smaps, sizeof(smaps)) < 0)
		return -1;
	for (line = smaps; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = 0;
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, ' ') && line[strlen(line) - 1] != ':')
			in = start == lo && end == lo + size;
		else if (in && strncmp(line, "VmFlags:", 8) == 0)
			return strstr(line, " nr") != NULL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long gib = argc > 1 ? atol(argv[1]) : 64;
	int i;

	wl_init(WL_WAIT_PAUSE);
	if (gib < 1 || gib > 1024)
		wl_setup_fail("usage: reserve [gib in 1..1024]");
	size = (size_t)gib << 30;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		wl_setup_fail("mmap %ld GiB MAP_NORESERVE: %s", gib, strerror(errno));
	for (i = 0; i < NWORDS; i++)
		*(uint64_t *)(base + at(i)) = 0x7265736572766500ULL + i;
	if (noreserve() != 1)
		wl_setup_fail("smaps does not show the reservation with nr");
	wl_ready("gib=%ld base=%p", gib, (void *)base);
	wl_loop(corrupt);
	for (i = 0; i < NWORDS; i++) {
		char what[32];
		snprintf(what, sizeof(what), "word %d", i);
		wl_check_hex(what, 0x7265736572766500ULL + i, *(uint64_t *)(base + at(i)));
	}
	wl_check_hex("a page between the words", 0, *(uint64_t *)(base + at(1) + 3 * PAGE));
	wl_check_int("reservation shown with VmFlags nr", 1, noreserve());
	wl_finish();
}
