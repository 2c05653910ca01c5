// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr tree tests: per-thread state.  The main thread (0) and
 * 4 workers (1-4) each set, and remember, their own
 *
 *   - signal mask: SIGUSR1 (taken only by the main thread, in
 *     sigwaitinfo()) and a different set of other signals each;
 *   - __thread values (a number and a string);
 *   - alternate signal stack: a different size each, SS_AUTODISARM for
 *     thread 2, none at all for thread 3;
 *   - name (comm): "tstate-w<i>" for the workers.
 *
 * Once all are set it prints "READY <tid 0..4>".  On each SIGUSR1 every
 * thread checks all of it: the mask, the __thread values, sigaltstack()'s
 * answer, gettid(), and where a SIGWINCH handler (SA_ONSTACK) runs (on the
 * thread's altstack, or on its normal stack for thread 3); it prints
 *
 *   thread <i> tid <tid> OK		or
 *   thread <i> tid <tid> FAIL <what>
 *
 * and then the main thread prints "DONE <round> <workers that answered>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prog.h"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM	((int)(1U << 31))	/* linux/signal.h */
#endif

#define NT		5	/* threads, the main one included */
#define NO_ALTSTACK	3
#define AUTODISARM	2

struct want {
	sigset_t mask;
	stack_t ss;
	long tls;
	pid_t tid;
};

static struct want want[NT];
static __thread long tls_val;
static __thread char tls_name[16];
static __thread void *volatile handler_at;
static volatile int round_no, answered, ready;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void on_winch(int sig)
{
	handler_at = __builtin_frame_address(0);
}

static void build_mask(int i, sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGRTMIN + 2 + i);
	if (i & 1)
		sigaddset(set, SIGUSR2);
	if (i == 2) {
		sigaddset(set, SIGHUP);
		sigaddset(set, SIGALRM);
	}
	if (i == 0)
		sigaddset(set, SIGQUIT);
	if (i == 4)
		sigaddset(set, SIGRTMAX);
}

