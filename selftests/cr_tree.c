// SPDX-License-Identifier: GPL-2.0
/*
 * Checkpoint and restart of whole process trees: every descendant process,
 * every thread and every zombie of the target, shared anonymous memory
 * between them, restored with the original pids.
 *
 * Each test starts a program of progs/ (or busybox) with stdin, stdout and
 * stderr on pipes of its own, checkpoints it with "crctl checkpoint --kill"
 * (which saves the subtree rooted at the target and then SIGKILLs every
 * process of it), waits until every pid of the image is free again, and
 * restarts the image with "crctl restart -i IMG" in a child whose stdout is
 * a new pipe.  For an image of more than one task, crctl is the launcher:
 * it recreates every process and thread under its original pid, the kernel
 * restores them all together, and crctl waits for the restored root (its
 * child) and exits with the root's exit status.  The restored tasks' fds
 * 0-2 that were pipes are crctl's own, so the restored root prints on
 * crctl's stdout.
 *
 * What is checked is content: identical pids, parents (but the root's,
 * which becomes crctl), process groups and sessions; counters in shared
 * memory that go on increasing in every process and are seen by the
 * others; zombies reaped after the restart with their original status;
 * threads that keep their counters, their tids, their signal masks, TLS
 * and alternate signal stacks; a fork-heavy program restored 20 times in a
 * row; and busybox sh running a pipeline of external commands.
 *
 * The test process is a child subreaper: the processes of a tree killed by
 * checkpoint --kill are reparented to it, so that it can reap them and the
 * pids are free for the restart.  Whatever a test started, and every
 * descendant, is killed in the fixture teardown.
 *
 * The VM the tests run in is emulated (TCG), 10-30 times slower than
 * native: every wait has a generous timeout and nothing waits forever.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300	/* s: one whole test */
#define FORK_CYCLES_TIMEOUT 600	/* s: the fork-heavy test's 20 cycles */

FIXTURE(tree) {
	struct cr_env env;
};

FIXTURE_SETUP(tree)
{
	cr_env_setup(_metadata, &self->env, "cr_tree");
}

FIXTURE_TEARDOWN(tree)
{
	cr_env_teardown(&self->env);
}

/* ---- family: five processes sharing an anonymous page ---- */

#define FAM_N		5
#define FAM_ROOT	0
#define FAM_A		1	/* leads a process group */
#define FAM_GRAND	2	/* A's child, in A's group */
#define FAM_B		3
#define FAM_C		4	/* leads a session */

struct fam_line {
	long tick, slot[FAM_N], echo[FAM_N];
	int id[FAM_N][4];	/* pid ppid pgid sid */
};

/* Parses a "T" line of progs/family.c; false if it is not one. */
static bool fam_parse(const char *line, struct fam_line *l)
{
	memset(l, 0, sizeof(*l));
	return sscanf(line, "T %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld"
		      " %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d",
		      &l->tick, &l->slot[0], &l->slot[1], &l->slot[2], &l->slot[3],
		      &l->slot[4], &l->echo[1], &l->echo[2], &l->echo[3], &l->echo[4],
		      &l->id[0][0], &l->id[0][1], &l->id[0][2], &l->id[0][3],
		      &l->id[1][0], &l->id[1][1], &l->id[1][2], &l->id[1][3],
		      &l->id[2][0], &l->id[2][1], &l->id[2][2], &l->id[2][3],
		      &l->id[3][0], &l->id[3][1], &l->id[3][2], &l->id[3][3],
		      &l->id[4][0], &l->id[4][1], &l->id[4][2], &l->id[4][3]) == 30;
}

/* The next line of progs/family.c, which must be a "T" line. */
static void fam_read(struct __test_metadata *_metadata, struct proc *p,
		     struct fam_line *l, int timeout)
{
	char line[512];

	next_line(_metadata, p, line, sizeof(line), timeout);
	ASSERT_TRUE(fam_parse(line, l)) TH_LOG("%s: \"%s\"", p->name, line);
}

/*
 * @l's identities (and /proc's, if @procfs) against @want's: the same
 * pids, parents, groups and sessions, but the root's parent @root_ppid.
 */
static void fam_check_ids(struct __test_metadata *_metadata,
			  const struct fam_line *l, const struct fam_line *want,
			  pid_t root_ppid, bool procfs)
{
	struct ids ids;
	int k;

	for (k = 0; k < FAM_N; k++) {
		int ppid = k == FAM_ROOT ? root_ppid : want->id[k][1];

		EXPECT_EQ(want->id[k][0], l->id[k][0]) TH_LOG("process %d: pid", k);
		EXPECT_EQ(ppid, l->id[k][1]) TH_LOG("process %d (pid %d): ppid", k, l->id[k][0]);
		EXPECT_EQ(want->id[k][2], l->id[k][2]) TH_LOG("process %d (pid %d): pgid", k, l->id[k][0]);
		EXPECT_EQ(want->id[k][3], l->id[k][3]) TH_LOG("process %d (pid %d): sid", k, l->id[k][0]);
		if (!procfs)
			continue;
		ASSERT_TRUE(proc_ids(want->id[k][0], &ids)) {
			TH_LOG("process %d: no pid %d", k, want->id[k][0]);
		}
		EXPECT_EQ(ppid, ids.ppid) TH_LOG("/proc/%d/stat: ppid", want->id[k][0]);
		EXPECT_EQ(want->id[k][2], ids.pgid) TH_LOG("/proc/%d/stat: pgid", want->id[k][0]);
		EXPECT_EQ(want->id[k][3], ids.sid) TH_LOG("/proc/%d/stat: sid", want->id[k][0]);
	}
}

