// SPDX-License-Identifier: GPL-2.0
/*
 * Register fidelity: every general-purpose register of every thread comes
 * back from a restart bit for bit, wherever the checkpoint caught it.
 *
 * The target, progs/gpregs.c, keeps a distinct 64-bit pattern in each of
 * the 16 GPRs (rsp included) of each thread in a tight loop without system
 * calls, and checks them all on every iteration; between chunks of the
 * loop it prints "tick <thread> <chunk>" and sleeps.  It catches a wrong
 * register itself: it prints "BAD <reg> want 0x... got 0x..." and exits 1.
 * The patterns are chosen so that a register cut to its low 32 bits,
 * zero- or sign-extended, differs from its expected value.
 *
 * Each test checkpoints (--kill) the running program at many moments: a
 * random delay of 0 to GP_MAX_DELAY_MS after every thread has ticked (the
 * seed is logged; CR_FIDELITY_SEED=N repeats a run's delays), restarts it
 * from its image, waits until every thread of the restored copy has ticked
 * (run on from where it was, checking), and checkpoints that copy in turn:
 * GP_CYCLES times (CR_FIDELITY_CYCLES), more if no checkpoint has yet caught
 * a thread in the hot loop, where every register holds a pattern.  Each
 * image says where each thread was ("crctl info": rip, in a system call
 * or not); the moments are counted and logged, and at least one must be in
 * the hot loop.  Each thread's ticks must follow one another, no chunk
 * lost or run twice, across every restart; in the end the test closes the
 * program's stdin, and it must print DONE and exit 0.
 *
 * gpregs_single is one thread (crctl's exec-style restore, asked for with
 * --new-pid: by default crctl would restore it as a tree of one, to keep
 * its pid); gpregs_threads is four (crctl's tree restore, the kernel's JOIN
 * path).  The program's
 * threads spin: they run at nice 10 so that crctl and the test are not
 * starved on the VM's two CPUs.
 *
 * The VM the tests run in is emulated (TCG), 10-30 times slower than
 * native: every wait has a generous timeout and nothing waits forever.
 * Whatever a test started is killed in the fixture teardown.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300	/* s: one whole test; each takes 20-40 s in the VM */
#define GP_CYCLES	12	/* default of CR_FIDELITY_CYCLES */
#define GP_MAX_CYCLES	(2 * GP_CYCLES)	/* until one caught the hot loop */
#define GP_MAX_DELAY_MS	300
#define GP_MAX_THREADS	8
/*
 * CHUNKS 0: it runs until its stdin ends.  A chunk of 100000 iterations
 * takes some 10-20 ms in the VM and the sleep after it 2 ms, so most
 * checkpoints find the threads in the hot loop and some in a system call.
 */
#define GP_ITERS	"100000"
#define GP_SLEEP_US	"2000"
#define GP_NICE		10

FIXTURE(fidelity) {
	struct cr_env env;
};

FIXTURE_SETUP(fidelity)
{
	cr_env_setup(_metadata, &self->env, "cr_fidelity");
}

FIXTURE_TEARDOWN(fidelity)
{
	cr_env_teardown(&self->env);
}

/* What the test knows of a gpregs run, over all its restored copies. */
struct gp {
	int threads;
	unsigned long loop_lo, loop_hi;	/* the hot loop, [lo, hi) */
	long chunk[GP_MAX_THREADS];	/* each thread's last tick */
	long ticks;
	bool done;
	/* Threads the images found in the hot loop, in a system call, or elsewhere. */
	int in_loop, in_syscall, elsewhere;
};

/* Reads what is left of @p's output after a BAD line and fails with it all. */
static void gp_bad(struct __test_metadata *_metadata, struct proc *p,
		   const char *first)
{
	char line[512], how[64];

	TH_LOG("%s (pid %d): %s", p->name, p->pid, first);
	while (read_line(&p->out, line, sizeof(line), LINE_TIMEOUT) == 1)
		TH_LOG("%s (pid %d): %s", p->name, p->pid, line);
	if (reap(p, LINE_TIMEOUT))
		TH_LOG("%s (pid %d): %s", p->name, p->pid,
		       describe(p->status, how, sizeof(how)));
	show_stderr(_metadata, p);
	ASSERT_TRUE(0) TH_LOG("a register came back wrong: %s", first);
}

