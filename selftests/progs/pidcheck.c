// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr restart pid tests: a program that remembers its own pid,
 * as pid files, lock files and daemons do.  It prints "START <pid>" once,
 * then a tick a line, numbered 1, 2, 3, ..., with the pid it has now and
 * whether that is still the pid it started with:
 *
 *	T <n> <pid> PID same
 *	T <n> <pid> PID changed
 *
 * getpid() is the system call every time (glibc caches nothing), so a
 * restored copy reports the pid it was restored with.
 *
 * Usage: pidcheck [DELAY_US]	(default 20000)
 */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "prog.h"

static pid_t pid_now(void)
{
	return syscall(SYS_getpid);
}

int main(int argc, char **argv)
{
	long delay = argc > 1 ? strtol(argv[1], NULL, 0) : 20000;
	pid_t start = pid_now(), now;
	unsigned long n = 0;

	say("START %d\n", start);
	for (;;) {
		now = pid_now();
		say("T %lu %d PID %s\n", ++n, now, now == start ? "same" : "changed");
		nap(delay);
	}
}