/*
 * A parent, three children and a grandchild, in two sessions and three
 * process groups, exchanging counters through one shared anonymous page,
 * restored with the same pids, parents (but the root's), groups and
 * sessions; every process goes on counting, and what the root writes
 * every child sees (its echo catches up with the root's new counts), what
 * every child writes the root sees.  On SIGUSR1 the restored root reaps
 * its restored children with their exit statuses.
 */
TEST_F_TIMEOUT(tree, family, TEST_TIMEOUT)
{
	struct fam_line before, last, first, l, prev;
	struct proc *orig, *copy;
	char img[PATH_MAX], line[512], want[64];
	struct tentry *e;
	struct tree t;
	int k, lines, r;
	bool done;

	orig = start_prog(_metadata, &self->env, "family", NULL);
	/* Until every process has counted a few times. */
	for (lines = 0;; lines++) {
		ASSERT_GT(200, lines);
		fam_read(_metadata, orig, &before, START_TIMEOUT);
		for (done = true, k = 0; k < FAM_N; k++)
			done &= before.id[k][0] != 0 && before.slot[k] >= 3;
		if (done)
			break;
	}
	/* The shape of the family, as the program and /proc see it. */
	{
		int *id[FAM_N];

		for (k = 0; k < FAM_N; k++)
			id[k] = before.id[k];
		EXPECT_EQ(orig->pid, id[FAM_ROOT][0]);
		EXPECT_EQ(getpid(), id[FAM_ROOT][1]);
		EXPECT_EQ(orig->pid, id[FAM_ROOT][2]);
		EXPECT_EQ(orig->pid, id[FAM_ROOT][3]);
		EXPECT_EQ(orig->pid, id[FAM_A][1]);
		EXPECT_EQ(id[FAM_A][0], id[FAM_A][2]);
		EXPECT_EQ(orig->pid, id[FAM_A][3]);
		EXPECT_EQ(id[FAM_A][0], id[FAM_GRAND][1]);
		EXPECT_EQ(id[FAM_A][0], id[FAM_GRAND][2]);
		EXPECT_EQ(orig->pid, id[FAM_GRAND][3]);
		EXPECT_EQ(orig->pid, id[FAM_B][1]);
		EXPECT_EQ(orig->pid, id[FAM_B][2]);
		EXPECT_EQ(orig->pid, id[FAM_B][3]);
		EXPECT_EQ(orig->pid, id[FAM_C][1]);
		EXPECT_EQ(id[FAM_C][0], id[FAM_C][2]);
		EXPECT_EQ(id[FAM_C][0], id[FAM_C][3]);
	}
	fam_check_ids(_metadata, &before, &before, getpid(), true);

	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "family.img"));
	expect_sigkill(_metadata, orig);
	/* The last line the original printed. */
	last = before;
	while ((r = read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT)) == 1)
		ASSERT_TRUE(fam_parse(line, &last)) TH_LOG("%s", line);
	ASSERT_EQ(0, r);

	/* The image: five processes, as they were. */
	read_tree(_metadata, &self->env, img, &t);
	ASSERT_EQ(FAM_N, t.n);
	for (k = 0; k < FAM_N; k++) {
		e = tree_find(&t, before.id[k][0]);
		ASSERT_NE(NULL, e) TH_LOG("pid %d not in the image", before.id[k][0]);
		EXPECT_STREQ("process", e->kind);
		EXPECT_EQ(e->pid, e->tgid);
		EXPECT_EQ(before.id[k][1], e->ppid);
		EXPECT_EQ(before.id[k][2], e->pgid);
		EXPECT_EQ(before.id[k][3], e->sid);
	}
	EXPECT_EQ(orig->pid, t.e[0].pid) TH_LOG("the root is not the first task");
	tree_gone(_metadata, &t);

	copy = restart(_metadata, &self->env, img, 0);
	fam_read(_metadata, copy, &first, START_TIMEOUT);
	/* It goes on from where it was... */
	EXPECT_EQ(last.tick + 1, first.tick);
	for (k = 0; k < FAM_N; k++)
		EXPECT_LE(last.slot[k], first.slot[k]) TH_LOG("slot %d went back", k);
	fam_check_ids(_metadata, &first, &before, copy->pid, true);
	/* ...and every process counts on, sees the root's counts. */
	prev = first;
	for (lines = 0;; lines++) {
		ASSERT_GT(300, lines) {
			for (k = 0; k < FAM_N; k++)
				TH_LOG("process %d: slot %ld (was %ld), echo %ld (root's was %ld)",
				       k, l.slot[k], first.slot[k], l.echo[k],
				       last.slot[0]);
		}
		fam_read(_metadata, copy, &l, LINE_TIMEOUT);
		ASSERT_EQ(prev.tick + 1, l.tick);
		for (k = 0; k < FAM_N; k++)
			ASSERT_LE(prev.slot[k], l.slot[k]) TH_LOG("slot %d went back", k);
		fam_check_ids(_metadata, &l, &before, copy->pid, false);
		prev = l;
		for (done = true, k = 0; k < FAM_N; k++) {
			done &= l.slot[k] >= first.slot[k] + 5;
			if (k != FAM_ROOT)
				done &= l.echo[k] >= last.slot[0] + 3;
		}
		if (done)
			break;
	}
	fam_check_ids(_metadata, &l, &before, copy->pid, true);
	TH_LOG("restored pids %d %d %d %d %d (root's parent now %d); slots at the checkpoint %ld %ld %ld %ld %ld, now %ld %ld %ld %ld %ld",
	       l.id[0][0], l.id[1][0], l.id[2][0], l.id[3][0], l.id[4][0],
	       l.id[0][1], last.slot[0], last.slot[1], last.slot[2],
	       last.slot[3], last.slot[4], l.slot[0], l.slot[1], l.slot[2],
	       l.slot[3], l.slot[4]);

	/* The restored root reaps its restored children. */
	ASSERT_EQ(0, kill(before.id[FAM_ROOT][0], SIGUSR1));
	snprintf(want, sizeof(want), "reaped %d 0xb00", before.id[FAM_A][0]);
	expect_line_after_ticks(_metadata, copy, want);
	snprintf(want, sizeof(want), "reaped %d 0xd00", before.id[FAM_B][0]);
	next_line(_metadata, copy, line, sizeof(line), LINE_TIMEOUT);
	EXPECT_STREQ(want, line);
	snprintf(want, sizeof(want), "reaped %d 0xe00", before.id[FAM_C][0]);
	next_line(_metadata, copy, line, sizeof(line), LINE_TIMEOUT);
	EXPECT_STREQ(want, line);
	next_line(_metadata, copy, line, sizeof(line), LINE_TIMEOUT);
	EXPECT_STREQ("DONE", line);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

