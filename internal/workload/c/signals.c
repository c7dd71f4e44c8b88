/*
 * signals - dispositions, masks, pending and queued signals, sigaltstack.
 *
 * Installs handlers with distinct flags and masks (SIGHUP, SIGALRM,
 * SIGTERM, SIGWINCH, SIGINT, SIGRTMIN+3, SIGRTMAX-1), ignores SIGCHLD (with
 * SA_NOCLDSTOP|SA_NOCLDWAIT) and SIGPIPE, resets SIGQUIT to SIG_DFL, sets a sigaltstack with
 * SS_AUTODISARM, blocks SIGINT, SIGQUIT and SIGRTMIN+3, then makes them
 * pending: SIGINT thread-directed (rt_tgsigqueueinfo with si_code SI_QUEUE
 * and value 7), SIGQUIT process-directed (kill),
 * SIGRTMIN+3 queued twice with sigqueue values 42 and 43. Waits in
 * sigsuspend() with only SIGUSR1/SIGUSR2 unblocked.
 *
 * Checks: every kernel sigaction 1..64 (raw rt_sigaction, so 32/33 too:
 * handler, flags, restorer, mask), the blocked mask, sigpending, the
 * SigPnd/ShdPnd/SigBlk/SigIgn/SigCgt lines of /proc/self/status (per-thread
 * vs shared pending), the altstack; then that the pending signals carry
 * their siginfo (SIGINT SI_QUEUE with value 7, SIGQUIT SI_USER, both from
 * our pid), that unblocking SIGRTMIN+3 runs its handler twice with 42 then 43
 * and SI_QUEUE, and that SIGALRM runs on the altstack.
 *
 * Corrupt (SIGUSR1): reinstalls the SIGHUP handler without SA_RESTART.
 */
#include "common.h"

#include <sys/syscall.h>

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31) /* linux/signal.h; not in glibc 2.36 */
#endif
#define NSIGS 64
#define ALTSTACK_SIZE (64 * 1024)

/* The kernel's struct sigaction for rt_sigaction on x86-64. */
struct ksigaction {
	uintptr_t handler;
	unsigned long flags;
	uintptr_t restorer;
	uint64_t mask;
};

struct sig_state {
	struct ksigaction act[NSIGS + 1];
	sigset_t blocked, pending;
	stack_t altstack;
	char status[5][128]; /* SigPnd ShdPnd SigBlk SigIgn SigCgt */
};

static const char *const status_keys[5] = { "SigPnd:", "ShdPnd:", "SigBlk:", "SigIgn:", "SigCgt:" };
static char altstack_mem[ALTSTACK_SIZE];
static struct sig_state want, got;
static char statusbuf[8192];

static volatile sig_atomic_t rt_count, rt_codes[4], rt_values[4];
static volatile sig_atomic_t alrm_count, alrm_on_altstack;

static void h_plain(int sig) { (void)sig; }
static void h_info(int sig, siginfo_t *si, void *uc) { (void)sig, (void)si, (void)uc; }

static void h_rt(int sig, siginfo_t *si, void *uc)
{
	int n = rt_count;

	(void)sig, (void)uc;
	if (n < 4) {
		rt_codes[n] = si->si_code;
		rt_values[n] = si->si_value.sival_int;
	}
	rt_count = n + 1;
}

static void h_alrm(int sig)
{
	char here;

	(void)sig;
	alrm_count++;
	alrm_on_altstack = &here >= altstack_mem && &here < altstack_mem + ALTSTACK_SIZE;
}

/* install sets a disposition; masks is a 0-terminated list of signals. */
static void install(int sig, void *handler, int flags, const int *masks)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	if (flags & SA_SIGINFO)
		sa.sa_sigaction = handler;
	else
		sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	for (; masks && *masks; masks++)
		sigaddset(&sa.sa_mask, *masks);
	if (sigaction(sig, &sa, NULL) < 0)
		wl_setup_fail("sigaction %d: %s", sig, strerror(errno));
}

