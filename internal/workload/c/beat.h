/*
 * beat.h - the heartbeat file of the timing workloads (counter, benchload).
 *
 * A beat appends "<count> <CLOCK_REALTIME ns>\n" to a file opened O_APPEND,
 * count going 1, 2, 3, ... The writer keeps a CLOCK_MONOTONIC deadline and
 * sleeps relative times; wl_beat_next clamps the deadline to
 * [now, now + interval], so that after a freeze (or a move to a host whose
 * monotonic clock is elsewhere) the writer beats once and starts over from
 * now, without a burst or a long stall.
 *
 * wl_check_beats checks the file: counts 1, 2, ... without gaps or repeats,
 * the last one equal to the process's own count.
 *
 * Include common.h first.
 */
#ifndef WL_BEAT_H
#define WL_BEAT_H

#define WL_NS 1000000000LL

static unsigned long long wl_beats;   /* beats written */
static char wl_beat_buf[64 * 1024]; /* the checker's read buffer */

static inline long long wl_ns(const struct timespec *t) { return t->tv_sec * WL_NS + t->tv_nsec; }

/* wl_add_ns sets *out = *t + d. */
static inline void wl_add_ns(struct timespec *out, const struct timespec *t, long long d)
{
	long long v = wl_ns(t) + d;

	out->tv_sec = v / WL_NS;
	out->tv_nsec = v % WL_NS;
}

/* wl_beat appends one line. */
static inline void wl_beat(int fd)
{
	struct timespec now;
	char line[64];
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	wl_beats++;
	n = snprintf(line, sizeof(line), "%llu %lld\n", wl_beats, wl_ns(&now));
	if (write(fd, line, n) != n)
		wl_out("NOTE: write count %llu: %s\n", wl_beats, strerror(errno));
}

/*
 * wl_beat_wait returns how long to sleep until *next (0: beat now). A
 * deadline more than one interval ahead means the clock went back (another
 * host): it is pulled in to now + interval.
 */
static inline long long wl_beat_wait(struct timespec *next, long long interval)
{
	struct timespec now;
	long long wait;

	clock_gettime(CLOCK_MONOTONIC, &now);
	wait = wl_ns(next) - wl_ns(&now);
	if (wait > interval) {
		wait = interval;
		wl_add_ns(next, &now, interval);
	}
	return wait > 0 ? wait : 0;
}

/* wl_beat_next moves *next on by one interval, or to now + interval when
 * the writer fell behind (after a freeze): no burst of catch-up beats. */
static inline void wl_beat_next(struct timespec *next, long long interval)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	wl_add_ns(next, next, interval);
	if (wl_ns(next) < wl_ns(&now))
		wl_add_ns(next, &now, interval);
}

/* wl_check_beats reads the file line by line in chunks: it may be large. */
static inline void wl_check_beats(const char *path)
{
	unsigned long long want = 1, last = 0;
	char *buf = wl_beat_buf;
	size_t have = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), bad = 0;

	if (fd < 0) {
		wl_fail("open %s: %s", path, strerror(errno));
		return;
	}
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(wl_beat_buf) - have);
		char *p = buf, *nl;
		if (n <= 0)
			break;
		have += n;
		while ((nl = memchr(p, '\n', buf + have - p))) {
			last = strtoull(p, NULL, 10);
			if (last != want && bad++ < 5)
				wl_fail("file line %llu count expected %llu got %llu", want, want, last);
			want = last + 1;
			p = nl + 1;
		}
		have = buf + have - p;
		memmove(buf, p, have);
	}
	close(fd);
	if (have)
		wl_fail("file ends in a partial line of %zu bytes", have);
	wl_check_int("last count in the file vs own count", wl_beats, last);
}

#endif /* WL_BEAT_H */