/* ---- cow_pages: pages shared copy-on-write since fork() ---- */

#define COW_N		3
#define COW_PAGES	2048	/* progs/cowmem.c's NPAGES */

/* The page frame of @addr in @pid (/proc/PID/pagemap), 0 if not present. */
static uint64_t pfn_of(pid_t pid, unsigned long addr)
{
	char path[64];
	uint64_t e = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), addr / 4096 * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

/* How many pages of the region child @c shares (same frame) with @parent. */
static int cow_shared(pid_t c, pid_t parent, unsigned long addr)
{
	int i, n = 0;

	for (i = 0; i < COW_PAGES; i++) {
		uint64_t a = pfn_of(c, addr + i * 4096UL);

		n += a && a == pfn_of(parent, addr + i * 4096UL);
	}
	return n;
}

/*
 * A parent and two children that still share half of their private pages
 * since the fork (progs/cowmem.c): the image saves those pages once, in the
 * parent, and says which pages of each child are the parent's (inherited
 * runs); after the restart child 1 shares those pages with the parent
 * again (the same page frames, /proc/PID/pagemap), child 2, whose mapping
 * was made read-only since the fork, gets copies, and every process finds
 * every word of its memory as it left it.
 */
TEST_F_TIMEOUT(tree, cow_pages, TEST_TIMEOUT)
{
	pid_t pid[COW_N] = { 0 };
	unsigned long addr = 0, a;
	uint64_t pages = 0, inherited = 0;
	struct proc *orig, *copy;
	char img[PATH_MAX], line[512];
	bool ok[COW_N] = { false };
	struct json j;
	struct tree t;
	int k, p, i;

	orig = start_prog(_metadata, &self->env, "cowmem", NULL);
	for (i = 0; i < COW_N; i++) {
		next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
		ASSERT_EQ(3, sscanf(line, "R %d %d %lx", &k, &p, &a)) TH_LOG("\"%s\"", line);
		ASSERT_TRUE(k >= 0 && k < COW_N);
		ASSERT_TRUE(!addr || addr == a);
		pid[k] = p;
		addr = a;
	}
	/* Each child shares the pages i % 4 in {0, 1, 2} but its own. */
	for (k = 1; k < COW_N; k++)
		ASSERT_EQ(COW_PAGES / 2, cow_shared(pid[k], pid[0], addr)) TH_LOG("child %d before", k);
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "cow.img"));
	expect_sigkill(_metadata, orig);

	/*
	 * Each child shares 1024 pages of the region with the parent (and
	 * more of libc's data and its stack): saved once, all three copies
	 * of the region would be 6144 pages.
	 */
	crctl_info(_metadata, &self->env, img, &j);
	EXPECT_TRUE(json_num(&j, 0, "pages", &pages));
	EXPECT_TRUE(json_num(&j, 0, "inherited_pages", &inherited));
	json_free(&j);
	TH_LOG("image: %llu pages saved, %llu inherited",
	       (unsigned long long)pages, (unsigned long long)inherited);
	EXPECT_LE(2 * COW_PAGES / 2, inherited);
	EXPECT_GT(COW_PAGES * 2 + COW_PAGES / 2, pages);

	read_tree(_metadata, &self->env, img, &t);
	ASSERT_EQ(COW_N, t.n);
	tree_gone(_metadata, &t);
	copy = restart(_metadata, &self->env, img, 0);
	for (k = 0; k < COW_N; k++) {
		p = pid[k];
		ASSERT_EQ(0, kill(p, SIGUSR1)) TH_LOG("pid %d", p);
	}
	for (i = 0; i < COW_N; i++) {
		char what[64];

		next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
		ASSERT_EQ(2, sscanf(line, "V %d %63[a-z ]", &k, what)) TH_LOG("\"%s\"", line);
		ASSERT_TRUE(k >= 0 && k < COW_N);
		EXPECT_STREQ("ok", what) TH_LOG("process %d: \"%s\"", k, line);
		ok[k] = true;
	}
	for (k = 0; k < COW_N; k++)
		EXPECT_TRUE(ok[k]) TH_LOG("process %d did not check its memory", k);
	/* Restored: child 1 shares those pages with the parent again. */
	for (k = 1; k < COW_N; k++) {
		i = cow_shared(pid[k], pid[0], addr);
		TH_LOG("after the restart, child %d shares %d pages with its parent", k, i);
		EXPECT_EQ(k == 1 ? COW_PAGES / 2 : 0, i);
	}
	check_dmesg(_metadata);
}

