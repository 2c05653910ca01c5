// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr tree tests: keeps creating and reaping short-lived
 * children, up to 3 at a time.  Child number n increments a counter in a
 * MAP_SHARED|MAP_ANONYMOUS page, sleeps 0-4 ms and exits with n % 100; the
 * parent reaps any child (waitpid(-1)), checks that it is one of its own
 * and that its status is the expected one.  About every 100 ms it prints
 *
 *   F <forked> R <reaped> A <active> S <started> B <bad>
 *
 * where R + A == F and R <= S <= F must always hold, and B counts every
 * surprise, each also reported on a line of its own, "ERR <what>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prog.h"

#define MAX_ACTIVE 3

struct shared {
	long started;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(void)
{
	struct { pid_t pid; int code; } act[MAX_ACTIVE];
	long forked = 0, reaped = 0, bad = 0, started;
	long long last = 0;
	struct shared *sh;
	int nact = 0, i, status;
	pid_t pid;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	for (;;) {
		while (nact < MAX_ACTIVE) {
			pid = fork();
			if (pid < 0) {
				say("ERR fork: %s\n", strerror(errno));
				bad++;
				break;
			}
			forked++;
			if (pid == 0) {
				struct timespec ts = { 0, (forked % 5) * 1000000 };

				__atomic_add_fetch(&sh->started, 1, __ATOMIC_SEQ_CST);
				nanosleep(&ts, NULL);
				_exit(forked % 100);
			}
			act[nact].pid = pid;
			act[nact].code = forked % 100;
			nact++;
		}
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			say("ERR waitpid: %s with %d active\n", strerror(errno), nact);
			bad++;
			nact = 0;
			continue;
		}
		for (i = 0; i < nact && act[i].pid != pid; i++)
			;
		if (i == nact) {
			say("ERR reaped %d, not a child of ours\n", pid);
			bad++;
			continue;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != act[i].code) {
			say("ERR pid %d: status %#x, want exit %d\n", pid, status,
			    act[i].code);
			bad++;
		}
		act[i] = act[--nact];
		reaped++;
		started = __atomic_load_n(&sh->started, __ATOMIC_SEQ_CST);
		if (started < reaped || started > forked) {
			say("ERR started %ld, reaped %ld, forked %ld\n", started,
			    reaped, forked);
			bad++;
		}
		if (now_ms() - last >= 100) {
			last = now_ms();
			say("F %ld R %ld A %d S %ld B %ld\n", forked, reaped,
			    nact, started, bad);
		}
	}
}
