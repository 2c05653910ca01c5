// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr tree tests: 8 threads, each incrementing its own counter
 * and a shared total under one pthread mutex, sleeping a little between
 * increments (a different time each).  The main thread prints every 100 ms
 *
 *   T <tick> <total> <sum of the 8 counters> <counter 0..7> <tid 0..7>
 *
 * taken under the mutex, so total == sum on every line.  Each thread writes
 * its gettid() on every round.  On SIGUSR1 the main thread stops and joins
 * every thread, prints "JOINED <total> <sum>" and exits 0.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prog.h"

#define NT 8

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long count[NT], total;
static volatile pid_t tids[NT];
static volatile int stop;
static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
	usr1 = 1;
}

static void *worker(void *arg)
{
	long i = (long)arg;

	while (!stop) {
		tids[i] = gettid();
		pthread_mutex_lock(&mu);
		count[i]++;
		total++;
		pthread_mutex_unlock(&mu);
		nap(5000 + 1000 * i);
	}
	return NULL;
}

int main(void)
{
	long c[NT], t, sum, tick = 0;
	pthread_t th[NT];
	sigset_t set;
	long i;

	/* Only the main thread takes SIGUSR1. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < NT; i++) {
		if (pthread_create(&th[i], NULL, worker, (void *)i)) {
			fprintf(stderr, "pthread_create failed\n");
			return 2;
		}
	}
	signal(SIGUSR1, on_usr1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (!usr1) {
		pthread_mutex_lock(&mu);
		memcpy(c, count, sizeof(c));
		t = total;
		pthread_mutex_unlock(&mu);
		for (sum = 0, i = 0; i < NT; i++)
			sum += c[i];
		say("T %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld"
		    " %d %d %d %d %d %d %d %d\n", ++tick, t, sum,
		    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
		    tids[0], tids[1], tids[2], tids[3], tids[4], tids[5],
		    tids[6], tids[7]);
		nap(100000);
	}
	stop = 1;
	for (i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	for (sum = 0, i = 0; i < NT; i++)
		sum += count[i];
	say("JOINED %ld %ld\n", total, sum);
	return 0;
}