/* ---- zombie: unreaped children keep their exit status ---- */

/*
 * A parent with two zombies (exit 7, and killed by SIGTERM) and a live
 * child: the image lists the zombies with their status, the restored
 * zombies are zombies of the restored parent under their pids, and the
 * restored parent reaps them with the original statuses.
 */
TEST_F_TIMEOUT(tree, zombie, TEST_TIMEOUT)
{
	struct proc *orig, *copy;
	char img[PATH_MAX], line[512], want[64];
	long tick, last = 0;
	pid_t z7, zterm, live;
	struct tentry *e;
	struct tree t;
	int i, r;

	orig = start_prog(_metadata, &self->env, "zombie", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(3, sscanf(line, "ZOMBIES %d %d LIVE %d", &z7, &zterm, &live))
		TH_LOG("%s", line);
	for (i = 0; i < 3; i++) {
		next_line(_metadata, orig, line, sizeof(line), LINE_TIMEOUT);
		ASSERT_EQ(1, sscanf(line, "T %ld", &last));
	}
	EXPECT_EQ('Z', proc_state(z7));
	EXPECT_EQ('Z', proc_state(zterm));
	EXPECT_EQ(orig->pid, parent_of(z7));
	EXPECT_EQ(orig->pid, parent_of(zterm));
	EXPECT_EQ(orig->pid, parent_of(live));

	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "zombie.img"));
	expect_sigkill(_metadata, orig);
	while ((r = read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT)) == 1)
		ASSERT_EQ(1, sscanf(line, "T %ld", &last));
	ASSERT_EQ(0, r);

	read_tree(_metadata, &self->env, img, &t);
	ASSERT_EQ(4, t.n);
	EXPECT_EQ(orig->pid, t.e[0].pid);
	EXPECT_STREQ("process", t.e[0].kind);
	e = tree_find(&t, z7);
	ASSERT_NE(NULL, e);
	EXPECT_STREQ("zombie", e->kind);
	EXPECT_EQ(0x700, e->exit_status);
	EXPECT_EQ(orig->pid, e->ppid);
	e = tree_find(&t, zterm);
	ASSERT_NE(NULL, e);
	EXPECT_STREQ("zombie", e->kind);
	EXPECT_EQ(SIGTERM, e->exit_status);
	EXPECT_EQ(orig->pid, e->ppid);
	e = tree_find(&t, live);
	ASSERT_NE(NULL, e);
	EXPECT_STREQ("process", e->kind);
	EXPECT_EQ(orig->pid, e->ppid);
	tree_gone(_metadata, &t);

	copy = restart(_metadata, &self->env, img, 0);
	next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, sscanf(line, "T %ld", &tick)) TH_LOG("%s", line);
	EXPECT_EQ(last + 1, tick);
	/* Zombies again, of the restored parent, which has crctl's. */
	EXPECT_EQ('Z', proc_state(z7));
	EXPECT_EQ('Z', proc_state(zterm));
	EXPECT_EQ(orig->pid, parent_of(z7));
	EXPECT_EQ(orig->pid, parent_of(zterm));
	EXPECT_EQ(orig->pid, parent_of(live));
	EXPECT_EQ(copy->pid, parent_of(orig->pid));
	for (i = 0; i < 3; i++) {
		last = tick;
		next_line(_metadata, copy, line, sizeof(line), LINE_TIMEOUT);
		ASSERT_EQ(1, sscanf(line, "T %ld", &tick)) TH_LOG("%s", line);
		EXPECT_EQ(last + 1, tick);
	}

	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	snprintf(want, sizeof(want), "reaped %d 0x700", z7);
	expect_line_after_ticks(_metadata, copy, want);
	snprintf(want, sizeof(want), "reaped %d %#x", zterm, SIGTERM);
	next_line(_metadata, copy, line, sizeof(line), LINE_TIMEOUT);
	EXPECT_STREQ(want, line);
	snprintf(want, sizeof(want), "reaped %d %#x", live, SIGTERM);
	next_line(_metadata, copy, line, sizeof(line), LINE_TIMEOUT);
	EXPECT_STREQ(want, line);
	next_line(_metadata, copy, line, sizeof(line), LINE_TIMEOUT);
	EXPECT_STREQ("DONE", line);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

/* ---- threads: 8 threads under one mutex ---- */

#define NTHREADS 8

struct thr_line {
	long tick, total, sum, c[NTHREADS];
	int tid[NTHREADS];
};

static void thr_read(struct __test_metadata *_metadata, struct proc *p,
		     struct thr_line *l, int timeout)
{
	char line[512];
	int n;

	next_line(_metadata, p, line, sizeof(line), timeout);
	n = sscanf(line, "T %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld"
		   " %d %d %d %d %d %d %d %d", &l->tick, &l->total, &l->sum,
		   &l->c[0], &l->c[1], &l->c[2], &l->c[3], &l->c[4], &l->c[5],
		   &l->c[6], &l->c[7], &l->tid[0], &l->tid[1], &l->tid[2],
		   &l->tid[3], &l->tid[4], &l->tid[5], &l->tid[6], &l->tid[7]);
	ASSERT_EQ(19, n) TH_LOG("%s: \"%s\"", p->name, line);
	ASSERT_EQ(l->total, l->sum) TH_LOG("%s: \"%s\"", p->name, line);
}

