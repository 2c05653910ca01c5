// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr open-files test.
 *
 * RFILE must exist and hold the pattern below (the test writes it); it is
 * opened read-only and close-on-exec, and its first half is read.  AFILE is
 * created (truncated) with O_WRONLY | O_APPEND, and "a" is written to it.
 * Then "READY" is printed and the program waits for SIGUSR1, after which it
 * checks that both descriptors are as it left them: RFILE's offset is where
 * reading stopped and the rest of the file follows, the status and
 * descriptor flags are unchanged, and writing "b" to AFILE appends it.  It
 * prints "OK", or one "FAIL <what>" line per difference, and exits 0 (OK)
 * or 1.
 *
 * It also holds objects of the kinds a file table can hold, each with state
 * in it, and checks them the same way: a stream socketpair with bytes
 * queued in both directions, a memfd with contents and a seal, and an
 * flock() lock on AFILE.  (So the hostile-image tester, which checkpoints
 * this program, mutates their records too.  Not a pipe: restart makes a
 * pipe only from one crctl hands over, and cr_hostile calls the ioctl
 * itself.)
 *
 * The pattern: byte i of RFILE is pattern(i) below, which does not repeat
 * with a short period, so a wrong offset cannot read the right bytes.
 *
 * Usage: files RFILE AFILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prog.h"

static volatile sig_atomic_t go;
static int failures;

static unsigned char pattern(unsigned long i)
{
	return (i * 2654435761UL) >> 13 ^ i >> 8;
}

static void fail(const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("FAIL %s\n", buf);
	failures++;
}

/* Reads @len bytes at the current offset and checks them against the pattern from @off. */
static void check_read(int fd, unsigned long off, unsigned long len, const char *what)
{
	unsigned char buf[4096];
	unsigned long i, done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, buf, len - done < sizeof(buf) ? len - done : sizeof(buf));
		if (n <= 0) {
			fail("%s: read at %lu: %s", what, off + done,
			     n ? strerror(errno) : "early end of file");
			return;
		}
		for (i = 0; i < (unsigned long)n; i++) {
			if (buf[i] != pattern(off + done + i)) {
				fail("%s: wrong byte at offset %lu", what, off + done + i);
				return;
			}
		}
		done += n;
	}
}

/* The objects: socketpair ends, a memfd. */
static int sv[2], mfd;

static void objects_setup(int afd)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ||
	    write(sv[0], "to-1", 4) != 4 || write(sv[1], "to-0!", 5) != 5)
		fail("setup: socketpair: %s", strerror(errno));
	mfd = memfd_create("cr-files", MFD_ALLOW_SEALING);
	if (mfd < 0 || write(mfd, "memfd-contents", 14) != 14 ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_GROW) || lseek(mfd, 6, SEEK_SET) != 6)
		fail("setup: memfd: %s", strerror(errno));
	if (flock(afd, LOCK_EX | LOCK_NB))
		fail("setup: flock: %s", strerror(errno));
}

/* Reads exactly @len bytes from @fd and compares them with @want. */
static void expect_bytes(int fd, const char *want, const char *what)
{
	size_t len = strlen(want);
	char buf[64];
	ssize_t n;

	n = read(fd, buf, len);
	if (n != (ssize_t)len || memcmp(buf, want, len))
		fail("%s: read %zd bytes, not \"%s\"", what, n, want);
}

static void objects_check(const char *apath)
{
	char buf[16];
	int fd;

	expect_bytes(sv[1], "to-1", "socketpair end 1");
	expect_bytes(sv[0], "to-0!", "socketpair end 0");
	if (write(sv[0], "y", 1) != 1 || read(sv[1], buf, 1) != 1 || buf[0] != 'y')
		fail("socketpair: its ends are not connected any more");

	if (lseek(mfd, 0, SEEK_CUR) != 6)
		fail("memfd offset is not 6");
	expect_bytes(mfd, "contents", "memfd");
	if (fcntl(mfd, F_GET_SEALS) != F_SEAL_GROW)
		fail("memfd seals are %#x, not F_SEAL_GROW", fcntl(mfd, F_GET_SEALS));

	/* Another open file description of AFILE cannot take the lock. */
	fd = open(apath, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_SH | LOCK_NB) != -1 || errno != EWOULDBLOCK)
		fail("append file: the flock() lock is not held");
	if (fd >= 0)
		close(fd);
}

static void on_usr1(int sig)
{
	go = 1;
}

int main(int argc, char **argv)
{
	unsigned long size, half;
	struct sigaction sa;
	char buf[16];
	struct stat st;
	int rfd, afd, fd, fl;
	off_t pos;
	ssize_t n;

	if (argc != 3) {
		say("usage: files RFILE AFILE\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL))
		return 2;

	rfd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (rfd < 0 || fstat(rfd, &st)) {
		fail("setup: %s: %s", argv[1], strerror(errno));
		return 2;
	}
	size = st.st_size;
	half = size / 2;
	check_read(rfd, 0, half, "first half");
	afd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0644);
	if (afd < 0 || write(afd, "a", 1) != 1) {
		fail("setup: %s: %s", argv[2], strerror(errno));
		return 2;
	}
	objects_setup(afd);
	if (failures)
		return 2;
	say("READY\n");

	while (!go)
		usleep(10000);

	pos = lseek(rfd, 0, SEEK_CUR);
	if (pos != (off_t)half)
		fail("read offset is %lld, not %lu", (long long)pos, half);
	else
		check_read(rfd, half, size - half, "second half");
	n = read(rfd, buf, sizeof(buf));
	if (n != 0)
		fail("no end of file after %lu bytes (read gave %zd)", size, n);

	fl = fcntl(rfd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDONLY || (fl & O_APPEND))
		fail("read file status flags are %#x", fl);
	fl = fcntl(rfd, F_GETFD);
	if (fl != FD_CLOEXEC)
		fail("read file descriptor flags are %#x, not FD_CLOEXEC", fl);
	fl = fcntl(afd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_WRONLY || !(fl & O_APPEND))
		fail("append file status flags are %#x", fl);
	fl = fcntl(afd, F_GETFD);
	if (fl != 0)
		fail("append file descriptor flags are %#x, not 0", fl);

	if (write(afd, "b", 1) != 1)
		fail("append: %s", strerror(errno));
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	if (n != 2 || memcmp(buf, "ab", 2))
		fail("append file holds %zd bytes, not \"ab\"", n);
	if (fd >= 0)
		close(fd);
	objects_check(argv[2]);

	if (failures)
		return 1;
	say("OK\n");
	return 0;
}
