// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr memfd tests: files with no name to reopen, O_PATH
 * descriptors and a directory read halfway.  It sets up one case, prints
 * "READY" and waits for SIGUSR1, after which it checks that what it set up
 * is as it left it, and prints "OK" or one "FAIL <what>" line per
 * difference, exiting 0 (OK) or 1.
 *
 * Usage:
 *   memfd memfd          a sealed memfd with data, a hole and a trailing
 *                        hole; an unsealed one open through three fds (two
 *                        share a description, the third reopened through
 *                        /proc/self/fd)
 *   memfd deleted PATH   PATH created, written, opened a second time, then
 *                        unlinked: two descriptions of one deleted file
 *   memfd paths DIR      O_PATH descriptors of DIR and of a symbolic link
 *                        in it; DIR (with 40 files and the link) read
 *                        halfway
 *   memfd fork           a memfd shared with a child: one description
 *                        inherited, another the child reopened; the
 *                        child checks and writes, the parent sees it
 *   memfd big PATH       a deleted file of 65 MiB (over the limit): prints
 *                        "READY" and waits to be refused
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prog.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

static volatile sig_atomic_t go;
static int failures;

static unsigned char pattern(unsigned long i)
{
	return (i * 2654435761UL) >> 13 ^ i >> 8;
}

static void fail(const char *fmt, ...)
{
	char buf[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("FAIL %s\n", buf);
	failures++;
}

static void on_usr1(int sig)
{
	go = 1;
}

static void wait_go(void)
{
	say("READY\n");
	while (!go)
		usleep(10000);
}

/* Writes the pattern at [@off, @off + @len) of @fd. */
static int put(int fd, unsigned long off, unsigned long len)
{
	unsigned char buf[4096];
	unsigned long done = 0, i, n;

	while (done < len) {
		n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(off + done + i);
		if (pwrite(fd, buf, n, off + done) != (ssize_t)n)
			return -1;
		done += n;
	}
	return 0;
}

/* [@off, @off + @len) of @fd holds the pattern (or zeros, @zero). */
static void check(int fd, unsigned long off, unsigned long len, int zero,
		  const char *what)
{
	unsigned char buf[4096];
	unsigned long done = 0, i;
	ssize_t n;

	while (done < len) {
		n = pread(fd, buf, len - done < sizeof(buf) ? len - done : sizeof(buf),
			  off + done);
		if (n <= 0) {
			fail("%s: read at %lu: %s", what, off + done,
			     n ? strerror(errno) : "early end of file");
			return;
		}
		for (i = 0; i < (unsigned long)n; i++) {
			unsigned char want = zero ? 0 : pattern(off + done + i);

			if (buf[i] != want) {
				fail("%s: wrong byte at offset %lu", what, off + done + i);
				return;
			}
		}
		done += n;
	}
}

static void expect_link(int fd, const char *want)
{
	char p[64], got[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, got, sizeof(got) - 1);
	if (n < 0) {
		fail("readlink %s: %s", p, strerror(errno));
		return;
	}
	got[n] = 0;
	if (strcmp(got, want))
		fail("fd %d is \"%s\", not \"%s\"", fd, got, want);
}

static void expect_pos(int fd, off_t want)
{
	off_t pos = lseek(fd, 0, SEEK_CUR);

	if (pos != want)
		fail("fd %d at %lld, not %lld", fd, (long long)pos, (long long)want);
}

static void expect_flags(int fd, int want)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl != want)
		fail("fd %d status flags %#o, not %#o", fd, fl, want);
}

/* ------------------------------------------------------------- memfd */

#define A_SIZE	40000
#define A_SEALS	(F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_SEAL)