/* The tids of @pid are exactly @pid and @l's. */
static void thr_check_tasks(struct __test_metadata *_metadata, pid_t pid,
			    const struct thr_line *l)
{
	pid_t tids[NTHREADS + 8];
	int n, i, k;

	n = task_ids(pid, tids, NTHREADS + 8);
	ASSERT_EQ(NTHREADS + 1, n);
	for (k = -1; k < NTHREADS; k++) {
		pid_t want = k < 0 ? pid : l->tid[k];

		for (i = 0; i < n && tids[i] != want; i++)
			;
		EXPECT_LT(i, n) TH_LOG("tid %d is not in /proc/%d/task", want, pid);
	}
}

/*
 * 8 threads each counting under a mutex, restored with their tids: the
 * total is the sum of the counters on every line before and after, every
 * thread counts on, and the restored process joins all its threads.
 */
TEST_F_TIMEOUT(tree, threads, TEST_TIMEOUT)
{
	struct thr_line before, l, first, prev;
	struct proc *orig, *copy;
	char img[PATH_MAX], line[512];
	struct tentry *e;
	struct tree t;
	int k, lines, r;
	long total, sum;
	bool done;

	orig = start_prog(_metadata, &self->env, "threads", NULL);
	for (lines = 0;; lines++) {
		ASSERT_GT(200, lines);
		thr_read(_metadata, orig, &before, START_TIMEOUT);
		for (done = lines >= 3, k = 0; k < NTHREADS; k++)
			done &= before.tid[k] != 0 && before.c[k] > 0;
		if (done)
			break;
	}
	thr_check_tasks(_metadata, orig->pid, &before);

	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "threads.img"));
	expect_sigkill(_metadata, orig);
	l = before;
	while ((r = read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT)) == 1) {
		ASSERT_EQ(19, sscanf(line, "T %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld"
				     " %d %d %d %d %d %d %d %d", &l.tick, &l.total,
				     &l.sum, &l.c[0], &l.c[1], &l.c[2], &l.c[3],
				     &l.c[4], &l.c[5], &l.c[6], &l.c[7], &l.tid[0],
				     &l.tid[1], &l.tid[2], &l.tid[3], &l.tid[4],
				     &l.tid[5], &l.tid[6], &l.tid[7]));
		ASSERT_EQ(l.total, l.sum);
	}
	ASSERT_EQ(0, r);

	/* One process and its 8 threads. */
	read_tree(_metadata, &self->env, img, &t);
	ASSERT_EQ(NTHREADS + 1, t.n);
	EXPECT_EQ(orig->pid, t.e[0].pid);
	EXPECT_STREQ("process", t.e[0].kind);
	for (k = 0; k < NTHREADS; k++) {
		e = tree_find(&t, before.tid[k]);
		ASSERT_NE(NULL, e) TH_LOG("tid %d not in the image", before.tid[k]);
		EXPECT_STREQ("thread", e->kind);
		EXPECT_EQ(orig->pid, e->tgid);
	}
	tree_gone(_metadata, &t);

	copy = restart(_metadata, &self->env, img, 0);
	thr_read(_metadata, copy, &first, START_TIMEOUT);
	EXPECT_EQ(l.tick + 1, first.tick);
	EXPECT_LE(l.total, first.total);
	for (k = 0; k < NTHREADS; k++) {
		EXPECT_LE(l.c[k], first.c[k]);
		EXPECT_EQ(before.tid[k], first.tid[k]);
	}
	EXPECT_EQ(copy->pid, parent_of(orig->pid));
	thr_check_tasks(_metadata, orig->pid, &before);
	prev = first;
	for (lines = 0;; lines++) {
		ASSERT_GT(300, lines) {
			for (k = 0; k < NTHREADS; k++)
				TH_LOG("thread %d: %ld, was %ld", k, l.c[k], first.c[k]);
		}
		thr_read(_metadata, copy, &l, LINE_TIMEOUT);
		EXPECT_EQ(prev.tick + 1, l.tick);
		for (done = true, k = 0; k < NTHREADS; k++) {
			ASSERT_LE(prev.c[k], l.c[k]);
			ASSERT_EQ(before.tid[k], l.tid[k]);
			done &= l.c[k] >= first.c[k] + 5;
		}
		prev = l;
		if (done)
			break;
	}
	thr_check_tasks(_metadata, orig->pid, &before);
	TH_LOG("total %ld at the checkpoint, %ld now (== sum on every line); thread 7: %ld -> %ld",
	       before.total, l.total, first.c[7], l.c[7]);

	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	do {
		next_line(_metadata, copy, line, sizeof(line), LINE_TIMEOUT);
	} while (!strncmp(line, "T ", 2));
	ASSERT_EQ(2, sscanf(line, "JOINED %ld %ld", &total, &sum)) TH_LOG("%s", line);
	EXPECT_EQ(total, sum);
	EXPECT_LE(l.total, total);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

/* ---- thread state: masks, TLS, altstacks, names ---- */

#define TS_N 5

/*
 * Sends SIGUSR1 to progs/tstate.c (@pid) and reads its verdicts: every
 * thread OK under its tid from READY.
 */
