/*
 * creds - user/group ids, supplementary groups and capabilities.
 *
 * Must start as root. argv: [uid [gid [g1,g2,...]]], default 1234 2345
 * 3001,3002,3003. It drops CAP_SYS_MODULE and CAP_MKNOD from the bounding
 * set, sets securebits SECBIT_KEEP_CAPS|SECBIT_NO_SETUID_FIXUP (and
 * PR_SET_KEEPCAPS), the groups, then
 *   real/effective/saved/fs gid = gid, gid+1, gid+2, gid+3
 *   real/effective/saved/fs uid = uid, uid+1, uid+2, uid+3
 * and leaves the capabilities
 *   permitted   {NET_BIND_SERVICE, KILL, SETUID}
 *   effective   {NET_BIND_SERVICE}
 *   inheritable {KILL}
 *   ambient     {KILL}
 * plus no_new_privs. The credential change leaves the process non-dumpable.
 * Raw capget/capset: libcap is not needed.
 *
 * Checks all of that (and every bounding/ambient bit up to cap_last_cap,
 * PR_GET_KEEPCAPS, PR_GET_DUMPABLE) against the record. Waits in pause().
 *
 * Corrupt (SIGUSR1): lowers CAP_KILL from the ambient set.
 */
#include "common.h"

#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define MAXGROUPS 64
#define BIT(c) (1ULL << (c))

struct creds {
	uid_t ruid, euid, suid, fsuid;
	gid_t rgid, egid, sgid, fsgid;
	int ngroups;
	gid_t groups[MAXGROUPS];
	uint64_t permitted, effective, inheritable, bset, ambient;
	int securebits, no_new_privs, keepcaps, dumpable;
};

static int last_cap;
static struct creds want;

static void cap_get(uint64_t *p, uint64_t *e, uint64_t *i)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		wl_fail("capget: %s", strerror(errno));
	*p = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*e = d[0].effective | (uint64_t)d[1].effective << 32;
	*i = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
}

static void cap_set(uint64_t p, uint64_t e, uint64_t i)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)e, (uint32_t)p, (uint32_t)i },
		{ (uint32_t)(e >> 32), (uint32_t)(p >> 32), (uint32_t)(i >> 32) },
	};

	if (syscall(SYS_capset, &h, d) < 0)
		wl_setup_fail("capset p=%#llx e=%#llx i=%#llx: %s", (unsigned long long)p,
			      (unsigned long long)e, (unsigned long long)i, strerror(errno));
}

static void read_creds(struct creds *c)
{
	int cap;

	memset(c, 0, sizeof(*c));
	getresuid(&c->ruid, &c->euid, &c->suid);
	getresgid(&c->rgid, &c->egid, &c->sgid);
	c->fsuid = setfsuid(-1); /* fails, returns the current value */
	c->fsgid = setfsgid(-1);
	c->ngroups = getgroups(MAXGROUPS, c->groups);
	cap_get(&c->permitted, &c->effective, &c->inheritable);
	for (cap = 0; cap <= last_cap; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			c->bset |= BIT(cap);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1)
			c->ambient |= BIT(cap);
	}
	c->securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	c->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	c->keepcaps = prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0);
	c->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

static void compare(const struct creds *w, const struct creds *g)
{
	int i;

	wl_check_int("real uid", w->ruid, g->ruid);
	wl_check_int("effective uid", w->euid, g->euid);
	wl_check_int("saved uid", w->suid, g->suid);
	wl_check_int("fs uid", w->fsuid, g->fsuid);
	wl_check_int("real gid", w->rgid, g->rgid);
	wl_check_int("effective gid", w->egid, g->egid);
	wl_check_int("saved gid", w->sgid, g->sgid);
	wl_check_int("fs gid", w->fsgid, g->fsgid);
	wl_check_int("number of groups", w->ngroups, g->ngroups);
	for (i = 0; i < w->ngroups && i < g->ngroups; i++)
		wl_check_int("supplementary group", w->groups[i], g->groups[i]);
	wl_check_hex("permitted caps", w->permitted, g->permitted);
	wl_check_hex("effective caps", w->effective, g->effective);
	wl_check_hex("inheritable caps", w->inheritable, g->inheritable);
	wl_check_hex("bounding set", w->bset, g->bset);
	wl_check_hex("ambient caps", w->ambient, g->ambient);
	wl_check_hex("securebits", w->securebits, g->securebits);
	wl_check_int("no_new_privs", w->no_new_privs, g->no_new_privs);
	wl_check_int("keepcaps", w->keepcaps, g->keepcaps);
	wl_check_int("dumpable", w->dumpable, g->dumpable);
}

