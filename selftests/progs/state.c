// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr_state tests: kinds of process state that a restart used
 * to lose silently, one MODE each.  Every line goes out with one write(2)
 * (say()), so lines of several processes or threads never interleave.
 *
 * Usage: state MODE [ARG]
 *
 * offsets FILE
 *	Opens FILE (created, truncated) read-write at fd 4, makes fd 5 a dup()
 *	of it and forks a child that inherits both: one open file description,
 *	one offset, in two processes.  The parent writes "P%07lu\n" records
 *	(9 bytes, numbered from 1) through fd 4, the child "C%07lu\n" records
 *	through fd 5, every 3 ms, without O_APPEND: no record is overwritten
 *	only as long as the two share their offset.  After each of its writes
 *	the parent checks that fd 4 and fd 5 are at the same offset (read as
 *	fd 4, fd 5, fd 4, until fd 4 did not move meanwhile).  Output:
 *	  OFFSETS <parent pid> <child pid>	first
 *	  T <records> <offset>			parent, every 20 records
 *	  C <records>				child, every 20 records
 *	  BAD offsets fd 4 <pos> fd 5 <pos>	parent, on a difference
 *	  NONBLOCK <0|1>			on SIGUSR2, the parent sets
 *						O_NONBLOCK through fd 4 and
 *						prints whether fd 5 has it
 *	On SIGUSR1 the parent stops the child (SIGUSR1), which prints
 *	"CDONE <records>" and exits 0; the parent reaps it, prints "PDONE
 *	<records> <child's wait status in hex>" and exits 0, or 1 after a BAD
 *	line.
 *
 * pipe
 *	Makes a pipe and forks: the parent's fd 0 becomes the read end
 *	(O_NONBLOCK), the child's fd 2 the write end, and neither keeps any
 *	other fd of it.  The child writes one byte every 50 ms; the parent
 *	prints "PIPE <child pid>", then every 100 ms "T <tick> <bytes read so
 *	far>".
 *
 * vma
 *	Maps 16 GiB MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE and writes to 7 of
 *	its pages, and six 4 MiB anonymous regions 2 MiB aligned inside a
 *	PROT_NONE reservation (PROT_NONE gaps between them, so that no two
 *	merge): one plain, the others with madvise() MADV_DONTFORK,
 *	MADV_WIPEONFORK, MADV_DONTDUMP, MADV_HUGEPAGE and MADV_NOHUGEPAGE; the
 *	first and a middle page of each are written.  It prints
 *	  REGION <name> <start hex> <end hex> <madvise errno, 0 if it worked>
 *	for "noreserve" (the 16 GiB) and each region, then "READY", then every
 *	100 ms "T <tick>" after checking every written page, or "BAD data
 *	<name> <address hex>" once for each page that lost its contents.
 *
 * rseq
 *	glibc registers an rseq area for each thread (at the thread pointer +
 *	__rseq_offset); the kernel writes the current cpu into its cpu_id on
 *	every return to user space after a context switch.  The main thread
 *	and a second one each, over and over, write 0xfffffff0 into their own
 *	area's cpu_id, sleep 2 ms and check that cpu_id was written again and
 *	is the cpu getcpu(2) returns (up to 5 tries, for a migration in
 *	between).  Prints "RSEQ <__rseq_size> <__rseq_offset> <second tid>"
 *	(or "NORSEQ" and exits 0 if glibc registered none), then every 50 ms
 *	"T <tick> <main ok> <main bad> <thread ok> <thread bad>" (counts of
 *	checks), and "BAD rseq tid <tid> cpu_id <hex> getcpu <cpu>" for each
 *	failed check.
 *
 * dumpable
 *	prctl(PR_SET_DUMPABLE, 0), then every 100 ms "T <tick> <dumpable>"
 *	with what PR_GET_DUMPABLE says.
 *
 * creds
 *	A second thread changes its own effective gid to 65534 with the raw
 *	setresgid syscall (which, unlike glibc's setresgid(), changes only the
 *	calling thread's credentials).  Prints "CREDS <tid> <its egid>", then
 *	every 100 ms "T <tick> <main thread's egid> <second thread's egid>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prog.h"

static volatile sig_atomic_t usr1, usr2;

static void on_usr1(int sig)
{
	usr1 = 1;
}

static void on_usr2(int sig)
{
	usr2 = 1;
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn };

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL)) {
		perror("sigaction");
		exit(2);
	}
}

