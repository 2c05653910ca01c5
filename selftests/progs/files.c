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

	if (failures)
		return 1;
	say("OK\n");
	return 0;
}
