/*
 * common.h - the protocol shared by every workload.
 *
 * A workload sets up the state it is about, records it, prints
 * "READY pid=<pid> ..." and waits. Two signals drive it from outside:
 *
 *   SIGUSR1  corrupt: change one piece of the checked state on purpose, so
 *            that a test can prove the checks are able to fail.
 *   SIGUSR2  verify: compare the state with the record, print "PASS" or one
 *            "FAIL: <what> expected <x> got <y>" line per mismatch, exit 0
 *            (pass) or 1 (fail).
 *
 * Before READY a workload may print "SETUP: <why>" and exit 2 when it could
 * not build its state, or "UNSUPPORTED: <why>" and exit 3 when the machine
 * lacks a feature (the Go side turns that into a skip).
 *
 * Output goes to fd 1 with write(2), never through stdio buffers, so each
 * line reaches the output file at once and whole.
 *
 * Include this file first: it defines _GNU_SOURCE.
 */
#ifndef WL_COMMON_H
#define WL_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How a workload waits for the protocol signals. */
enum wl_wait_mode {
	WL_WAIT_PAUSE,      /* pause(); a signal just before it is caught by the resend in Verify */
	WL_WAIT_SIGSUSPEND, /* USR1/USR2 blocked except inside sigsuspend(): race-free */
	WL_WAIT_NANOSLEEP,  /* nanosleep() of one second at a time */
	WL_WAIT_PIPE,       /* read() on a pipe the handler writes to (self-pipe) */
	WL_WAIT_OTHER,      /* the workload waits by itself (busy loop, its own timer) */
};

static volatile sig_atomic_t wl_verify_req; /* SIGUSR2 seen */
static volatile sig_atomic_t wl_corrupt_req; /* SIGUSR1 seen */
static volatile sig_atomic_t wl_wake;       /* either of them seen; cleared by the waiter */
static enum wl_wait_mode wl_mode;
static int wl_pipe[2] = { -1, -1 };
static int wl_failures;
static const char *wl_fail_prefix = "FAIL"; /* "SETUP" while checking the setup */

