// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr tree tests: a parent with two unreaped children (one
 * exited with status 7, one killed by SIGTERM) and one live child.
 *
 * Once both zombies are there (waitid(WNOWAIT)), the parent prints
 *
 *   ZOMBIES <pid of exit 7> <pid of SIGTERM> LIVE <pid of live child>
 *
 * then "T <tick>" every 100 ms.  On SIGUSR1 it reaps both zombies, then
 * SIGTERMs the live child and reaps it, printing "reaped <pid> <status in
 * hex>" for each ("reaped <pid> error <errno>" if waitpid fails), then
 * "DONE", and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prog.h"

static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
	usr1 = 1;
}

static pid_t child(int how)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid)
		return pid;
	switch (how) {
	case 0:
		_exit(7);
	case 1:
		kill(getpid(), SIGTERM);
		_exit(100);
	default:
		for (;;)
			nap(1000000);
	}
}

static void reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			say("reaped %d error %d\n", pid, errno);
			return;
		}
	}
	say("reaped %d %#x\n", pid, status);
}

int main(void)
{
	pid_t z7, zterm, live;
	siginfo_t si;
	long tick = 0;

	signal(SIGUSR1, on_usr1);
	z7 = child(0);
	zterm = child(1);
	live = child(2);
	if (waitid(P_PID, z7, &si, WEXITED | WNOWAIT) ||
	    waitid(P_PID, zterm, &si, WEXITED | WNOWAIT)) {
		perror("waitid");
		return 2;
	}
	say("ZOMBIES %d %d LIVE %d\n", z7, zterm, live);
	while (!usr1) {
		say("T %ld\n", ++tick);
		nap(100000);
	}
	reap(z7);
	reap(zterm);
	kill(live, SIGTERM);
	reap(live);
	say("DONE\n");
	return 0;
}