static int do_memfd(void)
{
	int a, b1, b2, b3, fla, flb;
	char p[64], c;
	struct stat st;
	off_t o;

	a = memfd_create("cr-test", MFD_ALLOW_SEALING);
	if (a < 0 || put(a, 0, 8192) || put(a, 16384, 3616) || ftruncate(a, A_SIZE) ||
	    fchmod(a, 0750) || fcntl(a, F_ADD_SEALS, A_SEALS)) {
		fail("setup: memfd a: %s", strerror(errno));
		return 2;
	}
	if (lseek(a, 5000, SEEK_SET) != 5000)
		return 2;
	b1 = memfd_create("shared", MFD_CLOEXEC);
	if (b1 < 0 || put(b1, 0, 10000) || lseek(b1, 100, SEEK_SET) != 100) {
		fail("setup: memfd b: %s", strerror(errno));
		return 2;
	}
	b3 = dup(b1);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", b1);
	b2 = open(p, O_RDWR | O_APPEND);
	if (b2 < 0 || b3 < 0) {
		fail("setup: reopen b: %s", strerror(errno));
		return 2;
	}
	fla = fcntl(a, F_GETFL);
	flb = fcntl(b2, F_GETFL);
	wait_go();

	expect_link(a, "/memfd:cr-test (deleted)");
	expect_link(b1, "/memfd:shared (deleted)");
	expect_link(b2, "/memfd:shared (deleted)");
	if (fstat(a, &st) || st.st_size != A_SIZE || (st.st_mode & 07777) != 0750)
		fail("memfd a: size %lld mode %o", (long long)st.st_size, st.st_mode & 07777);
	check(a, 0, 8192, 0, "memfd a data");
	check(a, 8192, 8192, 1, "memfd a hole");
	check(a, 16384, 3616, 0, "memfd a data 2");
	check(a, 20000, A_SIZE - 20000, 1, "memfd a tail");
	expect_pos(a, 5000);
	o = lseek(a, 8192, SEEK_DATA);
	if (o != 16384)
		fail("memfd a: SEEK_DATA from 8192 is %lld: the hole is gone", (long long)o);
	o = lseek(a, 20480, SEEK_DATA);
	if (o != -1)
		fail("memfd a: SEEK_DATA from 20480 is %lld: the trailing hole is gone",
		     (long long)o);
	expect_flags(a, fla);
	if (fcntl(a, F_GET_SEALS) != A_SEALS)
		fail("memfd a: seals %#x, not %#x", fcntl(a, F_GET_SEALS), A_SEALS);
	if (pwrite(a, "x", 1, 0) != -1 || errno != EPERM)
		fail("memfd a: a write despite F_SEAL_WRITE");
	if (ftruncate(a, 100) != -1 || errno != EPERM)
		fail("memfd a: shrunk despite F_SEAL_SHRINK");
	if (mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0) != MAP_FAILED)
		fail("memfd a: mapped writable despite F_SEAL_WRITE");

	/* b1 and b3 share a description; b2 is another of the same memfd. */
	expect_pos(b1, 100);
	expect_pos(b2, 0);
	if (fcntl(b1, F_GETFD) != FD_CLOEXEC || fcntl(b2, F_GETFD) != 0)
		fail("memfd b: fd flags");
	expect_flags(b2, flb);
	if (lseek(b3, 200, SEEK_SET) != 200)
		fail("memfd b: lseek: %s", strerror(errno));
	expect_pos(b1, 200);
	check(b1, 0, 10000, 0, "memfd b");
	if (write(b2, "Z", 1) != 1)	/* O_APPEND: at 10000 */
		fail("memfd b: write: %s", strerror(errno));
	if (pread(b1, &c, 1, 10000) != 1 || c != 'Z')
		fail("memfd b: a write through one fd is not seen through another");
	if (fcntl(b1, F_GET_SEALS) != F_SEAL_SEAL)
		fail("memfd b: seals %#x, not F_SEAL_SEAL", fcntl(b1, F_GET_SEALS));
	return 0;
}

/* ----------------------------------------------------------- deleted */

#define D_SIZE	10000

