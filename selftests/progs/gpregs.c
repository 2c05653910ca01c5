// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr register fidelity tests (x86_64): every general-purpose
 * register must come back from a restart bit for bit.
 *
 * Each thread runs chunks of a loop (gp_chunk(), one asm block) that keeps
 * a distinct 64-bit pattern in each of the 16 GPRs, rax, rbx, rcx, rdx,
 * rsi, rdi, rbp, rsp and r8-r15, rsp included (the real one is saved in
 * thread-local memory, and no stack is used while rsp holds a pattern).
 * Every iteration compares each register with its expected value in a
 * thread-local table (addressed through fs, as no register is free), then
 * rotates each register and its expected value left by one bit, and counts
 * the iteration in memory: no system call, no stack, no other memory.
 * Every pattern, at every rotation, has an upper half that is neither zero
 * nor the sign extension of its lower half, so a register cut to 32 bits
 * (zero- or sign-extended) is caught as well as any other change.  The
 * patterns differ between registers and between threads.  rsp's is not
 * even a canonical address: nothing uses it as one.
 *
 * After each chunk the thread leaves the loop, restores rsp, prints a tick
 * and sleeps SLEEP_US, so a checkpoint finds the thread either in the hot
 * loop (user mode, every register holding its pattern) or, now and then,
 * in a system call.  On a mismatch it prints one BAD line for the register
 * it caught and one for every other register that differs, and exits 1.
 * A register changed between its check and its rotation is caught rotated
 * once more than the change: a cut of 0x08badf00d1234000 to 32 bits there
 * shows as "want 0x1175be01a2468000 got 0xffffffffa2468001".
 * Thread 0 is the main thread; with CHUNKS 0 it polls stdin during its
 * sleeps and every thread stops after its current chunk once stdin is at
 * end of file (or readable).
 *
 * Output (one write(2) a line, so lines of threads never mix):
 *   "START <threads> <hot loop start> <hot loop end>" (addresses in hex),
 *   "tick <thread> <chunk>" after each chunk of each thread (chunks count
 *   from 1 in each thread),
 *   "BAD <reg> want 0x<expected> got 0x<actual> thread <t> chunk <c>" on a
 *   mismatch (exit status 1),
 *   "DONE" at the end (exit status 0).
 *
 * Usage: gpregs [THREADS [CHUNKS [ITERS [SLEEP_US]]]]
 *	(default 1 50 100000 2000; THREADS 1-64; CHUNKS 0: until stdin ends)
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "prog.h"

#define NREGS		16
#define MAX_THREADS	64

/*
 * The per-thread state gp_chunk() works on.  The asm addresses it as
 * %fs:cr_gp@tpoff + offset, with the offsets below (checked against the
 * struct at compile time).
 */
struct gp_state {
	uint64_t want[NREGS];	/* expected value of each register */
	uint64_t got[NREGS];	/* every register, at a mismatch */
	uint64_t saved_rsp;	/* the real rsp while rsp holds its pattern */
	uint64_t left;		/* iterations left in the chunk */
	uint64_t iters;		/* iterations done, in all chunks */
	uint64_t bad;		/* 1 + index of the register caught */
};

#define OFF_WANT	"0"
#define OFF_GOT		"128"
#define OFF_SAVED_RSP	"256"
#define OFF_LEFT	"264"
#define OFF_ITERS	"272"
#define OFF_BAD		"280"
_Static_assert(offsetof(struct gp_state, got) == 128, "got");
_Static_assert(offsetof(struct gp_state, saved_rsp) == 256, "saved_rsp");
_Static_assert(offsetof(struct gp_state, left) == 264, "left");
_Static_assert(offsetof(struct gp_state, iters) == 272, "iters");
_Static_assert(offsetof(struct gp_state, bad) == 280, "bad");

static __thread struct gp_state gp __asm__("cr_gp") __attribute__((used));

/* In table order: the index of a register is its slot in want[] and got[]. */
static const char *const reg_names[NREGS] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