static void read_last_cap(void)
{
	char buf[32];

	if (wl_read_file("/proc/sys/kernel/cap_last_cap", buf, sizeof(buf)) < 0)
		wl_setup_fail("cap_last_cap: %s", strerror(errno));
	last_cap = atoi(buf);
	if (last_cap < CAP_SETFCAP || last_cap > 63)
		wl_setup_fail("cap_last_cap %d out of range", last_cap);
}

static int parse_groups(const char *s, gid_t *out)
{
	int n = 0;

	while (*s && n < MAXGROUPS) {
		char *end;
		out[n++] = strtoul(s, &end, 10);
		s = *end == ',' ? end + 1 : end;
		if (end == s && *s)
			wl_setup_fail("bad group list");
	}
	return n;
}

/* setup builds the credentials and fills in the expected record. */
static void setup(uid_t uid, gid_t gid, const gid_t *groups, int ngroups)
{
	const uint64_t p = BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_KILL) | BIT(CAP_SETUID);
	const int bits = SECBIT_KEEP_CAPS | SECBIT_NO_SETUID_FIXUP;
	uint64_t bset_before = 0;
	int cap;

	for (cap = 0; cap <= last_cap; cap++) /* may already lack some (containers) */
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			bset_before |= BIT(cap);

	if (prctl(PR_CAPBSET_DROP, CAP_SYS_MODULE, 0, 0, 0) < 0 ||
	    prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0) < 0)
		wl_setup_fail("PR_CAPBSET_DROP: %s", strerror(errno));
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0 || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		wl_setup_fail("securebits: %s", strerror(errno));
	if (setgroups(ngroups, groups) < 0)
		wl_setup_fail("setgroups: %s", strerror(errno));
	if (setresgid(gid, gid + 1, gid + 2) < 0)
		wl_setup_fail("setresgid: %s", strerror(errno));
	setfsgid(gid + 3);
	if (setresuid(uid, uid + 1, uid + 2) < 0)
		wl_setup_fail("setresuid: %s", strerror(errno));
	cap_set(p, BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_SETUID), BIT(CAP_KILL));
	setfsuid(uid + 3); /* needs CAP_SETUID in the effective set */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0) < 0)
		wl_setup_fail("PR_CAP_AMBIENT_RAISE: %s", strerror(errno));
	cap_set(p, BIT(CAP_NET_BIND_SERVICE), BIT(CAP_KILL));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		wl_setup_fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));

	/* What the kernel must now report; the final record must match it. */
	want.ruid = uid, want.euid = uid + 1, want.suid = uid + 2, want.fsuid = uid + 3;
	want.rgid = gid, want.egid = gid + 1, want.sgid = gid + 2, want.fsgid = gid + 3;
	want.permitted = p;
	want.effective = BIT(CAP_NET_BIND_SERVICE);
	want.inheritable = BIT(CAP_KILL);
	want.ambient = BIT(CAP_KILL);
	want.bset = bset_before & ~(BIT(CAP_SYS_MODULE) | BIT(CAP_MKNOD));
	want.securebits = bits;
	want.no_new_privs = 1;
	want.keepcaps = 1;
}

static void corrupt(void)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_KILL, 0, 0) < 0)
		wl_out("CORRUPT: PR_CAP_AMBIENT_LOWER: %s\n", strerror(errno));
	else
		wl_out("CORRUPT: CAP_KILL lowered from the ambient set\n");
}

int main(int argc, char **argv)
{
	uid_t uid = argc > 1 ? strtoul(argv[1], NULL, 10) : 1234;
	gid_t gid = argc > 2 ? strtoul(argv[2], NULL, 10) : 2345;
	gid_t groups[MAXGROUPS];
	int ngroups = parse_groups(argc > 3 ? argv[3] : "3001,3002,3003", groups);
	struct creds got;

	wl_init(WL_WAIT_PAUSE);
	if (geteuid() != 0)
		wl_unsupported("creds must start as root (euid %d)", (int)geteuid());
	if (uid == 0 || gid == 0)
		wl_setup_fail("target uid and gid must not be 0");
	read_last_cap();
	setup(uid, gid, groups, ngroups);

	/* Check the setup itself, except what the kernel decides (groups order, dumpable). */
	read_creds(&got);
	want.ngroups = got.ngroups;
	memcpy(want.groups, got.groups, sizeof(want.groups));
	want.dumpable = got.dumpable;
	wl_fail_prefix = "SETUP";
	compare(&want, &got);
	if (wl_failures)
		wl_setup_fail("credentials differ from the intended ones");
	wl_fail_prefix = "FAIL";
	if (got.ngroups != ngroups)
		wl_setup_fail("getgroups returned %d groups, set %d", got.ngroups, ngroups);

	wl_ready("uid=%d gid=%d groups=%d dumpable=%d", (int)uid, (int)gid, ngroups, want.dumpable);
	wl_loop(corrupt);
	read_creds(&got);
	compare(&want, &got);
	wl_finish();
}
