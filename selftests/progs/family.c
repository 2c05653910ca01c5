// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr tree tests: a family of five processes that talk through
 * one MAP_SHARED|MAP_ANONYMOUS page.
 *
 *   0 root	    calls setsid(): leads a session and a process group
 *   1 child A	    setpgid(0, 0): leads a process group of its own
 *   2 grandchild   A's child, in A's process group
 *   3 child B	    in the root's process group
 *   4 child C	    calls setsid(): leads a session of its own
 *
 * Every process increments its own slot about every 50 ms, copies the
 * root's slot into its echo (so a write of the root must be seen by each
 * child) and writes its pid, ppid, pgid and sid into the page.  The root
 * prints one line every 100 ms:
 *
 *   T <tick> <slot 0..4> <echo 1..4> <pid ppid pgid sid of 0..4>
 *
 * On SIGUSR1 the root sets the stop flag, reaps its children (A reaps the
 * grandchild first), prints "reaped <pid> <status in hex>" for each, then
 * "DONE" and exits 0.  Child i exits with 10 + i (A with 99 if the
 * grandchild's status was wrong).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prog.h"

#define NP 5

struct shared {
	volatile long slot[NP];
	volatile long echo[NP];
	volatile int id[NP][4];
	volatile int stop;
};

static struct shared *sh;
static volatile sig_atomic_t usr1;

static void ident(int i)
{
	sh->id[i][0] = getpid();
	sh->id[i][1] = getppid();
	sh->id[i][2] = getpgid(0);
	sh->id[i][3] = getsid(0);
}

static void on_usr1(int sig)
{
	usr1 = 1;
}

/* What every process but the root does until the stop flag. */
static void member(int i)
{
	while (!sh->stop) {
		sh->slot[i]++;
		sh->echo[i] = sh->slot[0];
		ident(i);
		nap(50000);
	}
}

static pid_t spawn(int i, void (*setup)(void), int (*after)(void))
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		if (setup)
			setup();
		ident(i);
		member(i);
		_exit(after ? after() : 10 + i);
	}
	return pid;
}

static pid_t grandchild;

static void own_group(void)
{
	if (setpgid(0, 0))
		perror("setpgid");
}

static void own_session(void)
{
	if (setsid() < 0)
		perror("setsid");
}

/* A: makes the grandchild in its group, and reaps it at the end. */
static void child_a(void)
{
	own_group();
	grandchild = spawn(2, NULL, NULL);
}

static int reap_grandchild(void)
{
	int status;

	while (waitpid(grandchild, &status, 0) < 0) {
		if (errno != EINTR)
			return 98;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 12 ? 11 : 99;
}

int main(void)
{
	pid_t kids[3];
	long tick = 0;
	int i, status;

	if (setsid() < 0) {
		perror("setsid");
		return 2;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	signal(SIGUSR1, on_usr1);
	ident(0);
	kids[0] = spawn(1, child_a, reap_grandchild);
	kids[1] = spawn(3, NULL, NULL);
	kids[2] = spawn(4, own_session, NULL);

	while (!usr1) {
		sh->slot[0]++;
		ident(0);
		say("T %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld"
		    " %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n",
		    ++tick, sh->slot[0], sh->slot[1], sh->slot[2], sh->slot[3],
		    sh->slot[4], sh->echo[1], sh->echo[2], sh->echo[3], sh->echo[4],
		    sh->id[0][0], sh->id[0][1], sh->id[0][2], sh->id[0][3],
		    sh->id[1][0], sh->id[1][1], sh->id[1][2], sh->id[1][3],
		    sh->id[2][0], sh->id[2][1], sh->id[2][2], sh->id[2][3],
		    sh->id[3][0], sh->id[3][1], sh->id[3][2], sh->id[3][3],
		    sh->id[4][0], sh->id[4][1], sh->id[4][2], sh->id[4][3]);
		nap(100000);
	}
	sh->stop = 1;
	for (i = 0; i < 3; i++) {
		while (waitpid(kids[i], &status, 0) < 0) {
			if (errno != EINTR) {
				say("reaped %d error %d\n", kids[i], errno);
				return 1;
			}
		}
		say("reaped %d %#x\n", kids[i], status);
	}
	say("DONE\n");
	return 0;
}