#define GP_REGS(X) \
	X(rax, 0) X(rbx, 1) X(rcx, 2) X(rdx, 3) X(rsi, 4) X(rdi, 5) \
	X(rbp, 6) X(rsp, 7) X(r8, 8) X(r9, 9) X(r10, 10) X(r11, 11) \
	X(r12, 12) X(r13, 13) X(r14, 14) X(r15, 15)

#define TLS(off)	"%fs:cr_gp@tpoff+(" off ")"
#define WANT(i)		TLS(OFF_WANT "+8*" #i)
#define GOT(i)		TLS(OFF_GOT "+8*" #i)

#define LOAD(r, i)	"\tmovq " WANT(i) ", %" #r "\n"
#define CHECK(r, i)	"\tcmpq " WANT(i) ", %" #r "\n\tjne .Lgp_bad_" #r "\n"
#define ROTATE(r, i)	"\trolq $1, %" #r "\n\trolq $1, " WANT(i) "\n"
#define BAD(r, i)	".Lgp_bad_" #r ":\n\tmovq $1+" #i ", " TLS(OFF_BAD) "\n\tjmp .Lgp_bad\n"
#define STORE(r, i)	"\tmovq %" #r ", " GOT(i) "\n"

/*
 * unsigned long gp_chunk(void): runs gp.left iterations with the patterns
 * of gp.want in the registers.  Returns 0, or 1 + the index of the first
 * register found different from its expected value, with every register
 * as it was then in gp.got.  Only the callee-saved registers are saved
 * (on the real stack, before rsp takes its pattern).
 */
unsigned long gp_chunk(void);
extern const char gp_loop_begin[], gp_loop_end[];

asm(
	"\t.text\n"
	"\t.type gp_chunk, @function\n"
	"gp_chunk:\n"
	"\tpushq %rbx\n"
	"\tpushq %rbp\n"
	"\tpushq %r12\n"
	"\tpushq %r13\n"
	"\tpushq %r14\n"
	"\tpushq %r15\n"
	"\tmovq %rsp, " TLS(OFF_SAVED_RSP) "\n"
	GP_REGS(LOAD)
	/* From here to gp_loop_end no register is free and rsp is a pattern. */
	"gp_loop_begin:\n"
	GP_REGS(CHECK)
	GP_REGS(ROTATE)
	"\tincq " TLS(OFF_ITERS) "\n"
	"\tdecq " TLS(OFF_LEFT) "\n"
	"\tjnz gp_loop_begin\n"
	"gp_loop_end:\n"
	"\tmovq " TLS(OFF_SAVED_RSP) ", %rsp\n"
	"\txorl %eax, %eax\n"
	"\tjmp .Lgp_ret\n"
	GP_REGS(BAD)
	".Lgp_bad:\n"
	GP_REGS(STORE)
	"\tmovq " TLS(OFF_SAVED_RSP) ", %rsp\n"
	"\tmovq " TLS(OFF_BAD) ", %rax\n"
	".Lgp_ret:\n"
	"\tpopq %r15\n"
	"\tpopq %r14\n"
	"\tpopq %r13\n"
	"\tpopq %r12\n"
	"\tpopq %rbp\n"
	"\tpopq %rbx\n"
	"\tret\n"
	"\t.size gp_chunk, .-gp_chunk\n"
);

static unsigned long chunks, iters, sleep_us;
static int nthreads;
static volatile int stop;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Register @i's pattern in thread @t: 0x8badf00d_1234_0000 with the
 * register and thread indices in both halves, bit 31 set in every other
 * register.
 */
static uint64_t pattern(int t, int i)
{
	return 0x8badf00d12340000ULL ^ (uint64_t)i << 36 ^ (uint64_t)t << 52 ^
	       (uint64_t)i << 8 ^ (uint64_t)t << 4 ^ (uint64_t)(i & 1) << 31;
}