/* Sets thread @i's state and remembers it; 0 or an error message. */
static const char *setup(int i)
{
	struct want *w = &want[i];
	size_t size = (64 << 10) + i * 4096;

	build_mask(i, &w->mask);
	if (pthread_sigmask(SIG_SETMASK, &w->mask, NULL))
		return "pthread_sigmask";
	tls_val = 0x5eed0000 + 0x111 * i;
	snprintf(tls_name, sizeof(tls_name), "thread-%d", i);
	w->tls = tls_val;
	w->tid = gettid();
	if (i == NO_ALTSTACK) {
		w->ss.ss_flags = SS_DISABLE;
	} else {
		w->ss.ss_sp = mmap(NULL, size, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (w->ss.ss_sp == MAP_FAILED)
			return "mmap";
		w->ss.ss_size = size;
		w->ss.ss_flags = i == AUTODISARM ? SS_AUTODISARM : 0;
		if (sigaltstack(&w->ss, NULL))
			return "sigaltstack";
	}
	if (i) {
		char name[16];

		snprintf(name, sizeof(name), "tstate-w%d", i);
		if (pthread_setname_np(pthread_self(), name))
			return "pthread_setname_np";
	}
	return NULL;
}

/* Thread @i checks its state and prints the verdict. */
static void check(int i)
{
	struct want *w = &want[i];
	char what[160] = "", name[16];
	sigset_t cur;
	stack_t ss;
	char *at;
	int s;

	snprintf(name, sizeof(name), "thread-%d", i);
	if (pthread_sigmask(SIG_BLOCK, NULL, &cur))
		snprintf(what, sizeof(what), "pthread_sigmask failed");
	for (s = 1; s < NSIG && !what[0]; s++) {
		if (sigismember(&cur, s) != sigismember(&w->mask, s))
			snprintf(what, sizeof(what), "signal %d is %sblocked", s,
				 sigismember(&cur, s) ? "" : "not ");
	}
	if (!what[0] && tls_val != w->tls)
		snprintf(what, sizeof(what), "tls %#lx, want %#lx", tls_val, w->tls);
	if (!what[0] && strcmp(tls_name, name))
		snprintf(what, sizeof(what), "tls name \"%.16s\"", tls_name);
	if (!what[0] && gettid() != w->tid)
		snprintf(what, sizeof(what), "tid %d, was %d", gettid(), w->tid);
	if (!what[0] && sigaltstack(NULL, &ss))
		snprintf(what, sizeof(what), "sigaltstack: %s", strerror(errno));
	if (!what[0] && i == NO_ALTSTACK && !(ss.ss_flags & SS_DISABLE))
		snprintf(what, sizeof(what), "altstack %p+%#zx flags %#x, want none",
			 ss.ss_sp, ss.ss_size, ss.ss_flags);
	if (!what[0] && i != NO_ALTSTACK &&
	    (ss.ss_sp != w->ss.ss_sp || ss.ss_size != w->ss.ss_size ||
	     ss.ss_flags != w->ss.ss_flags))
		snprintf(what, sizeof(what),
			 "altstack %p+%#zx flags %#x, want %p+%#zx flags %#x",
			 ss.ss_sp, ss.ss_size, ss.ss_flags, w->ss.ss_sp,
			 w->ss.ss_size, w->ss.ss_flags);
	if (!what[0]) {
		handler_at = NULL;
		raise(SIGWINCH);	/* this thread: tgkill() */
		at = handler_at;
		for (s = 0; s < NT && !what[0]; s++) {
			char *lo = want[s].ss.ss_sp;
			if (!at) {
				snprintf(what, sizeof(what), "SIGWINCH handler did not run");
			} else if (s == NO_ALTSTACK) {
				continue;
			} else if ((at >= lo && at < lo + want[s].ss.ss_size) != (s == i)) {
				snprintf(what, sizeof(what),
					 "SIGWINCH handler ran at %p (altstack of thread %d: %p+%#zx)",
					 at, s, lo, want[s].ss.ss_size);
			}
		}
	}
	if (what[0])
		say("thread %d tid %d FAIL %s\n", i, gettid(), what);
	else
		say("thread %d tid %d OK\n", i, gettid());
}

static void *worker(void *arg)
{
	int i = (long)arg, seen = 0;
	const char *err = setup(i);

	if (err) {
		say("thread %d setup: %s: %s\n", i, err, strerror(errno));
		exit(2);
	}
	__atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		if (round_no != seen) {
			seen = round_no;
			check(i);
			__atomic_add_fetch(&answered, 1, __ATOMIC_SEQ_CST);
		}
		nap(10000);
	}
	return NULL;
}

int main(void)
{
	struct sigaction sa;
	pthread_t th;
	sigset_t usr1;
	const char *err;
	long i;
	int waited;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_winch;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, NULL);
	err = setup(0);
	if (err) {
		perror(err);
		return 2;
	}
	for (i = 1; i < NT; i++) {
		if (pthread_create(&th, NULL, worker, (void *)i)) {
			fprintf(stderr, "pthread_create failed\n");
			return 2;
		}
	}
	while (ready < NT - 1)
		nap(10000);
	say("READY %d %d %d %d %d\n", want[0].tid, want[1].tid, want[2].tid,
	    want[3].tid, want[4].tid);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	for (;;) {
		if (sigwaitinfo(&usr1, NULL) < 0) {
			if (errno == EINTR)
				continue;
			perror("sigwaitinfo");
			return 2;
		}
		pthread_mutex_lock(&mu);
		answered = 0;
		check(0);
		__atomic_add_fetch(&round_no, 1, __ATOMIC_SEQ_CST);
		for (waited = 0; answered < NT - 1 && waited < 2000; waited++)
			nap(10000);
		say("DONE %d %d\n", round_no, answered);
		pthread_mutex_unlock(&mu);
	}
}
