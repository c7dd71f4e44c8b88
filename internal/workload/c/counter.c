/*
 * counter - a heartbeat for migration tests.
 *
 * argv: <file> [interval_ms, default 100]. Every interval it appends
 * "<count> <CLOCK_REALTIME ns>\n" to the file, count going 1, 2, 3, ...,
 * through one fd opened O_APPEND (truncating at start) and kept open. It
 * keeps a CLOCK_MONOTONIC deadline but sleeps relative times (nanosleep), and
 * clamps the deadline to [now, now + interval]: after a freeze or a move to
 * a host whose monotonic clock is elsewhere it writes one line and starts
 * over from now, without a burst or a long stall (beat.h).
 * SIGTERM: prints "TERM count=<n>" and exits 0.
 *
 * Checks: the file's lines count 1, 2, ... without gaps or repeats, and the
 * last one equals the process's own count.
 *
 * Corrupt (SIGUSR1): adds 5 to the count without writing.
 */
#include "common.h"
#include "beat.h"

static volatile sig_atomic_t term_req;

static void on_term(int sig) { (void)sig; term_req = 1; }

int main(int argc, char **argv)
{
	long long interval = (argc > 2 ? atoll(argv[2]) : 100) * 1000000LL;
	struct sigaction sa = { .sa_handler = on_term };
	struct timespec next;
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
			wl_beats += 5;
			wl_out("CORRUPT: count +5\n");
		}
		if (wl_verify_req)
			break;
		if (term_req) {
			wl_out("TERM count=%llu\n", wl_beats);
			return 0;
		}
		wait = wl_beat_wait(&next, interval);
		if (wait > 0) {
			struct timespec ts = { wait / WL_NS, wait % WL_NS };
			if (nanosleep(&ts, NULL) != 0)
				continue; /* EINTR: look at the flags */
		}
		wl_beat(fd);
		wl_beat_next(&next, interval);
	}
	wl_check_beats(argv[1]);
	wl_finish();
}