static void tstate_round(struct __test_metadata *_metadata, struct proc *p,
			 pid_t pid, const pid_t *tids, int round)
{
	char line[512], want[64];
	bool seen[TS_N] = { false };
	int k, i, tid, r, answered;

	ASSERT_EQ(0, kill(pid, SIGUSR1));
	for (k = 0; k < TS_N; k++) {
		next_line(_metadata, p, line, sizeof(line), START_TIMEOUT);
		ASSERT_EQ(2, sscanf(line, "thread %d tid %d", &i, &tid)) TH_LOG("%s", line);
		ASSERT_TRUE(i >= 0 && i < TS_N && !seen[i]) TH_LOG("%s", line);
		seen[i] = true;
		EXPECT_EQ(tids[i], tid) TH_LOG("%s", line);
		snprintf(want, sizeof(want), "thread %d tid %d OK", i, tids[i]);
		EXPECT_STREQ(want, line);
	}
	next_line(_metadata, p, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(2, sscanf(line, "DONE %d %d", &r, &answered)) TH_LOG("%s", line);
	EXPECT_EQ(round, r);
	EXPECT_EQ(TS_N - 1, answered);
}

/* The comm of task @tid of @pid, "" if it cannot be read. */
static void task_comm(pid_t pid, pid_t tid, char *comm, size_t size)
{
	char path[96];
	ssize_t n;
	int fd;

	comm[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, size - 1);
	close(fd);
	comm[n > 0 ? n : 0] = 0;
	comm[strcspn(comm, "\n")] = 0;
}

/* The comm progs/tstate.c gives thread @k. */
static void tstate_comm(int k, char *want, size_t size)
{
	if (k)
		snprintf(want, size, "tstate-w%d", k);
	else
		snprintf(want, size, "tstate");
}

/* Each thread's /proc comm is "tstate" or "tstate-w<i>". */
static void tstate_comms(struct __test_metadata *_metadata, pid_t pid,
			 const pid_t *tids)
{
	char comm[32], want[32];
	int k;

	for (k = 0; k < TS_N; k++) {
		task_comm(pid, tids[k], comm, sizeof(comm));
		tstate_comm(k, want, sizeof(want));
		EXPECT_STREQ(want, comm) TH_LOG("/proc/%d/task/%d/comm", pid, tids[k]);
	}
}

/*
 * A process whose 5 threads each have their own signal mask, __thread
 * values, alternate signal stack (or none; one with SS_AUTODISARM) and
 * name: after the restart each thread finds its own again, under its own
 * tid, and its SIGWINCH handler runs on its own altstack.
 *
 * SIGUSR1 must not come before the restore has discarded the launcher's
 * pending signals: it is sent once every thread has its restored name,
 * which the main thread gets after its process's signal state.
 */
TEST_F_TIMEOUT(tree, thread_state, TEST_TIMEOUT)
{
	pid_t tids[TS_N], got[TS_N + 4];
	struct proc *orig, *copy;
	char img[PATH_MAX], line[512], want[32], comm[32];
	long long end;
	struct tentry *e;
	struct tree t;
	int k, n, r;
	bool restored;

	orig = start_prog(_metadata, &self->env, "tstate", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(TS_N, sscanf(line, "READY %d %d %d %d %d", &tids[0], &tids[1],
			       &tids[2], &tids[3], &tids[4])) TH_LOG("%s", line);
	ASSERT_EQ(orig->pid, tids[0]);
	ASSERT_EQ(TS_N, task_ids(orig->pid, got, TS_N + 4));
	tstate_comms(_metadata, orig->pid, tids);
	/* The program checks itself right. */
	tstate_round(_metadata, orig, orig->pid, tids, 1);

	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "tstate.img"));
	expect_sigkill(_metadata, orig);
	while ((r = read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT)) == 1)
		TH_LOG("original, after the checkpoint: %s", line);
	ASSERT_EQ(0, r);

	read_tree(_metadata, &self->env, img, &t);
	ASSERT_EQ(TS_N, t.n);
	for (k = 0; k < TS_N; k++) {
		e = tree_find(&t, tids[k]);
		ASSERT_NE(NULL, e) TH_LOG("tid %d not in the image", tids[k]);
		EXPECT_STREQ(k ? "thread" : "process", e->kind);
		EXPECT_EQ(orig->pid, e->tgid);
		tstate_comm(k, want, sizeof(want));
		EXPECT_STREQ(want, e->comm) TH_LOG("comm of tid %d in the image", tids[k]);
	}
	tree_gone(_metadata, &t);

	copy = restart(_metadata, &self->env, img, 0);
	/* Every thread restored: its name is back. */
	for (end = now_ms() + START_TIMEOUT;; usleep(10000)) {
		n = task_ids(orig->pid, got, TS_N + 4);
		restored = n == TS_N && parent_of(orig->pid) == copy->pid;
		for (k = 0; restored && k < TS_N; k++) {
			task_comm(orig->pid, tids[k], comm, sizeof(comm));
			tstate_comm(k, want, sizeof(want));
			restored &= !strcmp(want, comm);
		}
		if (restored)
			break;
		if (copy->reaped || waitpid(copy->pid, &copy->status, WNOHANG) == copy->pid) {
			copy->reaped = true;
			show_stderr(_metadata, copy);
			ASSERT_TRUE(0) TH_LOG("crctl restart ended");
		}
		ASSERT_GT(end, now_ms()) {
			show_stderr(_metadata, copy);
			TH_LOG("pid %d: %d tasks, not all restored", orig->pid, n);
		}
	}
	for (k = 0; k < TS_N; k++)
		EXPECT_EQ(tids[k], got[k]);
	tstate_round(_metadata, copy, orig->pid, tids, 2);
	/* And once more. */
	tstate_round(_metadata, copy, orig->pid, tids, 3);
	check_dmesg(_metadata);
}