static void install_all(void)
{
	const int hup_mask[] = { SIGTERM, SIGWINCH, 0 }, alrm_mask[] = { SIGHUP, 0 };
	const int winch_mask[] = { SIGRTMIN + 1, 0 }, rt_mask[] = { SIGRTMIN + 4, 0 };
	const int rtmax_mask[] = { SIGALRM, SIGRTMAX, 0 };

	install(SIGHUP, h_info, SA_SIGINFO | SA_RESTART, hup_mask);
	install(SIGALRM, h_alrm, SA_ONSTACK | SA_NODEFER, alrm_mask);
	install(SIGTERM, h_info, SA_SIGINFO | SA_RESETHAND | SA_ONSTACK, NULL);
	install(SIGWINCH, h_plain, 0, winch_mask);
	install(SIGCHLD, SIG_IGN, SA_NOCLDSTOP | SA_NOCLDWAIT, NULL);
	install(SIGPIPE, SIG_IGN, 0, NULL);
	install(SIGINT, h_info, SA_SIGINFO, NULL); /* not inherited SIG_IGN */
	install(SIGQUIT, SIG_DFL, 0, NULL);
	install(SIGRTMIN + 3, h_rt, SA_SIGINFO | SA_RESTART, rt_mask);
	install(SIGRTMAX - 1, h_plain, SA_RESTART | SA_NODEFER, rtmax_mask);
}

static void status_line(const char *key, char *out, size_t cap)
{
	char *p = strstr(statusbuf, key), *end;

	out[0] = 0;
	if (!p)
		return;
	end = strchr(p, '\n');
	snprintf(out, cap, "%.*s", end ? (int)(end - p) : (int)strlen(p), p);
}

static void read_state(struct sig_state *s)
{
	int sig, i;

	memset(s, 0, sizeof(*s));
	for (sig = 1; sig <= NSIGS; sig++)
		if (syscall(SYS_rt_sigaction, sig, NULL, &s->act[sig], 8) < 0)
			wl_fail("rt_sigaction(%d) read: %s", sig, strerror(errno));
	sigprocmask(SIG_SETMASK, NULL, &s->blocked);
	sigpending(&s->pending);
	sigaltstack(NULL, &s->altstack);
	if (wl_read_file("/proc/self/status", statusbuf, sizeof(statusbuf)) < 0)
		wl_fail("read /proc/self/status: %s", strerror(errno));
	for (i = 0; i < 5; i++)
		status_line(status_keys[i], s->status[i], sizeof(s->status[i]));
}

static const char *signame(int sig)
{
	const char *n = sigabbrev_np(sig);

	return n ? n : (sig >= SIGRTMIN ? "RT" : "glibc-internal");
}

static void compare(const struct sig_state *w, const struct sig_state *g)
{
	char what[96];
	int sig, i;

	for (sig = 1; sig <= NSIGS; sig++) {
		const struct ksigaction *a = &w->act[sig], *b = &g->act[sig];
		snprintf(what, sizeof(what), "sigaction %d (%s) handler", sig, signame(sig));
		wl_check_hex(what, a->handler, b->handler);
		snprintf(what, sizeof(what), "sigaction %d (%s) flags", sig, signame(sig));
		wl_check_hex(what, a->flags, b->flags);
		snprintf(what, sizeof(what), "sigaction %d (%s) restorer", sig, signame(sig));
		wl_check_hex(what, a->restorer, b->restorer);
		snprintf(what, sizeof(what), "sigaction %d (%s) mask", sig, signame(sig));
		wl_check_hex(what, a->mask, b->mask);
	}
	for (sig = 1; sig <= NSIGS; sig++) {
		snprintf(what, sizeof(what), "blocked %d (%s)", sig, signame(sig));
		wl_check_int(what, sigismember(&w->blocked, sig), sigismember(&g->blocked, sig));
		snprintf(what, sizeof(what), "pending %d (%s)", sig, signame(sig));
		wl_check_int(what, sigismember(&w->pending, sig), sigismember(&g->pending, sig));
	}
	wl_check_hex("sigaltstack ss_sp", w->altstack.ss_sp, g->altstack.ss_sp);
	wl_check_hex("sigaltstack ss_flags", w->altstack.ss_flags, g->altstack.ss_flags);
	wl_check_int("sigaltstack ss_size", w->altstack.ss_size, g->altstack.ss_size);
	for (i = 0; i < 5; i++)
		wl_check_str("/proc/self/status", w->status[i], g->status[i]);
}