/* ---- offsets ---- */

#define REC_LEN 9

static void put_record(int fd, char tag, unsigned long n)
{
	char rec[REC_LEN + 1];
	ssize_t r;

	snprintf(rec, sizeof(rec), "%c%07lu\n", tag, n);
	r = write(fd, rec, REC_LEN);
	if (r != REC_LEN) {
		say("BAD write %c%lu: %zd (%s)\n", tag, n, r, strerror(errno));
		_exit(4);
	}
}

static int offsets(const char *path)
{
	unsigned long n = 0;
	off_t a, b, c;
	int fd, i, bad = 0, status;
	pid_t child;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || dup2(fd, 4) != 4 || dup2(4, 5) != 5) {
		perror(path);
		return 2;
	}
	if (fd != 4 && fd != 5)
		close(fd);
	handle(SIGUSR1, on_usr1);
	handle(SIGUSR2, on_usr2);
	child = fork();
	if (child < 0) {
		perror("fork");
		return 2;
	}
	if (child == 0) {
		while (!usr1) {
			put_record(5, 'C', ++n);
			if (n % 20 == 0)
				say("C %lu\n", n);
			nap(3000);
		}
		say("CDONE %lu\n", n);
		_exit(0);
	}
	say("OFFSETS %d %d\n", getpid(), child);
	while (!usr1) {
		put_record(4, 'P', ++n);
		/* The child may write between two lseek()s: until it did not. */
		for (i = 0; i < 100; i++) {
			a = lseek(4, 0, SEEK_CUR);
			b = lseek(5, 0, SEEK_CUR);
			c = lseek(4, 0, SEEK_CUR);
			if (a == c)
				break;
		}
		if (a == c && a != b) {
			say("BAD offsets fd 4 %lld fd 5 %lld\n", (long long)a,
			    (long long)b);
			bad = 1;
		}
		if (n % 20 == 0)
			say("T %lu %lld\n", n, (long long)c);
		if (usr2) {
			usr2 = 0;
			if (fcntl(4, F_SETFL, fcntl(4, F_GETFL) | O_NONBLOCK))
				say("BAD fcntl: %s\n", strerror(errno));
			say("NONBLOCK %d\n", !!(fcntl(5, F_GETFL) & O_NONBLOCK));
		}
		nap(3000);
	}
	kill(child, SIGUSR1);
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR) {
			say("BAD waitpid: %s\n", strerror(errno));
			return 1;
		}
	}
	say("PDONE %lu %#x\n", n, status);
	return bad;
}

/* ---- pipe ---- */

static int pipe_mode(void)
{
	long tick = 0, got = 0;
	char buf[256];
	ssize_t r;
	pid_t child;
	int p[2];

	if (pipe(p)) {
		perror("pipe");
		return 2;
	}
	child = fork();
	if (child < 0) {
		perror("fork");
		return 2;
	}
	if (child == 0) {
		if (dup2(p[1], 2) != 2)
			_exit(2);
		close(p[0]);
		close(p[1]);
		for (;;) {
			if (write(2, "x", 1) != 1)
				_exit(3);
			nap(50000);
		}
	}
	if (dup2(p[0], 0) != 0) {
		perror("dup2");
		return 2;
	}
	close(p[0]);
	close(p[1]);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	say("PIPE %d\n", child);
	for (;;) {
		while ((r = read(0, buf, sizeof(buf))) > 0)
			got += r;
		say("T %ld %ld\n", ++tick, got);
		nap(100000);
	}
}

/* ---- vma ---- */

