/*
 * mm - the memory-descriptor facts the kernel keeps about a process.
 *
 * Start it with a few arguments (one may be empty) and an extra environment
 * variable, so that cmdline and environ are not trivial. It sets
 * PR_SET_THP_DISABLE and records:
 *   /proc/self/stat fields 26-28 (startcode, endcode, startstack) and
 *   45-51 (start_data, end_data, start_brk, arg_start, arg_end, env_start,
 *   env_end), the current brk (sbrk(0)), /proc/self/cmdline,
 *   /proc/self/environ, /proc/self/auxv, readlink /proc/self/exe,
 *   PR_GET_DUMPABLE and PR_GET_THP_DISABLE,
 * and that argv[0] and environ[0] still sit at arg_start and env_start.
 * Nothing allocates after the record, so brk does not move. Waits in pause().
 *
 * Corrupt (SIGUSR1): flips one bit of the first byte of the last non-empty
 * argument in memory, which /proc/self/cmdline shows.
 */
#include "common.h"

#include <limits.h>
#include <sys/prctl.h>

#define BIG (64 * 1024)

static const int stat_fields[] = { 26, 27, 28, 45, 46, 47, 48, 49, 50, 51 };
static const char *const stat_names[] = {
	"startcode", "endcode", "startstack", "start_data", "end_data",
	"start_brk", "arg_start", "arg_end", "env_start", "env_end",
};
#define NSTAT (int)(sizeof(stat_fields) / sizeof(stat_fields[0]))

struct mm_state {
	unsigned long long stat[NSTAT];
	uintptr_t brk;
	char cmdline[BIG], environ[BIG], auxv[4096];
	ssize_t cmdline_len, environ_len, auxv_len;
	char exe[PATH_MAX];
	int dumpable, thp_disable;
	uintptr_t argv0, env0;
};

static struct mm_state want, got;
static char statbuf[4096];
static int g_argc;
static char **g_argv;

/* read_stat parses the fields listed in stat_fields (1-based). */
static void read_stat(unsigned long long *out)
{
	char *p;
	int field, i = 0;

	memset(out, 0, NSTAT * sizeof(*out));
	if (wl_read_file("/proc/self/stat", statbuf, sizeof(statbuf)) < 0) {
		wl_fail("read /proc/self/stat: %s", strerror(errno));
		return;
	}
	p = strrchr(statbuf, ')'); /* comm may hold spaces and parens */
	if (!p)
		return;
	p += 2; /* field 3 (state) starts here; fields are single-space separated */
	for (field = 3; p && i < NSTAT; field++) {
		if (field == stat_fields[i])
			out[i++] = strtoull(p, NULL, 10);
		p = strchr(p, ' ');
		if (p)
			p++;
	}
}

static void read_state(struct mm_state *s)
{
	ssize_t n;

	s->brk = (uintptr_t)sbrk(0); /* first: nothing may move it before */
	read_stat(s->stat);
	s->cmdline_len = wl_read_file("/proc/self/cmdline", s->cmdline, sizeof(s->cmdline));
	s->environ_len = wl_read_file("/proc/self/environ", s->environ, sizeof(s->environ));
	s->auxv_len = wl_read_file("/proc/self/auxv", s->auxv, sizeof(s->auxv));
	n = readlink("/proc/self/exe", s->exe, sizeof(s->exe) - 1);
	s->exe[n < 0 ? 0 : n] = 0;
	s->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	s->thp_disable = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	s->argv0 = (uintptr_t)g_argv[0];
	s->env0 = environ[0] ? (uintptr_t)environ[0] : 0;
}

static void compare(const struct mm_state *w, const struct mm_state *g)
{
	char what[64];
	int i;

	for (i = 0; i < NSTAT; i++) {
		snprintf(what, sizeof(what), "stat field %d (%s)", stat_fields[i], stat_names[i]);
		wl_check_hex(what, w->stat[i], g->stat[i]);
	}
	wl_check_hex("brk", w->brk, g->brk);
	wl_check_bytes("/proc/self/cmdline", w->cmdline, w->cmdline_len, g->cmdline, g->cmdline_len);
	wl_check_bytes("/proc/self/environ", w->environ, w->environ_len, g->environ, g->environ_len);
	wl_check_bytes("/proc/self/auxv", w->auxv, w->auxv_len, g->auxv, g->auxv_len);
	wl_check_str("/proc/self/exe", w->exe, g->exe);
	wl_check_int("dumpable", w->dumpable, g->dumpable);
	wl_check_int("thp_disable", w->thp_disable, g->thp_disable);
	wl_check_hex("argv[0] address", w->argv0, g->argv0);
	wl_check_hex("environ[0] address", w->env0, g->env0);
	wl_check_hex("argv[0] address vs arg_start", g->stat[6], g->argv0);
	if (g->env0)
		wl_check_hex("environ[0] address vs env_start", g->stat[8], g->env0);
}

static void corrupt(void)
{
	int i = g_argc - 1;

	while (i > 0 && g_argv[i][0] == 0)
		i--;
	g_argv[i][0] ^= 1;
	wl_out("CORRUPT: argv[%d][0] in memory\n", i);
}

int main(int argc, char **argv)
{
	g_argc = argc;
	g_argv = argv;
	wl_init(WL_WAIT_PAUSE);
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0)
		wl_setup_fail("PR_SET_THP_DISABLE: %s", strerror(errno));
	read_state(&want);
	if (want.cmdline_len <= 0 || want.environ_len <= 0 || want.auxv_len <= 0 || !want.exe[0])
		wl_setup_fail("could not read /proc/self: %s", strerror(errno));
	if (want.stat[6] != want.argv0)
		wl_setup_fail("arg_start %#llx is not argv[0] %#lx", want.stat[6],
			      (unsigned long)want.argv0);

	wl_ready("argc=%d cmdline=%zd environ=%zd auxv=%zd bytes", argc, want.cmdline_len,
		 want.environ_len, want.auxv_len);
	wl_loop(corrupt);
	read_state(&got);
	compare(&want, &got);
	wl_finish();
}