/*
 * restart --stopped of a multi-threaded process: every thread restored
 * and stopped; after SIGCONT the threads count on (progs/threads.c).
 */
TEST_F_TIMEOUT(tree, threads_stopped, TEST_TIMEOUT)
{
	pid_t got[NTHREADS + 4];
	struct thr_line before, l;
	struct proc *orig, *copy;
	char img[PATH_MAX], line[512];
	bool stopped;
	long long end;
	struct tree t;
	int k, n, r;

	orig = start_prog(_metadata, &self->env, "threads", NULL);
	for (k = 0; k < 3; k++)
		thr_read(_metadata, orig, &before, START_TIMEOUT);
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "threads.img"));
	expect_sigkill(_metadata, orig);
	while ((r = read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT)) == 1)
		ASSERT_EQ(1, sscanf(line, "T %ld", &before.tick));
	ASSERT_EQ(0, r);
	read_tree(_metadata, &self->env, img, &t);
	ASSERT_EQ(NTHREADS + 1, t.n);
	tree_gone(_metadata, &t);

	copy = restart(_metadata, &self->env, img, STOPPED);
	for (end = now_ms() + START_TIMEOUT;; usleep(10000)) {
		n = task_ids(orig->pid, got, NTHREADS + 4);
		for (stopped = n == NTHREADS + 1, k = 0; k < n; k++)
			stopped &= proc_state(got[k]) == 'T';
		if (stopped && parent_of(orig->pid) == copy->pid)
			break;
		if (copy->reaped || waitpid(copy->pid, &copy->status, WNOHANG) == copy->pid) {
			char how[64];

			copy->reaped = true;
			show_stderr(_metadata, copy);
			ASSERT_TRUE(0) TH_LOG("crctl restart --stopped: %s",
					      describe(copy->status, how, sizeof(how)));
		}
		ASSERT_GT(end, now_ms()) {
			show_stderr(_metadata, copy);
			TH_LOG("pid %d: %d tasks, not all stopped", orig->pid, n);
		}
	}
	/* Nothing printed while stopped. */
	EXPECT_EQ(-ETIMEDOUT, read_line(&copy->out, line, sizeof(line), 500));
	ASSERT_EQ(0, kill(orig->pid, SIGCONT));
	thr_read(_metadata, copy, &l, START_TIMEOUT);
	EXPECT_EQ(before.tick + 1, l.tick);
	for (k = 0; k < 5; k++)
		thr_read(_metadata, copy, &l, LINE_TIMEOUT);
	check_dmesg(_metadata);
}

/* ---- fork-heavy: a program that keeps forking, restored over and over ---- */

#define FORK_CYCLES	20	/* default of CR_TREE_FORK_CYCLES */

struct fork_line {
	long f, r, s, b;
	int a;
};

/*
 * A line of progs/forker.c: 1, or 0 at end of output (with @eof), and
 * every invariant checked.
 */
static int fork_read(struct __test_metadata *_metadata, struct proc *p,
		     struct fork_line *l, int timeout, bool eof)
{
	char line[512];
	int r;

	r = read_line(&p->out, line, sizeof(line), timeout);
	if (r == 0 && eof)
		return 0;
	if (r != 1) {
		show_stderr(_metadata, p);
		ASSERT_EQ(1, r) {
			TH_LOG("%s (pid %d): %s", p->name, p->pid,
			       r ? strerror(-r) : "end of output");
		}
	}
	ASSERT_EQ(5, sscanf(line, "F %ld R %ld A %d S %ld B %ld", &l->f,
			    &l->r, &l->a, &l->s, &l->b)) TH_LOG("%s", line);
	EXPECT_EQ(0, l->b) TH_LOG("%s", line);
	EXPECT_EQ(l->f, l->r + l->a) TH_LOG("%s", line);
	EXPECT_TRUE(l->r <= l->s && l->s <= l->f) TH_LOG("%s", line);
	return 1;
}

/*
 * A program that forks and reaps short-lived children without a pause,
 * checkpointed (--kill) while it runs, wherever its children are (running,
 * exiting, zombies), and restored: 20 times in a row (CR_TREE_FORK_CYCLES),
 * each time from the image of the previous restored copy.  Its counters
 * stay consistent (every child it forked is reaped with its own exit
 * status, and ran), and go on from where they were.
 */
