/*
 * fds - open file descriptors and their open file descriptions.
 *
 * argv: [dir] for its files (default: a new /tmp/wl-fds-XXXXXX). Opens
 *   ro      ro.txt O_RDONLY, offset 100 (4096 bytes of letters)
 *   fd 100  dup2 of ro: the same open file description, so a shared offset
 *   app     app.log O_WRONLY|O_APPEND holding "first\n"
 *   rw      rw.bin O_RDWR|O_CLOEXEC, offset 5 (4096 bytes 0..255)
 *   null    /dev/null O_RDWR, zero /dev/zero O_RDONLY,
 *   urandom /dev/urandom O_RDONLY|O_NONBLOCK, dir O_RDONLY|O_DIRECTORY
 *   pipe    the wait pipe (both O_CLOEXEC, write end O_NONBLOCK)
 * besides stdin (/dev/null) and stdout/stderr (the output file). Waits in
 * read() on the pipe.
 *
 * Checks per fd: lseek(fd, 0, SEEK_CUR), O_ACCMODE and the other F_GETFL
 * flags (O_LARGEFILE masked) separately, F_GETFD, readlink of
 * /proc/self/fd/N (pipes: "pipe:" and both ends on one inode), file type
 * and st_rdev. Then it uses them: ro reads letters 100.. and moves fd 100's
 * offset too, rw reads bytes 5.., writing to app at offset 0 appends,
 * /dev/zero reads zeros, /dev/urandom reads varying bytes, /dev/null takes
 * writes, the pipe carries bytes.
 *
 * Corrupt (SIGUSR1): moves ro's offset to 200.
 */
#include "common.h"

#include <limits.h>
#include <sys/stat.h>

enum kind { K_FILE, K_OUT, K_CHR, K_DIR, K_PIPE }; /* K_OUT: its offset moves with output */

/* With "nopipe" as the second argument the workload has no pipe at all and
 * waits in sigsuspend: for checkpointers that do not support pipes yet. */
static int nopipe;

struct fdent {
	const char *name;
	int fd;
	enum kind kind;
};

struct fdstate {
	long long pos;
	int accmode, flags, fdflags;
	char link[PATH_MAX];
	mode_t type;
	dev_t rdev;
	ino_t ino;
};

#define NFD 14
static struct fdent fds[NFD];
static struct fdstate want[NFD], got[NFD];
static int nfds, ro_fd, app_fd, rw_fd, null_fd, zero_fd, urandom_fd;
static char dirpath[PATH_MAX];
static char buf[8192];

static void add(const char *name, int fd, enum kind kind)
{
	if (fd < 0)
		wl_setup_fail("open %s: %s", name, strerror(errno));
	fds[nfds++] = (struct fdent){ name, fd, kind };
}

static void read_fd(const struct fdent *e, struct fdstate *s)
{
	char path[64];
	struct stat st;
	ssize_t n;
	off_t pos;
	int fl;

	memset(s, 0, sizeof(*s));
	pos = lseek(e->fd, 0, SEEK_CUR);
	s->pos = pos < 0 ? -errno : pos;
	fl = fcntl(e->fd, F_GETFL);
	s->accmode = fl < 0 ? -errno : (fl & O_ACCMODE);
	s->flags = fl < 0 ? -errno : (fl & ~(O_ACCMODE | O_LARGEFILE));
	s->fdflags = fcntl(e->fd, F_GETFD);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", e->fd);
	n = readlink(path, s->link, sizeof(s->link) - 1);
	s->link[n < 0 ? 0 : n] = 0;
	if (e->kind == K_PIPE && strncmp(s->link, "pipe:", 5) == 0)
		s->link[5] = 0; /* the inode number is new after a restore */
	if (fstat(e->fd, &st) == 0) {
		s->type = st.st_mode & S_IFMT;
		s->rdev = st.st_rdev;
		s->ino = st.st_ino;
	}
}