/* take_pending accepts one blocked pending signal and checks its siginfo. */
static void take_pending(int sig, int code, int value)
{
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	sigset_t set;
	char what[64];

	sigemptyset(&set);
	sigaddset(&set, sig);
	memset(&si, 0, sizeof(si));
	snprintf(what, sizeof(what), "sigtimedwait(%s) signal", signame(sig));
	wl_check_int(what, sig, sigtimedwait(&set, &si, &zero));
	snprintf(what, sizeof(what), "%s si_code", signame(sig));
	wl_check_int(what, code, si.si_code);
	snprintf(what, sizeof(what), "%s si_pid", signame(sig));
	wl_check_int(what, getpid(), si.si_pid);
	if (code == SI_QUEUE) {
		snprintf(what, sizeof(what), "%s si_value", signame(sig));
		wl_check_int(what, value, si.si_value.sival_int);
	}
}

static void check_delivery(void)
{
	sigset_t set;

	take_pending(SIGINT, SI_QUEUE, 7);
	take_pending(SIGQUIT, SI_USER, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 3);
	sigprocmask(SIG_UNBLOCK, &set, NULL); /* the handler runs before this returns */
	wl_check_int("SIGRTMIN+3 deliveries", 2, rt_count);
	wl_check_int("SIGRTMIN+3 first si_code", SI_QUEUE, rt_codes[0]);
	wl_check_int("SIGRTMIN+3 first sigqueue value", 42, rt_values[0]);
	wl_check_int("SIGRTMIN+3 second sigqueue value", 43, rt_values[1]);
	raise(SIGALRM);
	wl_check_int("SIGALRM deliveries", 1, alrm_count);
	wl_check_int("SIGALRM handler on the altstack", 1, alrm_on_altstack);
}

/* queue_to_thread makes sig pending on this thread with the given value. */
static void queue_to_thread(int sig, int value)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = value;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), sig, &si) < 0)
		wl_setup_fail("rt_tgsigqueueinfo: %s", strerror(errno));
}

static void corrupt(void)
{
	const int hup_mask[] = { SIGTERM, SIGWINCH, 0 };

	install(SIGHUP, h_info, SA_SIGINFO, hup_mask);
	wl_out("CORRUPT: SIGHUP without SA_RESTART\n");
}

int main(void)
{
	stack_t ss = { .ss_sp = altstack_mem, .ss_flags = SS_AUTODISARM, .ss_size = ALTSTACK_SIZE };
	union sigval v;
	sigset_t set;

	wl_init(WL_WAIT_SIGSUSPEND);
	if (sigaltstack(&ss, NULL) < 0)
		wl_setup_fail("sigaltstack: %s", strerror(errno));
	install_all();
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGRTMIN + 3);
	sigprocmask(SIG_BLOCK, &set, NULL);
	queue_to_thread(SIGINT, 7);
	kill(getpid(), SIGQUIT);
	v.sival_int = 42;
	if (sigqueue(getpid(), SIGRTMIN + 3, v) < 0)
		wl_setup_fail("sigqueue: %s", strerror(errno));
	v.sival_int = 43;
	if (sigqueue(getpid(), SIGRTMIN + 3, v) < 0)
		wl_setup_fail("sigqueue: %s", strerror(errno));
	read_state(&want);
	if (!sigismember(&want.pending, SIGINT) || !sigismember(&want.pending, SIGRTMIN + 3))
		wl_setup_fail("signals not pending");

	wl_ready("pending INT QUIT RTMIN+3x2");
	wl_loop(corrupt);
	read_state(&got);
	compare(&want, &got);
	check_delivery();
	wl_finish();
}