/*
 * Whether @v, rotated by any number of bits, keeps an upper half that is
 * neither zero nor the sign extension of its lower half.
 */
static int truncation_visible(uint64_t v)
{
	uint64_t x, ext;
	int k;

	for (k = 0; k < 64; k++) {
		x = k ? v << k | v >> (64 - k) : v;
		ext = (uint64_t)(int64_t)(int32_t)(uint32_t)x;
		if (x >> 32 == 0 || x == ext)
			return 0;
	}
	return 1;
}

/* A mismatch: a BAD line for register @first, then the others; exits 1. */
static void __attribute__((noreturn)) report(int t, unsigned long chunk, int first)
{
	int i;

	pthread_mutex_lock(&report_lock);
	say("BAD %s want %#018llx got %#018llx thread %d chunk %lu\n",
	    reg_names[first], (unsigned long long)gp.want[first],
	    (unsigned long long)gp.got[first], t, chunk);
	for (i = 0; i < NREGS; i++) {
		if (i != first && gp.got[i] != gp.want[i])
			say("BAD %s want %#018llx got %#018llx thread %d chunk %lu\n",
			    reg_names[i], (unsigned long long)gp.want[i],
			    (unsigned long long)gp.got[i], t, chunk);
	}
	_exit(1);
}

/* Sleeps @us; with CHUNKS 0 thread 0 also watches stdin for its end. */
static void pause_after_chunk(int t)
{
	struct timespec ts = { sleep_us / 1000000, (sleep_us % 1000000) * 1000 };
	struct pollfd pfd = { .fd = 0, .events = POLLIN };

	if (chunks || t) {
		nap(sleep_us);
		return;
	}
	/* Readable or hung up: stdin has ended (nothing is ever written). */
	if (ppoll(&pfd, 1, &ts, NULL) > 0)
		stop = 1;
}

static void run(int t)
{
	unsigned long c;
	int i, r;

	for (i = 0; i < NREGS; i++)
		gp.want[i] = pattern(t, i);
	for (c = 1; chunks ? c <= chunks : !stop; c++) {
		gp.left = iters;
		r = gp_chunk();
		if (r)
			report(t, c, r - 1);
		say("tick %d %lu\n", t, c);
		pause_after_chunk(t);
	}
	if (gp.iters != (c - 1) * iters) {
		say("BAD count want %lu got %llu thread %d chunk %lu\n",
		    (c - 1) * iters, (unsigned long long)gp.iters, t, c - 1);
		_exit(1);
	}
}

static void *worker(void *arg)
{
	run((int)(long)arg);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	int t, i;

	nthreads = argc > 1 ? atoi(argv[1]) : 1;
	chunks = argc > 2 ? strtoul(argv[2], NULL, 0) : 50;
	iters = argc > 3 ? strtoul(argv[3], NULL, 0) : 100000;
	sleep_us = argc > 4 ? strtoul(argv[4], NULL, 0) : 2000;
	if (nthreads < 1 || nthreads > MAX_THREADS || !iters ||
	    sleep_us >= 1000000) {
		say_fd(2, "usage: gpregs [THREADS [CHUNKS [ITERS [SLEEP_US]]]]\n");
		return 2;
	}
	for (t = 0; t < nthreads; t++) {
		for (i = 0; i < NREGS; i++) {
			if (!truncation_visible(pattern(t, i))) {
				say_fd(2, "pattern of %s in thread %d is no good\n",
				       reg_names[i], t);
				return 2;
			}
		}
	}

	say("START %d %#lx %#lx\n", nthreads, (unsigned long)gp_loop_begin,
	    (unsigned long)gp_loop_end);
	for (t = 1; t < nthreads; t++) {
		if (pthread_create(&th[t], NULL, worker, (void *)(long)t)) {
			say_fd(2, "pthread_create failed\n");
			return 2;
		}
	}
	run(0);
	for (t = 1; t < nthreads; t++)
		pthread_join(th[t], NULL);
	say("DONE\n");
	return 0;
}
