// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr_stop tests: a parent and its child, the child with
 * THREADS threads that each add to a counter in memory the two share.
 * The test stops and continues the child with signals; the parent counts
 * the SIGCHLD notifications it gets (CLD_STOPPED, CLD_CONTINUED) and
 * answers one command a line on stdin:
 *   n  "NOTE <stopped> <continued>": the notifications so far
 *   w  "WAIT stopped <sig>" / "WAIT continued" / "WAIT none": one
 *      waitpid(child, WUNTRACED | WCONTINUED | WNOHANG)
 *   t  "TICK <n>": the child's counter
 * It prints "CHILD <pid>" first.
 *
 * Usage: stopper [THREADS]	(default 2)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "prog.h"

static volatile sig_atomic_t nstopped, ncontinued;
static volatile unsigned long *counter;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code == CLD_STOPPED)
		nstopped++;
	else if (si->si_code == CLD_CONTINUED)
		ncontinued++;
}

static void *spin(void *arg)
{
	(void)arg;
	for (;;) {
		__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
		usleep(10000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 2;
	struct sigaction sa;
	char line[64];
	pthread_t th;
	pid_t child;
	int i, st;

	counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counter == MAP_FAILED)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	child = fork();
	if (child < 0)
		return 2;
	if (child == 0) {
		for (i = 1; i < threads; i++)
			if (pthread_create(&th, NULL, spin, NULL))
				_exit(2);
		spin(NULL);
	}
	say("CHILD %d\n", child);
	while (fgets(line, sizeof(line), stdin)) {
		switch (line[0]) {
		case 'n':
			say("NOTE %d %d\n", (int)nstopped, (int)ncontinued);
			break;
		case 't':
			say("TICK %lu\n", __atomic_load_n(counter, __ATOMIC_RELAXED));
			break;
		case 'w':
			if (waitpid(child, &st, WUNTRACED | WCONTINUED | WNOHANG) != child)
				say("WAIT none\n");
			else if (WIFSTOPPED(st))
				say("WAIT stopped %d\n", WSTOPSIG(st));
			else if (WIFCONTINUED(st))
				say("WAIT continued\n");
			else
				say("WAIT ended\n");
			break;
		}
	}
	return 0;
}
