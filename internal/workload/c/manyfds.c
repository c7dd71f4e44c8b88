/*
 * manyfds - hundreds of descriptors, some sharing their description.
 *
 * argv: [dir] for its file (default: a new /tmp/wl-manyfds-XXXXXX) [n]
 * descriptors (default 300). Opens dir/data (4096 bytes) and, from fd 10
 * on, n descriptors in threes: a new description of data at its own
 * offset, a dup of it (the same description, so the same offset), and
 * /dev/null. Waits in pause().
 *
 * Checks: every descriptor's path and offset; that each dup still shares
 * its description (moving one offset moves the other) and that the
 * separate descriptions of data do not (moving one leaves the next one's).
 *
 * Corrupt (SIGUSR1): moves the offset of the first description of data.
 */
#include "common.h"

#include <limits.h>

#define FIRST 10

static int n;
static char dirpath[PATH_MAX], datapath[PATH_MAX + 8];

static int kind(int i) { return i % 3; } /* 0: new description, 1: its dup, 2: /dev/null */
static long offset(int i) { return (i / 3) % 4000; }

static void corrupt(void)
{
	lseek(FIRST, 1, SEEK_CUR);
	wl_out("CORRUPT: offset of fd %d\n", FIRST);
}

static void check(void)
{
	char link[PATH_MAX], what[64], proc[64];
	int i;

	for (i = 0; i < n; i++) {
		int fd = FIRST + i;
		ssize_t k;

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		k = readlink(proc, link, sizeof(link) - 1);
		link[k < 0 ? 0 : k] = 0;
		snprintf(what, sizeof(what), "fd %d path", fd);
		wl_check_str(what, kind(i) == 2 ? "/dev/null" : datapath, link);
		if (kind(i) == 2)
			continue;
		snprintf(what, sizeof(what), "fd %d offset", fd);
		wl_check_int(what, offset(i), lseek(fd, 0, SEEK_CUR));
	}
	/* Sharing, after the offsets are checked: it moves them. */
	for (i = 0; i + 1 < n; i += 3) {
		int fd = FIRST + i;
		lseek(fd, 4000 + i, SEEK_SET);
		snprintf(what, sizeof(what), "fd %d shares fd %d's offset", fd + 1, fd);
		wl_check_int(what, 4000 + i, lseek(fd + 1, 0, SEEK_CUR));
		if (i + 3 < n) {
			snprintf(what, sizeof(what), "fd %d keeps its own offset", fd + 3);
			wl_check_int(what, offset(i + 3), lseek(fd + 3, 0, SEEK_CUR));
		}
	}
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/wl-manyfds-XXXXXX", block[4096];
	const char *dir = argc > 1 && argv[1][0] ? argv[1] : mkdtemp(tmpl);
	int i, fd;

	wl_init(WL_WAIT_PAUSE);
	n = argc > 2 ? atoi(argv[2]) : 300;
	if (!dir || n < 1 || n > 3000)
		wl_setup_fail("usage: manyfds [dir] [n in 1..3000]");
	snprintf(dirpath, sizeof(dirpath), "%s", dir);
	if (!realpath(dir, dirpath))
		wl_setup_fail("realpath %s: %s", dir, strerror(errno));
	snprintf(datapath, sizeof(datapath), "%s/data", dirpath);
	fd = open(datapath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	memset(block, 'x', sizeof(block));
	if (fd < 0 || write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
		wl_setup_fail("write %s: %s", datapath, strerror(errno));
	close(fd);
	for (i = 0; i < n; i++) {
		int want = FIRST + i;
		switch (kind(i)) {
		case 0:
			fd = open(datapath, O_RDWR);
			break;
		case 1:
			fd = dup(want - 1);
			break;
		default:
			fd = open("/dev/null", O_RDWR);
		}
		if (fd < 0 || (fd != want && (dup2(fd, want) < 0 || close(fd) < 0)))
			wl_setup_fail("fd %d: %s", want, strerror(errno));
		if (kind(i) == 0 && lseek(want, offset(i), SEEK_SET) < 0)
			wl_setup_fail("lseek fd %d: %s", want, strerror(errno));
	}
	wl_ready("fds=%d dir=%s", n, dirpath);
	wl_loop(corrupt);
	check();
	wl_finish();
}
