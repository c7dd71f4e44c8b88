/*
 * fill.h - page contents for the memory workloads (bigmem, benchload).
 *
 * wl_fill fills n bytes with one kind of content and touches every page,
 * so the memory is present before anything is timed:
 *   random  xorshift64 output (incompressible)
 *   zero    zero pages, each written once so that it is present
 *   text    English-like lines with counters (compressible, not zero)
 *   mixed   half random, a quarter zero, a quarter text
 *
 * Include common.h first.
 */
#ifndef WL_FILL_H
#define WL_FILL_H

static inline void wl_fill_random(unsigned char *p, size_t n, uint64_t seed)
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

static inline void wl_fill_zero(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += 4096)
		((volatile unsigned char *)p)[i] = 0;
}

static inline void wl_fill_text(unsigned char *p, size_t n)
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

/* wl_fill fills p with the named content; it returns -1 for an unknown kind. */
static inline int wl_fill(unsigned char *p, size_t n, const char *kind)
{
	if (strcmp(kind, "random") == 0)
		wl_fill_random(p, n, 42);
	else if (strcmp(kind, "zero") == 0)
		wl_fill_zero(p, n);
	else if (strcmp(kind, "text") == 0)
		wl_fill_text(p, n);
	else if (strcmp(kind, "mixed") == 0) {
		wl_fill_random(p, n / 2, 42);
		wl_fill_zero(p + n / 2, n / 4);
		wl_fill_text(p + n / 2 + n / 4, n / 4);
	} else
		return -1;
	return 0;
}

#endif /* WL_FILL_H */
