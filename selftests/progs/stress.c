// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr stress test: N threads (default 64), each owning P pages
 * (default 16) of one shared anonymous mapping, which it rewrites over and
 * over.  Round g of thread t fills its pages with words that are a function
 * of (t, g, index) only; before writing round g + 1 the thread checks that
 * every word still holds round g.  A word that does not is memory lost or
 * mixed up by a checkpoint or restart: the thread prints
 *
 *   CORRUPT <thread> <round> <word index> <found> <expected>
 *
 * and the process exits 1.
 *
 * The main thread prints "READY <threads> <pages>" once every thread ran a
 * round.  On SIGUSR1 it asks every thread to stop at its next round
 * boundary, waits for all of them, checks every word of every thread, and
 * prints
 *
 *   HASH <fnv-1a 64 of all pages and rounds> <sum of rounds>
 *
 * and stays stopped (answering further SIGUSR1s the same way) until
 * SIGUSR2, which lets the threads go on and prints "GO <sum of rounds>"
 * once every thread has left its stop.
 * So a checkpoint taken between HASH and GO must restore a process whose
 * HASH is the same, and whose threads then go on from there.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prog.h"

#define MAX_THREADS 256
#define WORDS_PER_PAGE (4096 / sizeof(uint64_t))

static int nthreads, npages;
static uint64_t *mem;
static volatile uint64_t rounds[MAX_THREADS];
static volatile int hold;		/* threads: stop at the next boundary */
static int held;			/* how many did (atomic) */
static volatile sig_atomic_t want_hash, want_go;

static uint64_t word(uint64_t t, uint64_t g, uint64_t i)
{
	uint64_t x = (t << 48) ^ (g << 20) ^ i;

	/* splitmix64's finaliser: every bit depends on t, g and i. */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t *region(int t)
{
	return mem + (size_t)t * npages * WORDS_PER_PAGE;
}

/* Checks thread @t's pages against round @g; exits on a mismatch. */
static void verify(int t, uint64_t g)
{
	size_t i, n = (size_t)npages * WORDS_PER_PAGE;
	uint64_t *r = region(t);

	for (i = 0; i < n; i++) {
		if (r[i] != word(t, g, i)) {
			say("CORRUPT %d %llu %zu %#llx %#llx\n", t,
			    (unsigned long long)g, i,
			    (unsigned long long)r[i],
			    (unsigned long long)word(t, g, i));
			exit(1);
		}
	}
}

static void *worker(void *arg)
{
	size_t i, n = (size_t)npages * WORDS_PER_PAGE;
	int t = (int)(long)arg;
	uint64_t *r = region(t);
	uint64_t g;

	for (;;) {
		if (hold) {
			__atomic_add_fetch(&held, 1, __ATOMIC_SEQ_CST);
			while (hold)
				nap(2000);
			__atomic_sub_fetch(&held, 1, __ATOMIC_SEQ_CST);
		}
		g = rounds[t];
		verify(t, g);
		for (i = 0; i < n; i++)
			r[i] = word(t, g + 1, i);
		rounds[t] = g + 1;
		nap(5000 + 37 * t);
	}
	return NULL;
}

static uint64_t sum_rounds(void)
{
	uint64_t s = 0;
	int t;

	for (t = 0; t < nthreads; t++)
		s += rounds[t];
	return s;
}

/* With every thread held: checks all pages and prints their hash. */
static void hash(void)
{
	size_t i, n = (size_t)nthreads * npages * WORDS_PER_PAGE;
	const unsigned char *b;
	uint64_t h = 0xcbf29ce484222325ULL;
	int t;

	for (t = 0; t < nthreads; t++)
		verify(t, rounds[t]);
	b = (const unsigned char *)mem;
	for (i = 0; i < n * sizeof(uint64_t); i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	b = (const unsigned char *)rounds;
	for (i = 0; i < nthreads * sizeof(rounds[0]); i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	say("HASH %016llx %llu\n", (unsigned long long)h,
	    (unsigned long long)sum_rounds());
}

static void on_usr1(int sig)
{
	want_hash = 1;
}

static void on_usr2(int sig)
{
	want_go = 1;
}

int main(int argc, char **argv)
{
	pthread_attr_t attr;
	pthread_t th;
	int t;

	nthreads = argc > 1 ? atoi(argv[1]) : 64;
	npages = argc > 2 ? atoi(argv[2]) : 16;
	if (nthreads < 1 || nthreads > MAX_THREADS || npages < 1)
		return 2;
	mem = mmap(NULL, (size_t)nthreads * npages * 4096,
		   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 2;
	for (t = 0; t < nthreads; t++) {
		size_t i, n = (size_t)npages * WORDS_PER_PAGE;

		for (i = 0; i < n; i++)
			region(t)[i] = word(t, 0, i);
	}
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (t = 0; t < nthreads; t++) {
		if (pthread_create(&th, &attr, worker, (void *)(long)t))
			return 2;
	}
	for (t = 0; t < nthreads; t++) {
		while (!rounds[t])
			nap(1000);
	}
	say("READY %d %d\n", nthreads, npages);

	for (;;) {
		if (want_hash) {
			want_hash = 0;
			hold = 1;
			while (__atomic_load_n(&held, __ATOMIC_SEQ_CST) < nthreads)
				nap(1000);
			hash();
		}
		if (want_go) {
			want_go = 0;
			hold = 0;
			/* So that the next HASH counts a fresh hold of each. */
			while (__atomic_load_n(&held, __ATOMIC_SEQ_CST))
				nap(1000);
			say("GO %llu\n", (unsigned long long)sum_rounds());
		}
		nap(5000);
	}
}