#define GP_TICK	1
#define GP_DONE	2

/*
 * One line of gpregs: a tick (each thread's chunks one after the other, no
 * chunk lost or run twice), DONE, or a BAD line, which fails the test.
 */
static int gp_line(struct __test_metadata *_metadata, struct gp *g,
		   struct proc *p, const char *line)
{
	long chunk;
	int t;

	if (!strncmp(line, "BAD", 3))
		gp_bad(_metadata, p, line);
	if (!strcmp(line, "DONE")) {
		ASSERT_FALSE(g->done) TH_LOG("%s: DONE twice", p->name);
		g->done = true;
		return GP_DONE;
	}
	ASSERT_EQ(2, sscanf(line, "tick %d %ld", &t, &chunk)) {
		TH_LOG("%s (pid %d): unexpected \"%s\"", p->name, p->pid, line);
	}
	ASSERT_TRUE(t >= 0 && t < g->threads) TH_LOG("%s: \"%s\"", p->name, line);
	ASSERT_EQ(g->chunk[t] + 1, chunk) {
		TH_LOG("%s (pid %d): thread %d ticks chunk %ld after chunk %ld",
		       p->name, p->pid, t, chunk, g->chunk[t]);
	}
	ASSERT_FALSE(g->done) TH_LOG("%s: a tick after DONE", p->name);
	g->chunk[t] = chunk;
	g->ticks++;
	return GP_TICK;
}

/* Reads @p's lines until one is a tick (within @timeout ms each). */
static void gp_until_tick(struct __test_metadata *_metadata, struct gp *g,
			  struct proc *p, int timeout)
{
	char line[512];

	do {
		next_line(_metadata, p, line, sizeof(line), timeout);
		ASSERT_STRNE("START", line) TH_LOG("%s started over", p->name);
	} while (gp_line(_metadata, g, p, line) != GP_TICK);
}

/*
 * Reads @p's lines until every thread has ticked once more: each has run
 * on from where it was (a thread that finds a wrong register prints BAD
 * and ends the program before its tick).
 */
static void gp_every_thread_ticks(struct __test_metadata *_metadata,
				  struct gp *g, struct proc *p)
{
	long was[GP_MAX_THREADS];
	int k;

	memcpy(was, g->chunk, sizeof(was));
	for (k = 0; k < g->threads; k++) {
		while (g->chunk[k] == was[k])
			gp_until_tick(_metadata, g, p, START_TIMEOUT);
	}
}

/* Reads @p's lines for @ms ms; it must go on ticking all along. */
static void gp_for(struct __test_metadata *_metadata, struct gp *g,
		   struct proc *p, int ms)
{
	long long end = now_ms() + ms, left;
	char line[512];
	int r;

	while ((left = end - now_ms()) > 0) {
		r = read_line(&p->out, line, sizeof(line), left);
		if (r == -ETIMEDOUT)
			break;
		if (r != 1) {
			show_stderr(_metadata, p);
			ASSERT_EQ(1, r) {
				TH_LOG("%s (pid %d): %s", p->name, p->pid,
				       r ? strerror(-r) : "end of output");
			}
		}
		ASSERT_EQ(GP_TICK, gp_line(_metadata, g, p, line));
	}
}

/* Reads @p's lines to the end of its output. */
static void gp_to_eof(struct __test_metadata *_metadata, struct gp *g,
		      struct proc *p, int timeout)
{
	char line[512];
	int r;

	while ((r = read_line(&p->out, line, sizeof(line), timeout)) == 1)
		gp_line(_metadata, g, p, line);
	if (r) {
		show_stderr(_metadata, p);
		ASSERT_EQ(0, r) TH_LOG("%s (pid %d): %s", p->name, p->pid, strerror(-r));
	}
}