#define BIG		(16UL << 30)
#define VMA_MAXPAGES	7
#define REG		(4UL << 20)
#define ALIGN		(2UL << 20)
#define NREG		6

struct region {
	const char *name;
	int advice;		/* -1: none */
	char *start;
	unsigned long len;
	int err;
};

static unsigned char vma_byte(int r, unsigned long off)
{
	return (off * 2654435761UL) >> 13 ^ r * 37 ^ 0x5a;
}

/* The page offsets written in @rg (those checked later). */
static int vma_pages(const struct region *rg, unsigned long *off)
{
	if (rg->len == BIG) {
		/*
		 * Around the 2 MiB and 1 GiB ranges that checkpoint crosses
		 * without a page table (relative to the mapping's start,
		 * which is only page aligned: each page still has empty
		 * tables before and after it).
		 */
		off[0] = 0;
		off[1] = (2UL << 20) + 3 * 4096;
		off[2] = (1UL << 30) - 4096;
		off[3] = (1UL << 30) + (2UL << 20);
		off[4] = 4UL << 30;
		off[5] = 8UL << 30;
		off[6] = BIG - 4096;
		return 7;
	}
	off[0] = 0;
	off[1] = rg->len / 2;
	return 2;
}

static void vma_fill(int r, struct region *rg)
{
	unsigned long off[VMA_MAXPAGES], i;
	int k, n = vma_pages(rg, off);

	for (k = 0; k < n; k++)
		for (i = 0; i < 4096; i++)
			rg->start[off[k] + i] = vma_byte(r, off[k] + i);
}

/* Whether the pages of @rg are intact; says BAD for each that is not. */
static bool vma_check(int r, const struct region *rg, bool *said)
{
	unsigned long off[VMA_MAXPAGES], i;
	int k, n = vma_pages(rg, off);
	bool ok = true;

	for (k = 0; k < n; k++) {
		for (i = 0; i < 4096; i++) {
			if ((unsigned char)rg->start[off[k] + i] != vma_byte(r, off[k] + i))
				break;
		}
		if (i < 4096) {
			ok = false;
			if (!said[k])
				say("BAD data %s %#lx\n", rg->name,
				    (unsigned long)rg->start + off[k]);
			said[k] = true;
		}
	}
	return ok;
}

