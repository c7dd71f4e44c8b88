/*
 * misc - per-process odds and ends.
 *
 * argv: [dir] to chdir into (default: a new /tmp/wl-misc-XXXXXX).
 * Sets rlimits (NOFILE soft below hard, CORE soft 0, STACK 16 MiB, NPROC,
 * MSGQUEUE; only ever lowered, so it also works unprivileged), the cwd,
 * umask 027, comm "wl-misc-x", personality PER_LINUX|ADDR_NO_RANDOMIZE|
 * ADDR_COMPAT_LAYOUT (both only matter at the next exec), ITIMER_REAL
 * 1000 s/500 s, ITIMER_VIRTUAL 2000 s/100 s, ITIMER_PROF 3000 s/200 s,
 * nice 7, timer slack 123456 ns, PR_SET_CHILD_SUBREAPER. glibc sets up the
 * robust futex list, clear_child_tid and (2.35+) rseq by itself.
 *
 * Checks: all RLIM_NLIMITS rlimits, getcwd, umask, PR_GET_NAME,
 * personality(0xffffffff), itimers (interval equal; remaining value not
 * above the record and not below record - elapsed - 2 s, elapsed taken on
 * CLOCK_REALTIME so that it survives a move to another host), nice, timer
 * slack, subreaper, get_robust_list head/len, PR_GET_TID_ADDRESS (when the
 * kernel has it), and rseq: the glibc area's cpu_id is a valid CPU and a
 * second rseq() registration with the same area, length and signature
 * fails with EBUSY, which proves the kernel has this one. Waits in
 * nanosleep().
 *
 * Corrupt (SIGUSR1): umask 077.
 */
#include "common.h"

#include <limits.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define HAVE_GLIBC_RSEQ 1
#endif

#define PERSONALITY (PER_LINUX | ADDR_NO_RANDOMIZE | ADDR_COMPAT_LAYOUT)
#define TIMERSLACK 123456
#define NICE 7

struct misc_state {
	struct rlimit rl[RLIM_NLIMITS];
	char cwd[PATH_MAX];
	mode_t umask;
	char comm[17];
	int personality, nice, subreaper;
	long timerslack;
	struct itimerval it[3];
	struct timespec when;
	uintptr_t robust_head, tid_addr;
	size_t robust_len;
	int tid_addr_ok;
};

static struct misc_state want, got;
static volatile sig_atomic_t timer_signals;

static void on_timer(int sig) { (void)sig; timer_signals++; }

static void read_state(struct misc_state *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	clock_gettime(CLOCK_REALTIME, &s->when); /* not MONOTONIC: that one differs between hosts */
	for (i = 0; i < RLIM_NLIMITS; i++)
		getrlimit(i, &s->rl[i]);
	if (!getcwd(s->cwd, sizeof(s->cwd)))
		snprintf(s->cwd, sizeof(s->cwd), "(getcwd: %s)", strerror(errno));
	s->umask = umask(0);
	umask(s->umask);
	prctl(PR_GET_NAME, s->comm, 0, 0, 0);
	s->personality = personality(0xffffffff);
	for (i = 0; i < 3; i++)
		getitimer(i, &s->it[i]);
	errno = 0;
	s->nice = getpriority(PRIO_PROCESS, 0);
	s->timerslack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	prctl(PR_GET_CHILD_SUBREAPER, &s->subreaper, 0, 0, 0);
	syscall(SYS_get_robust_list, 0, &s->robust_head, &s->robust_len);
	s->tid_addr_ok = prctl(PR_GET_TID_ADDRESS, &s->tid_addr, 0, 0, 0) == 0;
}

static long long usec(const struct timeval *tv) { return tv->tv_sec * 1000000LL + tv->tv_usec; }

static void check_itimers(const struct misc_state *w, const struct misc_state *g)
{
	static const char *const names[3] = { "ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF" };
	long long elapsed = (g->when.tv_sec - w->when.tv_sec) * 1000000LL +
			    (g->when.tv_nsec - w->when.tv_nsec) / 1000;
	char what[64];
	int i;

	if (elapsed < 0)
		elapsed = 0; /* another host's clock */

	for (i = 0; i < 3; i++) {
		long long rec = usec(&w->it[i].it_value), now = usec(&g->it[i].it_value);
		snprintf(what, sizeof(what), "%s interval (us)", names[i]);
		wl_check_int(what, usec(&w->it[i].it_interval), usec(&g->it[i].it_interval));
		if (now > rec || now < rec - elapsed - 2000000)
			wl_fail("%s remaining expected in [%lld, %lld] us got %lld", names[i],
				rec - elapsed - 2000000, rec, now);
	}
	wl_check_int("timer signals delivered", 0, timer_signals);
}