static void compare(void)
{
	char what[96];
	int i;

	for (i = 0; i < nfds; i++) {
		const struct fdstate *w = &want[i], *g = &got[i];
		const char *n = fds[i].name;
		int fd = fds[i].fd;
#define WHAT(field) (snprintf(what, sizeof(what), "fd %d (%s) %s", fd, n, field), what)
		if (fds[i].kind != K_OUT)
			wl_check_int(WHAT("offset"), w->pos, g->pos);
		wl_check_hex(WHAT("access mode"), w->accmode, g->accmode);
		wl_check_hex(WHAT("status flags"), w->flags, g->flags);
		wl_check_hex(WHAT("fd flags"), w->fdflags, g->fdflags);
		wl_check_str(WHAT("path"), w->link, g->link);
		wl_check_hex(WHAT("file type"), w->type, g->type);
		if (fds[i].kind == K_CHR)
			wl_check_hex(WHAT("st_rdev"), w->rdev, g->rdev);
#undef WHAT
	}
	if (!nopipe && got[nfds - 2].ino != got[nfds - 1].ino)
		wl_fail("pipe ends on different inodes %lu and %lu",
			(unsigned long)got[nfds - 2].ino, (unsigned long)got[nfds - 1].ino);
}

static int letter(int i) { return 'A' + i % 26; }
static int counting(int i) { return i & 0xff; }

static void check_file_io(void)
{
	char path[PATH_MAX + 16];
	struct stat st;
	ssize_t n;
	int i;

	char want_ro[10], want_rw[5];
	for (i = 0; i < 10; i++)
		want_ro[i] = letter(100 + i);
	for (i = 0; i < 5; i++)
		want_rw[i] = counting(5 + i);
	n = read(ro_fd, buf, 10);
	wl_check_bytes("ro.txt read at offset 100", want_ro, 10, buf, n < 0 ? 0 : n);
	wl_check_int("fd 100 offset after reading ro (shared description)", 110, lseek(100, 0, SEEK_CUR));
	n = read(rw_fd, buf, 5);
	wl_check_bytes("rw.bin read at offset 5", want_rw, 5, buf, n < 0 ? 0 : n);
	lseek(app_fd, 0, SEEK_SET);
	wl_check_int("write app.log", 7, write(app_fd, "second\n", 7));
	snprintf(path, sizeof(path), "%s/app.log", dirpath);
	n = wl_read_file(path, buf, sizeof(buf));
	wl_check_str("app.log content after an O_APPEND write", "first\nsecond\n", n < 0 ? "" : buf);
	if (fstat(app_fd, &st) == 0)
		wl_check_int("app.log size", 13, st.st_size);
}

static void check_dev_io(void)
{
	char a[64], b[64];
	int i, nonzero = 0;

	memset(buf, 1, 4096);
	wl_check_int("read /dev/zero count", 4096, read(zero_fd, buf, 4096));
	for (i = 0; i < 4096 && !buf[i]; i++)
		;
	wl_check_int("first non-zero byte from /dev/zero", 4096, i);
	wl_check_int("read /dev/urandom count", 64, read(urandom_fd, a, 64));
	wl_check_int("read /dev/urandom count", 64, read(urandom_fd, b, 64));
	for (i = 0; i < 64; i++)
		nonzero += a[i] != 0;
	if (!nonzero || memcmp(a, b, 64) == 0)
		wl_fail("/dev/urandom expected varying bytes got %s", nonzero ? "a repeat" : "zeros");
	wl_check_int("write /dev/null", 3, write(null_fd, "abc", 3));
	if (nopipe)
		return;
	fcntl(wl_pipe[0], F_SETFL, O_NONBLOCK);
	while (read(wl_pipe[0], buf, sizeof(buf)) > 0)
		; /* drain the wake-up bytes */
	wl_check_int("write pipe", 4, write(wl_pipe[1], "ping", 4));
	wl_check_int("read pipe", 4, read(wl_pipe[0], buf, sizeof(buf)));
	wl_check_int("pipe data", 0, memcmp(buf, "ping", 4));
}