static int vma(void)
{
	struct region rg[NREG + 1] = {
		{ "noreserve", -1 },
		{ "plain", -1 },
		{ "dontfork", MADV_DONTFORK },
		{ "wipeonfork", MADV_WIPEONFORK },
		{ "dontdump", MADV_DONTDUMP },
		{ "hugepage", MADV_HUGEPAGE },
		{ "nohugepage", MADV_NOHUGEPAGE },
	};
	bool said[NREG + 1][VMA_MAXPAGES] = { 0 };
	unsigned long base;
	long tick = 0;
	char *res;
	int i;

	rg[0].len = BIG;
	rg[0].start = mmap(NULL, BIG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (rg[0].start == MAP_FAILED) {
		perror("mmap 16 GiB");
		return 2;
	}
	/* Room for the regions with a 2 MiB gap before, between and after. */
	res = mmap(NULL, NREG * (REG + ALIGN) + 2 * ALIGN, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED) {
		perror("mmap reservation");
		return 2;
	}
	base = ((unsigned long)res + ALIGN - 1) & ~(ALIGN - 1);
	for (i = 1; i <= NREG; i++) {
		rg[i].len = REG;
		rg[i].start = mmap((void *)(base + ALIGN + (i - 1) * (REG + ALIGN)),
				   REG, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (rg[i].start == MAP_FAILED) {
			perror("mmap region");
			return 2;
		}
		if (rg[i].advice >= 0 && madvise(rg[i].start, REG, rg[i].advice))
			rg[i].err = errno;
	}
	for (i = 0; i <= NREG; i++) {
		vma_fill(i, &rg[i]);
		say("REGION %s %#lx %#lx %d\n", rg[i].name,
		    (unsigned long)rg[i].start,
		    (unsigned long)rg[i].start + rg[i].len, rg[i].err);
	}
	say("READY\n");
	for (;;) {
		for (i = 0; i <= NREG; i++)
			vma_check(i, &rg[i], said[i]);
		say("T %ld\n", ++tick);
		nap(100000);
	}
}

/* ---- rseq ---- */

#define SENTINEL	0xfffffff0u

struct rseq_count {
	volatile unsigned long ok, bad;
};

static struct rseq_count main_count, thread_count;
static volatile pid_t thread_tid;

/* One check of the calling thread's rseq area; true if the kernel updates it. */
static bool rseq_check(void)
{
	struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() +
					  __rseq_offset);
	volatile uint32_t *cpu_id = &rs->cpu_id;
	unsigned int cpu = 0;
	uint32_t v = 0;
	int i;

	for (i = 0; i < 5; i++) {
		*cpu_id = SENTINEL;
		nap(2000);	/* sleeps: the kernel must write cpu_id again */
		v = *cpu_id;
		if (syscall(SYS_getcpu, &cpu, NULL, NULL))
			cpu = -1;
		if (v != SENTINEL && v == cpu)
			return true;
	}
	say("BAD rseq tid %d cpu_id %#x getcpu %u\n", gettid(), v, cpu);
	return false;
}

static void *rseq_thread(void *arg)
{
	thread_tid = gettid();
	for (;;) {
		if (rseq_check())
			thread_count.ok++;
		else
			thread_count.bad++;
		nap(20000);
	}
	return NULL;
}

static int rseq_mode(void)
{
	pthread_t th;
	long tick = 0;

	if (!__rseq_size) {
		say("NORSEQ\n");
		return 0;
	}
	if (pthread_create(&th, NULL, rseq_thread, NULL)) {
		perror("pthread_create");
		return 2;
	}
	while (!thread_tid)
		nap(1000);
	say("RSEQ %u %ld %d\n", __rseq_size, (long)__rseq_offset, thread_tid);
	for (;;) {
		if (rseq_check())
			main_count.ok++;
		else
			main_count.bad++;
		say("T %ld %lu %lu %lu %lu\n", ++tick, main_count.ok,
		    main_count.bad, thread_count.ok, thread_count.bad);
		nap(50000);
	}
}

/* ---- dumpable ---- */

static int dumpable(void)
{
	long tick = 0;

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		perror("PR_SET_DUMPABLE");
		return 2;
	}
	for (;;) {
		say("T %ld %d\n", ++tick, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
		nap(100000);
	}
}

/* ---- creds ---- */

static volatile long thread_egid = -1;

static void *creds_thread(void *arg)
{
	if (syscall(SYS_setresgid, -1, 65534, -1)) {
		say("BAD setresgid: %s\n", strerror(errno));
		_exit(2);
	}
	thread_tid = gettid();
	for (;;) {
		thread_egid = syscall(SYS_getegid);
		nap(20000);
	}
	return NULL;
}

static int creds(void)
{
	pthread_t th;
	long tick = 0;

	if (pthread_create(&th, NULL, creds_thread, NULL)) {
		perror("pthread_create");
		return 2;
	}
	while (thread_egid < 0)
		nap(1000);
	say("CREDS %d %ld\n", thread_tid, thread_egid);
	for (;;) {
		say("T %ld %ld %ld\n", ++tick, (long)syscall(SYS_getegid),
		    thread_egid);
		nap(100000);
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "offsets"))
		return offsets(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "pipe"))
		return pipe_mode();
	if (argc == 2 && !strcmp(argv[1], "vma"))
		return vma();
	if (argc == 2 && !strcmp(argv[1], "rseq"))
		return rseq_mode();
	if (argc == 2 && !strcmp(argv[1], "dumpable"))
		return dumpable();
	if (argc == 2 && !strcmp(argv[1], "creds"))
		return creds();
	fprintf(stderr, "usage: state offsets FILE | pipe | vma | rseq | dumpable | creds\n");
	return 2;
}
