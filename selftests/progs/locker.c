// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr file-locks test (cr_locks.c).
 *
 * Opens FILE (which must exist, at least 200 bytes) three times read-write
 * and takes:
 *   - on the first description: flock(LOCK_EX), and F_SETOWN to itself
 *     and F_SETSIG SIGUSR2;
 *   - POSIX locks of the process: a read lock on bytes 10-19 and a write
 *     lock on 100 to the end of the file (through the second description);
 *   - on the third description: an OFD write lock on bytes 50-59.
 * With "child", it then forks a child that takes a POSIX read lock on
 * bytes 30-39 (its own, through the inherited second description).
 * With "owner", it only makes its parent the owner of a description's
 * signals (F_SETOWN).  With "lease", it only takes a read lease (F_SETLEASE) on a read-only
 * description.  With "wait", it prints "WAITING", waits for a write lock
 * on bytes 0-9 (F_SETLKW), then for flock(LOCK_EX) on another
 * description, prints "GOT" and waits for SIGUSR1.
 * Prints "KID <pid>" in that case, then "READY" (once the child holds its lock too) and waits for
 * SIGUSR1; then checks that the owner and signal of the first
 * description are as it set them, waits for its child (which exits on
 * SIGUSR1 too), and prints "OK" or "FAIL <what>" lines, exiting 0 or 1.
 *
 * Usage: locker FILE [child|lease]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prog.h"

static volatile sig_atomic_t go;
static int failures;

static void on_usr1(int sig)
{
	go = 1;
}

static void die(const char *what)
{
	say("FAIL %s: %s\n", what, strerror(errno));
	exit(1);
}

static void setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = start, .l_len = len };

	if (fcntl(fd, cmd, &fl))
		die("fcntl lock");
}

/*
 * Waits for SIGUSR1, polling the flag its handler sets: the signal mask
 * never changes (sigsuspend()'s temporary mask would make the fidelity
 * check's snapshot depend on whether it was taken before the call or in
 * it), and a signal that comes at any moment is seen within 10 ms.
 */
static void wait_go(void)
{
	while (!go)
		nap(10000);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "";
	struct sigaction sa = { .sa_handler = on_usr1 };
	int a, b, c, status;
	pid_t kid = 0;
	struct f_owner_ex ex;

	if (argc < 2)
		return 2;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGUSR2, SIG_IGN);
	if (!strcmp(mode, "owner")) {
		a = open(argv[1], O_RDWR);
		if (a < 0 || fcntl(a, F_SETOWN, getppid()))
			die("F_SETOWN");
		say("READY\n");
		wait_go();
		say("OK\n");
		return 0;
	}
	if (!strcmp(mode, "lease")) {
		a = open(argv[1], O_RDONLY);
		if (a < 0 || fcntl(a, F_SETLEASE, F_RDLCK))
			die("lease");
		say("READY\n");
		wait_go();
		say("OK\n");
		return 0;
	}
	if (!strcmp(mode, "mapped") || !strcmp(mode, "mapped-ofd")) {
		/* The locked description lives on only in a mapping. */
		void *m;

		a = open(argv[1], O_RDWR);
		if (a < 0)
			die("open");
		if (!strcmp(mode, "mapped")) {
			if (flock(a, LOCK_EX))
				die("flock");
		} else {
			setlk(a, F_OFD_SETLK, F_WRLCK, 0, 10);
		}
		m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, a, 0);
		if (m == MAP_FAILED)
			die("mmap");
		close(a);
		say("READY\n");
		wait_go();
		say("OK\n");
		return 0;
	}
	if (!strcmp(mode, "wait")) {
		a = open(argv[1], O_RDWR);
		b = open(argv[1], O_RDWR);
		if (a < 0 || b < 0)
			die("open");
		say("WAITING\n");
		setlk(a, F_SETLKW, F_WRLCK, 0, 10);
		if (flock(b, LOCK_EX))
			die("flock");
		say("GOT\n");
		wait_go();
		say("OK\n");
		return 0;
	}
	a = open(argv[1], O_RDWR);
	b = open(argv[1], O_RDWR);
	c = open(argv[1], O_RDWR);
	if (a < 0 || b < 0 || c < 0)
		die("open");
	if (flock(a, LOCK_EX | LOCK_NB))
		die("flock");
	if (fcntl(a, F_SETOWN, getpid()) || fcntl(a, F_SETSIG, SIGUSR2))
		die("F_SETOWN");
	setlk(b, F_SETLK, F_RDLCK, 10, 10);
	setlk(b, F_SETLK, F_WRLCK, 100, 0);
	setlk(c, F_OFD_SETLK, F_WRLCK, 50, 10);
	if (!strcmp(mode, "child")) {
		int p[2];
		char x;

		if (pipe(p))
			die("pipe");
		kid = fork();
		if (kid < 0)
			die("fork");
		if (!kid) {
			close(p[0]);
			setlk(b, F_SETLK, F_RDLCK, 30, 10);
			close(p[1]);
			wait_go();
			_exit(0);
		}
		close(p[1]);
		if (read(p[0], &x, 1) != 0)
			die("child");
		close(p[0]);
		say("KID %d\n", kid);
	}
	say("READY\n");
	wait_go();
	if (fcntl(a, F_GETOWN) != getpid()) {
		say("FAIL F_GETOWN %d, not %d\n", fcntl(a, F_GETOWN), getpid());
		failures++;
	}
	if (fcntl(a, F_GETOWN_EX, &ex) || ex.type != F_OWNER_PID) {
		say("FAIL F_GETOWN_EX type %d\n", ex.type);
		failures++;
	}
	if (fcntl(a, F_GETSIG) != SIGUSR2) {
		say("FAIL F_GETSIG %d\n", fcntl(a, F_GETSIG));
		failures++;
	}
	if (kid) {
		if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			say("FAIL child %#x\n", status);
			failures++;
		}
	}
	if (!failures)
		say("OK\n");
	return failures ? 1 : 0;
}
