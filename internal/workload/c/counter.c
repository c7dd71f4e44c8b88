/*
 * counter - a heartbeat for migration tests.
 *
 * argv: <file> [interval_ms, default 100]. Every interval it appends
 * "<count> <CLOCK_REALTIME ns>\n" to the file, count going 1, 2, 3, ...,
 * through one fd opened O_APPEND (truncating at start) and kept open. It
 * keeps a CLOCK_MONOTONIC deadline but sleeps relative times (nanosleep), and
 * clamps the deadline to [now, now + interval]: after a freeze or a move to
 * a host whose monotonic clock is elsewhere it writes one line and starts
 * over from now, without a burst or a long stall.
 * SIGTERM: prints "TERM count=<n>" and exits 0.
 *
 * Checks: the file's lines count 1, 2, ... without gaps or repeats, and the
 * last one equals the process's own count.
 *
 * Corrupt (SIGUSR1): adds 5 to the count without writing.
 */
#include "common.h"

#define NS 1000000000LL

static volatile sig_atomic_t term_req;
static unsigned long long count;
static char buf[64 * 1024];

static void on_term(int sig) { (void)sig; term_req = 1; }

static long long ns(const struct timespec *t) { return t->tv_sec * NS + t->tv_nsec; }

/* add_ns sets *out = *t + d. */
static void add_ns(struct timespec *out, const struct timespec *t, long long d)
{
	long long v = ns(t) + d;

	out->tv_sec = v / NS;
	out->tv_nsec = v % NS;
}

static void beat(int fd)
{
	struct timespec now;
	char line[64];
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	count++;
	n = snprintf(line, sizeof(line), "%llu %lld\n", count, ns(&now));
	if (write(fd, line, n) != n)
		wl_out("NOTE: write count %llu: %s\n", count, strerror(errno));
}

/* check reads the file line by line in chunks: it may be large. */
static void check(const char *path)
{
	unsigned long long want = 1, last = 0;
	size_t have = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), bad = 0;

	if (fd < 0) {
		wl_fail("open %s: %s", path, strerror(errno));
		return;
	}
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
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
	wl_check_int("last count in the file vs own count", count, last);
}

int main(int argc, char **argv)
{
	long long interval = (argc > 2 ? atoll(argv[2]) : 100) * 1000000LL;
	struct sigaction sa = { .sa_handler = on_term };
	struct timespec next, now;
	int fd;

	wl_init(WL_WAIT_OTHER);
	if (argc < 2 || interval <= 0)
		wl_setup_fail("usage: counter <file> [interval_ms]");
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		wl_setup_fail("open %s: %s", argv[1], strerror(errno));
	sigaction(SIGTERM, &sa, NULL);

	wl_ready("file=%s interval_ms=%lld", argv[1], interval / 1000000);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		long long wait;

		if (wl_corrupt_req) {
			wl_corrupt_req = 0;
			count += 5;
			wl_out("CORRUPT: count +5\n");
		}
		if (wl_verify_req)
			break;
		if (term_req) {
			wl_out("TERM count=%llu\n", count);
			return 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		wait = ns(&next) - ns(&now);
		if (wait > interval) { /* the clock went back: another host */
			wait = interval;
			add_ns(&next, &now, interval);
		}
		if (wait > 0) {
			struct timespec ts = { wait / NS, wait % NS };
			if (nanosleep(&ts, NULL) != 0)
				continue; /* EINTR: look at the flags */
		}
		beat(fd);
		clock_gettime(CLOCK_MONOTONIC, &now);
		add_ns(&next, &next, interval);
		if (ns(&next) < ns(&now)) /* fell behind: start over from now */
			add_ns(&next, &now, interval);
	}
	check(argv[1]);
	wl_finish();
}
