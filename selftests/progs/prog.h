/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the programs in progs/ that the cr selftests checkpoint.
 * Each program is built on its own, statically; this is all they share.
 */
#ifndef CR_PROG_H
#define CR_PROG_H

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define SAY_MAX	512	/* say() cuts a longer line to SAY_MAX - 1 bytes */

static inline void vsay_fd(int fd, const char *fmt, va_list ap)
{
	char buf[SAY_MAX];
	int n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (write(fd, buf, n) != n)
		_exit(3);
}

/*
 * Prints one line (truncated to SAY_MAX - 1 bytes) to @fd with a single
 * write(2), without stdio: so that lines of several processes or threads
 * on one pipe never interleave.  Exits 3 if the line cannot be written.
 */
static inline void __attribute__((format(printf, 2, 3)))
say_fd(int fd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay_fd(fd, fmt, ap);
	va_end(ap);
}

/* say_fd() to stdout. */
static inline void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay_fd(1, fmt, ap);
	va_end(ap);
}

/* Sleeps @us microseconds; a signal just ends the sleep early. */
static inline void nap(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

#endif /* CR_PROG_H */