/*
 * Where "crctl info --json @image" says each thread was: the hot loop,
 * another place in user space, or a system call (REGS_IN_SYSCALL in the
 * flags of its regs record).  Counts them in @g, describes them in @what,
 * and waits until every task of the image is gone, so that a tree restore
 * finds their pids free.
 */
#define REGS_IN_SYSCALL	1

static void gp_where(struct __test_metadata *_metadata, struct cr_env *env,
		     struct gp *g, const char *image, char *what, size_t size)
{
	int n = 0, tasks = 0, loop = 0, sys = 0, other = 0, k, v;
	pid_t pids[GP_MAX_THREADS];
	uint64_t rip, flags, pid;
	struct json j;

	crctl_info(_metadata, env, image, &j);
	v = json_find(&j, -1, "tree");
	for (v = v >= 0 ? j.v[v].child : -1; v >= 0; v = j.v[v].next) {
		if (!json_num(&j, v, "pid", &pid))
			continue;
		ASSERT_GT(GP_MAX_THREADS, tasks) {
			TH_LOG("crctl info %s: more than %d tasks", image, GP_MAX_THREADS);
			json_free(&j);
		}
		pids[tasks++] = pid;
	}
	for (v = json_find(&j, -1, "regs"); v >= 0; v = json_find(&j, v, "regs")) {
		if (!json_num(&j, v, "rip", &rip))
			continue;
		n++;
		if (json_num(&j, v, "flags", &flags) && (flags & REGS_IN_SYSCALL))
			sys++;
		else if (rip >= g->loop_lo && rip < g->loop_hi)
			loop++;
		else
			other++;
	}
	json_free(&j);
	ASSERT_EQ(g->threads, tasks) TH_LOG("crctl info %s: %d tasks", image, tasks);
	ASSERT_EQ(g->threads, n) TH_LOG("crctl info %s: %d regs records", image, n);
	g->in_loop += loop;
	g->in_syscall += sys;
	g->elsewhere += other;
	snprintf(what, size, "%d in the hot loop, %d in a system call, %d elsewhere",
		 loop, sys, other);
	for (k = 0; k < tasks; k++) {
		ASSERT_TRUE(wait_gone(pids[k], START_TIMEOUT)) {
			TH_LOG("pid %d still there after checkpoint --kill (state %c)",
			       pids[k], proc_state(pids[k]));
		}
	}
}

/*
 * Every thread of @pid at nice 10: on the VM's two CPUs the spinning
 * threads would otherwise starve crctl and the test (a restored task has
 * crctl's nice, so this is done again after every restart).
 */
static void gp_renice(pid_t pid)
{
	pid_t tids[GP_MAX_THREADS];
	int n, k;

	n = task_ids(pid, tids, GP_MAX_THREADS);
	for (k = 0; k < n; k++)
		setpriority(PRIO_PROCESS, tids[k], GP_NICE);
}

