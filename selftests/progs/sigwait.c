// SPDX-License-Identifier: GPL-2.0
/*
 * Target of cr_signals: a thread asleep in a signal wait at checkpoint time.
 * SIGUSR1 is blocked (with a handler); argv[1] says how it waits:
 *
 *   wait      sigwaitinfo({SIGUSR1})
 *   timed     sigtimedwait({SIGUSR1}, 60 s)
 *   timeout   sigtimedwait({SIGUSR1}, argv[2] ms): nobody sends it
 *   suspend   sigsuspend({}): the handler runs, then the mask is back
 *   pause     SIGUSR1 unblocked, pause(): the handler runs
 *
 * It prints "READY" just before it waits, then what the wait gave:
 * "GOT <signal> code <si_code>", "EAGAIN" (the timeout), "HANDLED" (suspend,
 * pause; for suspend "HANDLED mask ok" if SIGUSR1 is blocked again), or
 * "ERR <errno>" (a spurious EINTR would say "ERR 4"), and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prog.h"

static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	handled = 1;
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "wait";
	struct sigaction sa;
	sigset_t set, empty, now;
	siginfo_t si;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigemptyset(&empty);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	say("READY\n");
	if (!strcmp(how, "wait") || !strcmp(how, "timed") || !strcmp(how, "timeout")) {
		long ms = !strcmp(how, "timeout") && argc > 2 ? atol(argv[2]) : 60000;
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

		r = !strcmp(how, "wait") ? sigwaitinfo(&set, &si) : sigtimedwait(&set, &si, &ts);
		if (r > 0)
			say("GOT %d code %d\n", r, si.si_code);
		else if (errno == EAGAIN)
			say("EAGAIN\n");
		else
			say("ERR %d\n", errno);
		return 0;
	}
	if (!strcmp(how, "suspend")) {
		r = sigsuspend(&empty);
		sigprocmask(SIG_BLOCK, NULL, &now);
		if (r == -1 && errno == EINTR && handled)
			say("HANDLED mask %s\n", sigismember(&now, SIGUSR1) ? "ok" : "lost");
		else
			say("ERR %d\n", errno);
		return 0;
	}
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	r = pause();
	say(handled ? "HANDLED\n" : "ERR %d\n", errno);
	return 0;
}