TEST_F_TIMEOUT(tree, fork_heavy, FORK_CYCLES_TIMEOUT)
{
	int cycles = FORK_CYCLES, c, i, procs = 0, zombies = 0, most = 0;
	struct fork_line l, last = { 0 };
	struct proc *cur, *copy;
	long long t0 = now_ms();
	char img[PATH_MAX];
	const char *env;
	pid_t root;
	struct tree t;

	env = getenv("CR_TREE_FORK_CYCLES");
	if (env && atoi(env) > 0)
		cycles = atoi(env);
	cur = start_prog(_metadata, &self->env, "forker", NULL);
	root = cur->pid;
	for (i = 0; i < 3; i++)
		fork_read(_metadata, cur, &last, START_TIMEOUT, false);

	for (c = 0; c < cycles; c++) {
		checkpoint(_metadata, &self->env, root, tmp_path(&self->env, img, "forker.img"));
		if (c == 0)
			expect_sigkill(_metadata, cur);
		else
			expect_exit(_metadata, cur, 128 + SIGKILL);
		while (fork_read(_metadata, cur, &l, LINE_TIMEOUT, true)) {
			EXPECT_LE(last.f, l.f);
			last = l;
		}

		read_tree(_metadata, &self->env, img, &t);
		ASSERT_EQ(root, t.e[0].pid);
		for (i = 1; i < t.n; i++) {
			EXPECT_EQ(root, t.e[i].ppid) TH_LOG("pid %d", t.e[i].pid);
			EXPECT_STRNE("thread", t.e[i].kind);
			zombies += !strcmp(t.e[i].kind, "zombie");
			procs += !strcmp(t.e[i].kind, "process");
		}
		if (t.n > most)
			most = t.n;
		TH_LOG("cycle %d: image of %d tasks, %ld forked so far", c + 1,
		       t.n, last.f);
		tree_gone(_metadata, &t);

		copy = restart(_metadata, &self->env, img, 0);
		if (c > 0)
			forget(&self->env, cur);
		cur = copy;
		for (i = 0; i < 2; i++) {
			fork_read(_metadata, cur, &l, i ? LINE_TIMEOUT : START_TIMEOUT,
				  false);
			EXPECT_LE(last.f, l.f);
			EXPECT_LE(last.r, l.r);
			last = l;
		}
		EXPECT_EQ(cur->pid, parent_of(root));
	}
	TH_LOG("figures: fork-heavy tree, %d cycles in %lld s: %ld forked, %ld reaped; the images held %d live and %d zombie children (at most %d tasks); checkpoints tried again: %d for EAGAIN, %d for ESRCH",
	       cycles, (now_ms() - t0) / 1000, last.f, last.r, procs, zombies,
	       most, self->env.ckpt_eagain, self->env.ckpt_esrch);
	/* A child reaped while the tree is collected must not fail it. */
	EXPECT_EQ(0, self->env.ckpt_esrch);
	check_dmesg(_metadata);
}

/* ---- a real program that forks: busybox sh ---- */

/* The next line of @p must be the number after *@last. */
static void expect_next_number(struct __test_metadata *_metadata,
			       struct proc *p, long *last, int timeout)
{
	char line[512], *end;
	long v;

	next_line(_metadata, p, line, sizeof(line), timeout);
	v = strtol(line, &end, 10);
	ASSERT_TRUE(end != line && !*end) TH_LOG("not a number: \"%s\"", line);
	ASSERT_EQ(*last + 1, v);
	*last = v;
}

/*
 * A program nobody here wrote, that forks: busybox sh running, in a loop,
 * a pipeline of a subshell and an external command (echo $i | busybox
 * cat) and an external busybox sleep.  It is checkpointed while its sleep
 * child runs, so the image is a tree; the restored shell goes on counting,
 * no number lost or repeated, running new pipelines.
 */
TEST_F_TIMEOUT(tree, busybox_pipeline, TEST_TIMEOUT)
{
	char *argv[] = { "/bin/busybox", "sh", "-c",
			 "i=0; while true; do i=$((i+1)); echo $i | /bin/busybox cat; /bin/busybox sleep 5; done",
			 NULL };
	struct proc *orig, *copy;
	char img[PATH_MAX], line[512], *end;
	long last = 0, v;
	long long stop;
	pid_t sleeper;
	struct tentry *e;
	struct tree t;
	int i, r;

	if (access(argv[0], X_OK))
		SKIP(return, "no %s", argv[0]);
	orig = start(_metadata, &self->env, argv, -1, -1);
	for (i = 0; i < 3; i++)
		expect_next_number(_metadata, orig, &last, i ? LINE_TIMEOUT : START_TIMEOUT);
	/* While it sleeps: a tree of the shell and busybox sleep. */
	for (stop = now_ms() + LINE_TIMEOUT;; usleep(5000)) {
		sleeper = child_running(orig->pid, "sleep");
		if (sleeper && proc_state(sleeper) == 'S')
			break;
		ASSERT_GT(stop, now_ms()) TH_LOG("no busybox sleep child");
	}
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "busybox.img"));
	expect_sigkill(_metadata, orig);
	while ((r = read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT)) == 1) {
		v = strtol(line, &end, 10);
		ASSERT_TRUE(end != line && !*end) TH_LOG("not a number: \"%s\"", line);
		ASSERT_EQ(last + 1, v);
		last = v;
	}
	ASSERT_EQ(0, r);

	read_tree(_metadata, &self->env, img, &t);
	ASSERT_LE(2, t.n);
	EXPECT_EQ(orig->pid, t.e[0].pid);
	e = tree_find(&t, sleeper);
	ASSERT_NE(NULL, e) TH_LOG("the sleep child %d is not in the image", sleeper);
	EXPECT_STREQ("process", e->kind);
	EXPECT_EQ(orig->pid, e->ppid);
	tree_gone(_metadata, &t);

	copy = restart(_metadata, &self->env, img, NULL_STDIN);
	expect_next_number(_metadata, copy, &last, START_TIMEOUT);
	EXPECT_EQ(copy->pid, parent_of(orig->pid));
	for (i = 0; i < 5; i++)
		expect_next_number(_metadata, copy, &last, LINE_TIMEOUT);
	check_dmesg(_metadata);
}

TEST_HARNESS_MAIN