static void write_file(const char *name, int len, int (*byte)(int))
{
	char path[PATH_MAX + 16];
	int fd, i;

	for (i = 0; i < len; i++)
		buf[i] = byte(i);
	snprintf(path, sizeof(path), "%s/%s", dirpath, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, len) != len)
		wl_setup_fail("write %s: %s", path, strerror(errno));
	close(fd);
}


static int open_in_dir(const char *name, int flags)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/%s", dirpath, name);
	return open(path, flags, 0644);
}

static void setup(void)
{
	write_file("ro.txt", 4096, letter);
	write_file("rw.bin", 4096, counting);
	add("stdin", 0, K_CHR);
	add("stdout", 1, K_OUT);
	add("stderr", 2, K_OUT);
	add("ro", ro_fd = open_in_dir("ro.txt", O_RDONLY), K_FILE);
	if (lseek(ro_fd, 100, SEEK_SET) != 100 || dup2(ro_fd, 100) != 100)
		wl_setup_fail("lseek/dup2 ro: %s", strerror(errno));
	add("dup of ro", 100, K_FILE);
	add("app", app_fd = open_in_dir("app.log", O_WRONLY | O_APPEND | O_CREAT | O_TRUNC), K_FILE);
	if (write(app_fd, "first\n", 6) != 6)
		wl_setup_fail("write app.log: %s", strerror(errno));
	add("rw", rw_fd = open_in_dir("rw.bin", O_RDWR | O_CLOEXEC), K_FILE);
	lseek(rw_fd, 5, SEEK_SET);
	add("null", null_fd = open("/dev/null", O_RDWR), K_CHR);
	add("zero", zero_fd = open("/dev/zero", O_RDONLY), K_CHR);
	add("urandom", urandom_fd = open("/dev/urandom", O_RDONLY | O_NONBLOCK), K_CHR);
	add("dir", open(dirpath, O_RDONLY | O_DIRECTORY), K_DIR);
	if (nopipe)
		return;
	add("pipe read end", wl_pipe[0], K_PIPE); /* the last two: compare() relies on it */
	add("pipe write end", wl_pipe[1], K_PIPE);
}

/* want_of returns the record of an fd. */
static const struct fdstate *want_of(int fd)
{
	int i;

	for (i = 0; i < nfds && fds[i].fd != fd; i++)
		;
	return &want[i < nfds ? i : 0];
}

static void corrupt(void)
{
	lseek(ro_fd, 200, SEEK_SET);
	wl_out("CORRUPT: ro offset 200\n");
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/wl-fds-XXXXXX";
	const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
	int i;

	nopipe = argc > 2 && strcmp(argv[2], "nopipe") == 0;
	wl_init(nopipe ? WL_WAIT_SIGSUSPEND : WL_WAIT_PIPE);
	if (!dir || !realpath(dir, dirpath))
		wl_setup_fail("dir: %s", strerror(errno));
	setup();
	for (i = 0; i < nfds; i++)
		read_fd(&fds[i], &want[i]);
	if (want_of(ro_fd)->pos != 100 || want_of(ro_fd)->fdflags != 0 ||
	    want_of(rw_fd)->fdflags != FD_CLOEXEC)
		wl_setup_fail("ro offset %lld fd flags %d, rw fd flags %d", want_of(ro_fd)->pos,
			      want_of(ro_fd)->fdflags, want_of(rw_fd)->fdflags);

	wl_ready("fds=%d dir=%s", nfds, dirpath);
	wl_loop(corrupt);
	for (i = 0; i < nfds; i++)
		read_fd(&fds[i], &got[i]);
	compare();
	check_file_io();
	check_dev_io();
	wl_finish();
}