static int do_deleted(const char *path)
{
	char want[PATH_MAX + 16], c;
	int w, r, flw, flr;
	struct stat st;

	w = open(path, O_CREAT | O_EXCL | O_RDWR, 0640);
	if (w < 0 || fchmod(w, 0640) || put(w, 0, D_SIZE) || lseek(w, 3000, SEEK_SET) != 3000) {
		fail("setup: %s: %s", path, strerror(errno));
		return 2;
	}
	r = open(path, O_RDONLY | O_CLOEXEC);
	if (r < 0 || lseek(r, 7000, SEEK_SET) != 7000 || unlink(path)) {
		fail("setup: %s: %s", path, strerror(errno));
		return 2;
	}
	flw = fcntl(w, F_GETFL);
	flr = fcntl(r, F_GETFL);
	wait_go();

	snprintf(want, sizeof(want), "%s (deleted)", path);
	expect_link(w, want);
	expect_link(r, want);
	if (fstat(w, &st) || st.st_nlink != 0 || st.st_size != D_SIZE ||
	    (st.st_mode & 07777) != 0640)
		fail("deleted: nlink %lu size %lld mode %o", (unsigned long)st.st_nlink,
		     (long long)st.st_size, st.st_mode & 07777);
	if (!access(path, F_OK) || errno != ENOENT)
		fail("deleted: %s exists", path);
	check(r, 0, D_SIZE, 0, "deleted");
	expect_pos(w, 3000);
	expect_pos(r, 7000);
	expect_flags(w, flw);
	expect_flags(r, flr);
	if (write(w, "Q", 1) != 1)
		fail("deleted: write: %s", strerror(errno));
	if (pread(r, &c, 1, 3000) != 1 || c != 'Q')
		fail("deleted: a write through one fd is not seen through the other");
	return 0;
}

/* ------------------------------------------------------------- paths */

#define NFILES	40
#define FIRST	12	/* entries read before the checkpoint */

struct ent {
	char name[64];
};

/* The next directory entry of @fd (one getdents64 entry at a time). */
static int next_ent(int fd, char *name, size_t size)
{
	char buf[128] __attribute__((aligned(8)));
	struct dirent64 *d = (struct dirent64 *)buf;
	long n;

	/* Room for one entry of a short name: reads exactly one. */
	n = syscall(SYS_getdents64, fd, buf, 40);
	if (n <= 0)
		return n;
	snprintf(name, size, "%.63s", d->d_name);
	return 1;
}

static int do_paths(const char *dir)
{
	static struct ent all[NFILES + 4];
	char p[PATH_MAX], name[64];
	int pd, pl, d, i, n = 0, fl;
	struct stat st, want;
	DIR *ds;
	struct dirent *e;

	for (i = 0; i < NFILES; i++) {
		snprintf(p, sizeof(p), "%s/file-%02d", dir, i);
		fl = open(p, O_CREAT | O_WRONLY, 0644);
		if (fl < 0) {
			fail("setup: %s: %s", p, strerror(errno));
			return 2;
		}
		close(fl);
	}
	snprintf(p, sizeof(p), "%s/link", dir);
	if (symlink("file-00", p)) {
		fail("setup: symlink: %s", strerror(errno));
		return 2;
	}
	pd = open(dir, O_PATH | O_DIRECTORY);
	pl = open(p, O_PATH | O_NOFOLLOW);
	if (pd < 0 || pl < 0) {
		fail("setup: O_PATH: %s", strerror(errno));
		return 2;
	}

	/* The order a fresh read gives, then the same directory read halfway. */
	ds = opendir(dir);
	while (ds && (e = readdir(ds)) && n < NFILES + 4)
		snprintf(all[n++].name, sizeof(all[0].name), "%.63s", e->d_name);
	if (ds)
		closedir(ds);
	d = open(dir, O_RDONLY | O_DIRECTORY);
	if (d < 0) {
		fail("setup: %s: %s", dir, strerror(errno));
		return 2;
	}
	for (i = 0; i < FIRST; i++) {
		if (next_ent(d, name, sizeof(name)) != 1 || strcmp(name, all[i].name)) {
			fail("setup: entry %d is not %s", i, all[i].name);
			return 2;
		}
	}
	wait_go();

	if (fstat(pd, &st) || stat(dir, &want) || st.st_ino != want.st_ino)
		fail("O_PATH dir: not the directory");
	if (fstatat(pl, "", &st, AT_EMPTY_PATH) || lstat(p, &want) ||
	    st.st_ino != want.st_ino || !S_ISLNK(st.st_mode))
		fail("O_PATH link: not the symbolic link");
	if (!(fcntl(pd, F_GETFL) & O_PATH) || !(fcntl(pl, F_GETFL) & O_PATH) ||
	    !(fcntl(pl, F_GETFL) & O_NOFOLLOW))
		fail("O_PATH: flags %#o %#o", fcntl(pd, F_GETFL), fcntl(pl, F_GETFL));
	snprintf(p, sizeof(p), "%s", dir);
	expect_link(pd, p);
	if (read(pd, name, 1) != -1 || errno != EBADF)
		fail("O_PATH dir: read did not fail with EBADF");

	for (i = FIRST; i < n; i++) {
		int r = next_ent(d, name, sizeof(name));

		if (r != 1) {
			fail("directory: entry %d: %s", i, r ? strerror(errno) : "end");
			return 0;
		}
		if (strcmp(name, all[i].name)) {
			fail("directory: entry %d is %s, not %s", i, name, all[i].name);
			return 0;
		}
	}
	if (next_ent(d, name, sizeof(name)) != 0)
		fail("directory: no end after %d entries", n);
	return 0;
}

