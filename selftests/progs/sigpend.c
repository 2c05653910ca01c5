// SPDX-License-Identifier: GPL-2.0
/*
 * Target of cr_signals: a process with signals pending, all blocked.
 *
 * The main thread blocks SIGUSR1, SIGUSR2, SIGCHLD and SIGRTMIN+1..3
 * (inherited by a second thread), forks a child that exits 5 at once (a
 * zombie whose SIGCHLD stays pending) and queues:
 *
 *   for the process:  SIGUSR1 by kill(), SIGRTMIN+1 by sigqueue() with
 *                     values 101, 102, 103; and the child's SIGCHLD;
 *   for itself:       SIGUSR2 by tgkill(), SIGRTMIN+2 by
 *                     rt_tgsigqueueinfo() with values 201, 202;
 *   for the thread:   SIGUSR1 by tgkill(), SIGRTMIN+3 value 301.
 *
 * It prints "READY <child pid>" and reads a line from stdin.  Then the main
 * thread takes its signals with sigtimedwait() (its own first, in signal
 * order, then the process's; by the rt_sigtimedwait system call, as glibc
 * reports SI_TKILL as SI_USER), SIGRTMIN+1 through an SA_SIGINFO handler as it
 * unblocks it, and the thread its own; each checks signal, si_code, si_pid
 * and si_value (si_status for SIGCHLD), and that nothing else is pending.
 * Any difference prints "BAD <what>"; at the end "OK" if none, and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prog.h"

static int bad;
static pid_t me, kid;
static volatile int thread_go, thread_tid;
static int got_rt1[4], nrt1;
static int rt1_code[4], rt1_pid[4];

#define FAIL(...) do { say("BAD " __VA_ARGS__); bad = 1; } while (0)

static void on_rt1(int sig, siginfo_t *si, void *uc)
{
	if (nrt1 < 4) {
		got_rt1[nrt1] = si->si_value.sival_int;
		rt1_code[nrt1] = si->si_code;
		rt1_pid[nrt1] = si->si_pid;
	}
	nrt1++;
}

static sigset_t all_set(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	sigaddset(&s, SIGCHLD);
	sigaddset(&s, SIGRTMIN + 1);
	sigaddset(&s, SIGRTMIN + 2);
	sigaddset(&s, SIGRTMIN + 3);
	return s;
}

static void queue_tid(pid_t tid, int sig, int value)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = me;
	si.si_uid = getuid();
	si.si_value.sival_int = value;
	if (syscall(SYS_rt_tgsigqueueinfo, me, tid, sig, &si)) {
		perror("rt_tgsigqueueinfo");
		exit(2);
	}
}

/*
 * sigtimedwait() with no wait, by the system call: glibc's wrapper reports
 * SI_TKILL as SI_USER.
 */
static int take(const sigset_t *set, siginfo_t *si)
{
	struct timespec zero = { 0, 0 };

	return syscall(SYS_rt_sigtimedwait, set, si, &zero, _NSIG / 8);
}

/* Takes the next signal of @set at once: it must be @sig, @code, @pid, @value. */
static void expect(const char *who, const sigset_t *set, int sig, int code,
		   pid_t pid, int value)
{
	siginfo_t si;
	int s = take(set, &si);

	if (s != sig) {
		FAIL("%s: got signal %d (%s), want %d\n", who, s,
		     s < 0 ? strerror(errno) : "", sig);
		return;
	}
	if (si.si_code != code || si.si_pid != pid)
		FAIL("%s: signal %d code %d pid %d, want code %d pid %d\n",
		     who, sig, si.si_code, si.si_pid, code, pid);
	if (sig == SIGCHLD && si.si_status != value)
		FAIL("%s: SIGCHLD status %d, want %d\n", who, si.si_status, value);
	if (sig != SIGCHLD && code == SI_QUEUE && si.si_value.sival_int != value)
		FAIL("%s: signal %d value %d, want %d\n", who, sig,
		     si.si_value.sival_int, value);
}

static void expect_none(const char *who, const sigset_t *set)
{
	siginfo_t si;
	int s = take(set, &si);

	if (s >= 0)
		FAIL("%s: unexpected signal %d code %d\n", who, s, si.si_code);
}

static void *thread(void *arg)
{
	sigset_t set = all_set();

	thread_tid = gettid();
	while (!thread_go)
		nap(10000);
	expect("thread", &set, SIGUSR1, SI_TKILL, me, 0);
	expect("thread", &set, SIGRTMIN + 3, SI_QUEUE, me, 301);
	expect_none("thread", &set);
	return NULL;
}

int main(void)
{
	sigset_t set = all_set(), rt1;
	struct sigaction sa;
	pthread_t th;
	char line[64];
	int status;

	me = getpid();
	sigprocmask(SIG_BLOCK, &set, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_rt1;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	if (pthread_create(&th, NULL, thread, NULL)) {
		perror("pthread_create");
		return 2;
	}
	while (!thread_tid)
		nap(1000);
	kid = fork();
	if (kid < 0) {
		perror("fork");
		return 2;
	}
	if (!kid)
		_exit(5);
	/* The zombie is there and its SIGCHLD pending. */
	for (;;) {
		sigset_t p;
		siginfo_t si = { 0 };

		sigpending(&p);
		if (sigismember(&p, SIGCHLD) &&
		    !waitid(P_PID, kid, &si, WEXITED | WNOWAIT | WNOHANG) && si.si_pid == kid)
			break;
		nap(1000);
	}
	kill(me, SIGUSR1);
	for (int v = 101; v <= 103; v++)
		sigqueue(me, SIGRTMIN + 1, (union sigval){ .sival_int = v });
	syscall(SYS_tgkill, me, gettid(), SIGUSR2);
	queue_tid(gettid(), SIGRTMIN + 2, 201);
	queue_tid(gettid(), SIGRTMIN + 2, 202);
	syscall(SYS_tgkill, me, thread_tid, SIGUSR1);
	queue_tid(thread_tid, SIGRTMIN + 3, 301);
	say("READY %d\n", kid);
	if (!fgets(line, sizeof(line), stdin)) {
		say("BAD no go line\n");
		return 1;
	}
	/* Not SIGRTMIN+1: the handler takes those. */
	sigdelset(&set, SIGRTMIN + 1);
	expect("main", &set, SIGUSR2, SI_TKILL, me, 0);
	expect("main", &set, SIGRTMIN + 2, SI_QUEUE, me, 201);
	expect("main", &set, SIGRTMIN + 2, SI_QUEUE, me, 202);
	expect("main", &set, SIGUSR1, SI_USER, me, 0);
	expect("main", &set, SIGCHLD, CLD_EXITED, kid, 5);
	sigemptyset(&rt1);
	sigaddset(&rt1, SIGRTMIN + 1);
	sigprocmask(SIG_UNBLOCK, &rt1, NULL);
	if (nrt1 != 3)
		FAIL("SIGRTMIN+1 handled %d times, want 3\n", nrt1);
	for (int i = 0; i < 3 && i < nrt1; i++)
		if (got_rt1[i] != 101 + i || rt1_code[i] != SI_QUEUE || rt1_pid[i] != me)
			FAIL("SIGRTMIN+1 #%d: value %d code %d pid %d\n", i,
			     got_rt1[i], rt1_code[i], rt1_pid[i]);
	thread_go = 1;
	pthread_join(th, NULL);
	sigaddset(&set, SIGRTMIN + 1);
	expect_none("main", &set);
	if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status) || WEXITSTATUS(status) != 5)
		FAIL("child %d not reaped with status 5\n", kid);
	if (!bad)
		say("OK\n");
	return bad;
}