/* wl_out formats one message and writes it to fd 1 in one write(2). */
static inline void __attribute__((format(printf, 1, 2))) wl_out(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n, off = 0;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	while (off < n) {
		ssize_t w = write(1, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += w;
	}
}

/* wl_fail reports one failed check; the first FAIL line decides. */
#define wl_fail(fmt, ...) \
	do { wl_failures++; wl_out("%s: " fmt "\n", wl_fail_prefix, ##__VA_ARGS__); } while (0)

/* wl_setup_fail aborts before READY: the state could not be built. */
#define wl_setup_fail(fmt, ...) \
	do { wl_out("SETUP: " fmt "\n", ##__VA_ARGS__); exit(2); } while (0)

/* wl_unsupported aborts before READY: the machine lacks a feature. */
#define wl_unsupported(fmt, ...) \
	do { wl_out("UNSUPPORTED: " fmt "\n", ##__VA_ARGS__); exit(3); } while (0)

/* Checks that print both values. */
#define wl_check_hex(what, exp, got) do { \
	unsigned long long e_ = (unsigned long long)(exp), g_ = (unsigned long long)(got); \
	if (e_ != g_) wl_fail("%s expected %#llx got %#llx", (what), e_, g_); \
} while (0)
#define wl_check_int(what, exp, got) do { \
	long long e_ = (long long)(exp), g_ = (long long)(got); \
	if (e_ != g_) wl_fail("%s expected %lld got %lld", (what), e_, g_); \
} while (0)
#define wl_check_str(what, exp, got) do { \
	const char *e_ = (exp), *g_ = (got); \
	if (strcmp(e_, g_) != 0) wl_fail("%s expected \"%s\" got \"%s\"", (what), e_, g_); \
} while (0)

/* wl_check_bytes compares two buffers and names the first differing byte. */
static inline void wl_check_bytes(const char *what, const void *exp, size_t elen,
			   const void *got, size_t glen)
{
	const unsigned char *e = exp, *g = got;
	size_t i, n = elen < glen ? elen : glen;

	for (i = 0; i < n && e[i] == g[i]; i++)
		;
	if (i < n)
		wl_fail("%s byte %zu expected %#x got %#x", what, i, e[i], g[i]);
	else if (elen != glen)
		wl_fail("%s length expected %zu got %zu", what, elen, glen);
}

/*
 * wl_read_file reads a whole file into buf (NUL-terminated, at most cap-1
 * bytes) without allocating, so that reading /proc does not move brk or
 * add mappings. It returns the length, or -1 with errno set.
 */
static inline ssize_t wl_read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;

	if (fd < 0)
		return -1;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = 0;
	return len;
}

/* FNV-1a over 64-bit words (bytes for the tail): fast enough for MiBs. */
static inline uint64_t wl_hash(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
	}
	for (; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* splitmix64: a seeded PRNG for patterns. */
static inline uint64_t wl_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void wl_on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGUSR1)
		wl_corrupt_req = 1;
	else
		wl_verify_req = 1;
	wl_wake = 1;
	if (wl_pipe[1] >= 0 && write(wl_pipe[1], "x", 1) < 0) {
		/* pipe full: the reader is awake anyway */
	}
	errno = saved;
}

/*
 * wl_init installs the protocol handlers (without SA_RESTART, so that
 * blocking calls return EINTR) and prepares the wait mode.
 */
static inline void wl_init(enum wl_wait_mode mode)
{
	struct sigaction sa;

	wl_mode = mode;
	if (mode == WL_WAIT_PIPE) {
		if (pipe2(wl_pipe, O_CLOEXEC) < 0)
			wl_setup_fail("pipe2: %s", strerror(errno));
		if (fcntl(wl_pipe[1], F_SETFL, O_NONBLOCK) < 0)
			wl_setup_fail("fcntl pipe: %s", strerror(errno));
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wl_on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0 || sigaction(SIGUSR2, &sa, NULL) < 0)
		wl_setup_fail("sigaction: %s", strerror(errno));
	if (mode == WL_WAIT_SIGSUSPEND) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigaddset(&set, SIGUSR2);
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
}

/* wl_ready announces that the state is recorded. */
#define wl_ready(fmt, ...) wl_out("READY pid=%d " fmt "\n", (int)getpid(), ##__VA_ARGS__)

/* wl_wait_once blocks once in the workload's wait call. */
static inline void wl_wait_once(void)
{
	switch (wl_mode) {
	case WL_WAIT_PAUSE:
		pause();
		break;
	case WL_WAIT_SIGSUSPEND: {
		sigset_t set;
		sigprocmask(SIG_SETMASK, NULL, &set);
		sigdelset(&set, SIGUSR1);
		sigdelset(&set, SIGUSR2);
		sigsuspend(&set);
		break;
	}
	case WL_WAIT_NANOSLEEP: {
		struct timespec ts = { 1, 0 };
		nanosleep(&ts, NULL);
		break;
	}
	case WL_WAIT_PIPE: {
		char buf[64];
		if (read(wl_pipe[0], buf, sizeof(buf)) < 0) {
			/* EINTR: the flags say why */
		}
		break;
	}
	case WL_WAIT_OTHER:
		break;
	}
}

/*
 * wl_loop waits until SIGUSR2, calling corrupt() once per SIGUSR1 first.
 * A SIGUSR1 sent before SIGUSR2 is always handled before the checks.
 */
static inline void wl_loop(void (*corrupt)(void))
{
	for (;;) {
		wl_wake = 0;
		if (wl_corrupt_req) {
			wl_corrupt_req = 0;
			corrupt();
		}
		if (wl_verify_req)
			return;
		wl_wait_once();
	}
}

/* wl_finish prints the verdict and exits. */
static inline void __attribute__((noreturn)) wl_finish(void)
{
	if (wl_failures == 0) {
		wl_out("PASS\n");
		exit(0);
	}
	exit(1);
}

#endif /* WL_COMMON_H */