/* A small generator of its own, so that a seed gives the same delays anywhere. */
static unsigned int gp_rand(unsigned int *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void gp_cycles(struct __test_metadata *_metadata, struct cr_env *env,
		      int threads)
{
	int cycles = GP_CYCLES, c, delay, k;
	long long t0 = now_ms(), t1, t2, t3;
	struct proc *cur, *copy;
	char img[PATH_MAX], line[512], nt[16], what[128];
	unsigned int seed, s;
	const char *e;
	struct gp g;
	pid_t root;

	ASSERT_GE(GP_MAX_THREADS, threads);
	memset(&g, 0, sizeof(g));
	g.threads = threads;
	e = getenv("CR_FIDELITY_CYCLES");
	if (e && atoi(e) > 0)
		cycles = atoi(e);
	e = getenv("CR_FIDELITY_SEED");
	seed = e ? strtoul(e, NULL, 0) : (unsigned int)(now_ms() ^ getpid());
	s = seed ? seed : 1;
	TH_LOG("seed %u (CR_FIDELITY_SEED=%u gives the same delays)", seed, seed);

	snprintf(nt, sizeof(nt), "%d", threads);
	cur = start_prog(_metadata, env, "gpregs", nt, "0", GP_ITERS,
			 GP_SLEEP_US, NULL);
	root = cur->pid;
	next_line(_metadata, cur, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(3, sscanf(line, "START %d %lx %lx", &k, &g.loop_lo, &g.loop_hi))
		TH_LOG("%s", line);
	ASSERT_EQ(threads, k);
	ASSERT_LT(g.loop_lo, g.loop_hi);
	gp_every_thread_ticks(_metadata, &g, cur);
	gp_renice(root);

	for (c = 0; c < cycles || (!g.in_loop && c < GP_MAX_CYCLES); c++) {
		delay = gp_rand(&s) % (GP_MAX_DELAY_MS + 1);
		gp_for(_metadata, &g, cur, delay);
		tmp_path(env, img, "gpregs.img");
		t1 = now_ms();
		if (threads == 1) {
			checkpoint_ex(_metadata, env, root, img, NO_RETRY);
			/* The original, or a copy: crctl became the program. */
			expect_sigkill(_metadata, cur);
		} else {
			checkpoint(_metadata, env, root, img);
			if (c == 0)
				expect_sigkill(_metadata, cur);
			else	/* crctl restart, the launcher, exits as its root did */
				expect_exit(_metadata, cur, 128 + SIGKILL);
		}
		t2 = now_ms();
		gp_to_eof(_metadata, &g, cur, LINE_TIMEOUT);
		ASSERT_FALSE(g.done) TH_LOG("gpregs ended before the checkpoint");
		gp_where(_metadata, env, &g, img, what, sizeof(what));

		t3 = now_ms();
		/* One thread: exec-style, the kernel's own restart path. */
		copy = restart(_metadata, env, img, threads == 1 ? NEW_PID : 0);
		forget(env, cur);
		cur = copy;
		if (threads == 1)
			root = cur->pid;
		gp_every_thread_ticks(_metadata, &g, cur);
		gp_renice(root);
		TH_LOG("cycle %d: after %d ms: %s; checkpoint %lld ms, crctl info %lld ms, restart until every thread ticked %lld ms",
		       c + 1, delay, what, t2 - t1, t3 - t2, now_ms() - t3);
	}

	/* Its stdin ends: every thread stops after its chunk. */
	close(cur->in);
	cur->in = -1;
	gp_to_eof(_metadata, &g, cur, START_TIMEOUT);
	ASSERT_TRUE(g.done) TH_LOG("gpregs: no DONE");
	expect_exit(_metadata, cur, 0);
	TH_LOG("figures: gpregs, %d thread%s, %d checkpoints and restarts in %lld s: threads caught %d times in the hot loop, %d in a system call, %d elsewhere; %ld ticks",
	       threads, threads > 1 ? "s" : "", c, (now_ms() - t0) / 1000,
	       g.in_loop, g.in_syscall, g.elsewhere, g.ticks);
	/* Where a register is most exposed: all 16 hold patterns. */
	ASSERT_LT(0, g.in_loop) TH_LOG("no checkpoint caught a thread in the hot loop");
	check_dmesg(_metadata);
}

/*
 * One thread, checkpointed and restored GP_CYCLES times in a row, each time
 * at a random moment: every register, checked on every iteration of its
 * loop, comes back exactly.
 */
TEST_F_TIMEOUT(fidelity, gpregs_single, TEST_TIMEOUT)
{
	gp_cycles(_metadata, &self->env, 1);
}

/* The same with four threads, each with its own patterns. */
TEST_F_TIMEOUT(fidelity, gpregs_threads, TEST_TIMEOUT)
{
	gp_cycles(_metadata, &self->env, 4);
}

TEST_HARNESS_MAIN
