// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr tree test "cow_pages": a parent and two children that
 * still share most of their private memory copy-on-write.
 *
 * The parent fills NPAGES private anonymous pages, page i with a pattern
 * of i, then forks children 1 and 2.  Child k rewrites every page i with
 * i % 4 == k with a pattern of its own, and each of the three rewrites the
 * pages with i % 4 == 3 after the forks: child k still shares the pages
 * with i % 4 in {0, 1, 2} but k (1024 pages) with the parent.  Child 2
 * then makes its mapping read-only: still shared, but no longer the very
 * mapping its fork copied.  Each process prints
 *
 *   R <k> <pid> <address of the pages, hex>
 *
 * when its memory is ready, and on SIGUSR1 checks every word of its pages
 * against what it wrote and prints "V <k> ok" or "V <k> bad page <i>".
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prog.h"

#define NPAGES	2048
#define PAGE	4096
#define WORDS	(PAGE / 8)

static uint64_t *mem;
static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
	usr1 = 1;
}

/* The word @w of page @i as process @k (0: the parent) left it. */
static uint64_t pattern(int k, int i, int w)
{
	uint64_t tag = i % 4 == 3 ? 0xcafe + k : k && i % 4 == k ? 0xc0de + k : 0xf00d;

	return tag << 48 | (uint64_t)i << 16 | (uint64_t)w;
}

/* Writes process @k's pattern into pages i % 4 == @which (all if -1). */
static void fill(int k, int which)
{
	int i, w;

	for (i = 0; i < NPAGES; i++)
		if (which < 0 || i % 4 == which)
			for (w = 0; w < WORDS; w++)
				mem[i * WORDS + w] = pattern(k, i, w);
}

static void run(int k)
{
	int i, w;

	say("R %d %d %lx\n", k, getpid(), (unsigned long)mem);
	for (;;) {
		nap(10000);
		if (!usr1)
			continue;
		usr1 = 0;
		for (i = 0; i < NPAGES; i++)
			for (w = 0; w < WORDS; w++)
				if (mem[i * WORDS + w] != pattern(k, i, w))
					goto bad;
		say("V %d ok\n", k);
		continue;
bad:
		say("V %d bad page %d\n", k, i);
	}
}

int main(void)
{
	int k;

	signal(SIGUSR1, on_usr1);
	mem = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	fill(0, -1);
	for (k = 1; k <= 2; k++) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (pid == 0) {
			fill(k, k);
			fill(k, 3);
			/* Child 2's mapping no longer is the parent's. */
			if (k == 2 && mprotect(mem, NPAGES * PAGE, PROT_READ))
				return 1;
			run(k);
		}
	}
	fill(0, 3);
	run(0);
	return 0;
}