static void check_rseq(void)
{
#ifdef HAVE_GLIBC_RSEQ
	struct rseq *rs;
	char *tp;
	long r;

	if (__rseq_size == 0)
		return; /* glibc did not register rseq: nothing to keep */
	asm("mov %%fs:0, %0" : "=r"(tp));
	rs = (struct rseq *)(tp + __rseq_offset);
	if ((int32_t)rs->cpu_id < 0)
		wl_fail("rseq cpu_id expected >= 0 got %d", (int32_t)rs->cpu_id);
	r = syscall(SYS_rseq, rs, __rseq_size, 0, RSEQ_SIG);
	if (r < 0 && errno == EINVAL && __rseq_size != 32)
		r = syscall(SYS_rseq, rs, 32, 0, RSEQ_SIG); /* newer glibc registers 32 bytes */
	if (r == 0)
		wl_fail("rseq registration expected EBUSY (already registered) got success (was not registered)");
	else if (errno != EBUSY)
		wl_fail("rseq registration expected EBUSY got %s", strerror(errno));
#endif
}

static void compare(const struct misc_state *w, const struct misc_state *g)
{
	char what[64];
	int i;

	for (i = 0; i < RLIM_NLIMITS; i++) {
		snprintf(what, sizeof(what), "rlimit %d soft", i);
		wl_check_int(what, w->rl[i].rlim_cur, g->rl[i].rlim_cur);
		snprintf(what, sizeof(what), "rlimit %d hard", i);
		wl_check_int(what, w->rl[i].rlim_max, g->rl[i].rlim_max);
	}
	wl_check_str("cwd", w->cwd, g->cwd);
	if (w->umask != g->umask)
		wl_fail("umask expected %04o got %04o", (unsigned)w->umask, (unsigned)g->umask);
	wl_check_str("comm", w->comm, g->comm);
	wl_check_hex("personality", w->personality, g->personality);
	wl_check_int("nice", w->nice, g->nice);
	wl_check_int("timerslack", w->timerslack, g->timerslack);
	wl_check_int("child subreaper", w->subreaper, g->subreaper);
	wl_check_hex("robust_list head", w->robust_head, g->robust_head);
	wl_check_int("robust_list len", w->robust_len, g->robust_len);
	if (w->tid_addr_ok)
		wl_check_hex("clear_child_tid (PR_GET_TID_ADDRESS)", w->tid_addr, g->tid_addr);
	check_itimers(w, g);
	check_rseq();
}

/* lower sets a limit to at most soft/hard (it never raises one). */
static void lower(int res, rlim_t soft, rlim_t hard)
{
	struct rlimit rl;

	getrlimit(res, &rl);
	if (hard < rl.rlim_max)
		rl.rlim_max = hard;
	rl.rlim_cur = soft < rl.rlim_max ? soft : rl.rlim_max;
	if (setrlimit(res, &rl) < 0)
		wl_setup_fail("setrlimit %d: %s", res, strerror(errno));
}

static void setup(const char *dir)
{
	struct itimerval it[3] = {
		{ { 500, 0 }, { 1000, 0 } },
		{ { 100, 0 }, { 2000, 0 } },
		{ { 200, 0 }, { 3000, 0 } },
	};
	struct sigaction sa = { .sa_handler = on_timer };
	int i;

	lower(RLIMIT_NOFILE, 777, RLIM_INFINITY);
	lower(RLIMIT_CORE, 0, RLIM_INFINITY);
	lower(RLIMIT_STACK, 16 << 20, RLIM_INFINITY);
	lower(RLIMIT_NPROC, 3000, 4000);
	lower(RLIMIT_MSGQUEUE, 400000, RLIM_INFINITY);
	if (chdir(dir) < 0)
		wl_setup_fail("chdir %s: %s", dir, strerror(errno));
	umask(027);
	prctl(PR_SET_NAME, "wl-misc-x", 0, 0, 0);
	if (personality(PERSONALITY) < 0)
		wl_setup_fail("personality: %s", strerror(errno));
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGVTALRM, &sa, NULL);
	sigaction(SIGPROF, &sa, NULL);
	for (i = 0; i < 3; i++)
		if (setitimer(i, &it[i], NULL) < 0)
			wl_setup_fail("setitimer %d: %s", i, strerror(errno));
	errno = 0;
	if (setpriority(PRIO_PROCESS, 0, NICE) < 0)
		wl_setup_fail("setpriority: %s", strerror(errno));
	if (prctl(PR_SET_TIMERSLACK, TIMERSLACK, 0, 0, 0) < 0)
		wl_setup_fail("PR_SET_TIMERSLACK: %s", strerror(errno));
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		wl_setup_fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
}

static void corrupt(void)
{
	umask(077);
	wl_out("CORRUPT: umask 077\n");
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/wl-misc-XXXXXX";
	const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);

	wl_init(WL_WAIT_NANOSLEEP);
	if (!dir)
		wl_setup_fail("mkdtemp: %s", strerror(errno));
	setup(dir);
	read_state(&want);
	if (want.umask != 027 || want.personality != PERSONALITY || want.nice != NICE ||
	    want.timerslack != TIMERSLACK || strcmp(want.comm, "wl-misc-x") != 0)
		wl_setup_fail("umask %o personality %#x nice %d slack %ld comm %s", want.umask,
			      want.personality, want.nice, want.timerslack, want.comm);

	wl_ready("cwd=%s rseq=%d tid_address=%d", want.cwd,
#ifdef HAVE_GLIBC_RSEQ
		 __rseq_size != 0,
#else
		 0,
#endif
		 want.tid_addr_ok);
	wl_loop(corrupt);
	read_state(&got);
	compare(&want, &got);
	wl_finish();
}
