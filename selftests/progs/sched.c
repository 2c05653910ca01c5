// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr scheduling and sleep tests.  Takes on the scheduling
 * state its arguments name, then, once a tick, prints that state as it
 * reads it back and sleeps with clock_nanosleep(): relative (CLOCK_MONOTONIC)
 * on even ticks, absolute on odd ones.  No signal handler is installed,
 * so a sleep that does not return 0 (EINTR after a restart) is a bug:
 * it prints "BAD sleep ..." and exits 1.
 *
 * Output: "STATE policy P prio R nice N reset R cpus C" once set up, then
 * per tick the same line after "tick N ".
 *
 * Usage: sched POLICY NICE PRIO CPU RESET SLEEP_MS
 *	POLICY: normal, batch, idle, fifo or rr; PRIO its real-time priority
 *	(0 for the others); CPU: the only CPU to run on, or -1 for all;
 *	RESET: 1 for SCHED_RESET_ON_FORK.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "prog.h"

static void state(char *buf, size_t size)
{
	struct sched_param sp;
	cpu_set_t set;
	int pol = sched_getscheduler(0), reset = !!(pol & SCHED_RESET_ON_FORK);
	size_t n;
	int c;

	sched_getparam(0, &sp);
	errno = 0;
	n = snprintf(buf, size, "policy %d prio %d nice %d reset %d cpus",
		     pol & ~SCHED_RESET_ON_FORK, sp.sched_priority,
		     getpriority(PRIO_PROCESS, 0), reset);
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (c = 0; c < CPU_SETSIZE && n < size; c++)
		if (CPU_ISSET(c, &set))
			n += snprintf(buf + n, size - n, " %d", c);
}

int main(int argc, char **argv)
{
	static const struct { const char *name; int policy; } pols[] = {
		{ "normal", SCHED_OTHER }, { "batch", SCHED_BATCH },
		{ "idle", SCHED_IDLE }, { "fifo", SCHED_FIFO }, { "rr", SCHED_RR },
	};
	struct sched_param sp = { 0 };
	struct timespec ts, now;
	char buf[SAY_MAX - 64];
	int policy = -1, cpu, r;
	unsigned long i, ms;
	size_t k;

	if (argc != 7)
		return 2;
	for (k = 0; k < sizeof(pols) / sizeof(pols[0]); k++)
		if (!strcmp(argv[1], pols[k].name))
			policy = pols[k].policy;
	sp.sched_priority = atoi(argv[3]);
	cpu = atoi(argv[4]);
	ms = strtoul(argv[6], NULL, 0);
	if (policy < 0 || setpriority(PRIO_PROCESS, 0, atoi(argv[2])))
		return 2;
	if (atoi(argv[5]))
		policy |= SCHED_RESET_ON_FORK;
	if (sched_setscheduler(0, policy, &sp)) {
		say("FAIL sched_setscheduler: %s\n", strerror(errno));
		return 2;
	}
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			say("FAIL sched_setaffinity: %s\n", strerror(errno));
			return 2;
		}
	}
	state(buf, sizeof(buf));
	say("STATE %s\n", buf);
	for (i = 1;; i++) {
		state(buf, sizeof(buf));
		say("tick %lu %s\n", i, buf);
		if (i % 2) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			ts.tv_sec = now.tv_sec + (now.tv_nsec + ms * 1000000) / 1000000000;
			ts.tv_nsec = (now.tv_nsec + ms * 1000000) % 1000000000;
			r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		} else {
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (ms % 1000) * 1000000;
			r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		}
		if (r) {
			say("BAD sleep %s returned %s\n", i % 2 ? "absolute" : "relative",
			    strerror(r));
			return 1;
		}
	}
}