/* -------------------------------------------------------------- fork */

static int do_fork(void)
{
	int m, r, pfd[2], status;
	char p[64], c;
	pid_t kid;

	m = memfd_create("family", 0);
	if (m < 0 || put(m, 0, 5000) || lseek(m, 1234, SEEK_SET) != 1234 || pipe(pfd)) {
		fail("setup: %s", strerror(errno));
		return 2;
	}
	kid = fork();
	if (kid < 0)
		return 2;
	if (kid == 0) {
		close(pfd[0]);
		snprintf(p, sizeof(p), "/proc/self/fd/%d", m);
		r = open(p, O_RDWR);
		if (r < 0 || lseek(r, 77, SEEK_SET) != 77)
			_exit(2);
		close(pfd[1]);	/* ready */
		while (!go)
			usleep(10000);
		expect_link(m, "/memfd:family (deleted)");
		expect_link(r, "/memfd:family (deleted)");
		expect_pos(m, 1234);
		expect_pos(r, 77);
		check(r, 0, 5000, 0, "child: memfd");
		if (pwrite(r, "K", 1, 6000) != 1)
			fail("child: write: %s", strerror(errno));
		/* The shared description: the parent sees this offset. */
		if (lseek(m, 4321, SEEK_SET) != 4321)
			fail("child: lseek: %s", strerror(errno));
		_exit(failures ? 1 : 0);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 0) {
		fail("setup: child");
		return 2;
	}
	close(pfd[0]);
	wait_go();

	if (kill(kid, SIGUSR1) || waitpid(kid, &status, 0) != kid) {
		fail("child %d: %s", kid, strerror(errno));
		return 0;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("child: status %#x", status);
	expect_pos(m, 4321);
	if (pread(m, &c, 1, 6000) != 1 || c != 'K')
		fail("parent: the child's write is not in the memfd");
	check(m, 0, 5000, 0, "parent: memfd");
	return 0;
}

/* --------------------------------------------------------------- big */

static int do_big(const char *path)
{
	static char buf[1 << 20];
	int fd, i;

	memset(buf, 'b', sizeof(buf));
	fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0 || unlink(path)) {
		fail("setup: %s: %s", path, strerror(errno));
		return 2;
	}
	for (i = 0; i < 65; i++) {
		if (write(fd, buf, sizeof(buf)) != sizeof(buf)) {
			fail("setup: write: %s", strerror(errno));
			return 2;
		}
	}
	say("FD %d\n", fd);
	for (i = 0;; i++) {
		say("%d\n", i);
		nap(100000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL))
		return 2;
	if (argc == 2 && !strcmp(argv[1], "memfd"))
		r = do_memfd();
	else if (argc == 3 && !strcmp(argv[1], "deleted"))
		r = do_deleted(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "paths"))
		r = do_paths(argv[2]);
	else if (argc == 2 && !strcmp(argv[1], "fork"))
		r = do_fork();
	else if (argc == 3 && !strcmp(argv[1], "big"))
		r = do_big(argv[2]);
	else {
		say("usage: memfd memfd | deleted PATH | paths DIR | fork | big PATH\n");
		return 2;
	}
	if (r)
		return r;
	if (failures)
		return 1;
	say("OK\n");
	return 0;
}
