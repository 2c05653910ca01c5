// SPDX-License-Identifier: GPL-2.0
/*
 * Process state that a restart used to lose silently, or that a checkpoint
 * used to accept and then restore wrong (image format 1): each test here
 * failed on that module and passes since image format 2.
 *
 *  - shared_offsets: one open file description, dup()'d and inherited
 *    across fork(), is one again after restart: the parent and the child
 *    append records through one offset without overwriting each other, and
 *    /proc's fdinfo shows the same pos and flags in both, O_NONBLOCK set
 *    through one fd included;
 *  - internal_pipe_refused: a pipe between two processes of the tree, on
 *    their fds 0-2, is refused by name (it used to come back as crctl's
 *    stdio), and the target runs on;
 *  - vma_state: MAP_NORESERVE (a 16 GiB mapping in a VM of 2 GiB) and the
 *    madvise() state (DONTFORK, WIPEONFORK, DONTDUMP, HUGEPAGE,
 *    NOHUGEPAGE) come back as /proc/PID/smaps VmFlags show them;
 *  - rseq_registered: each thread's rseq area is registered again, so the
 *    kernel keeps writing the current cpu into it;
 *  - dumpable: PR_SET_DUMPABLE 0 stays 0;
 *  - per_thread_creds_refused: a thread with credentials of its own is
 *    refused by name, and the target runs on.
 *
 * The targets are the modes of progs/state.c.  As in cr_tree.c, the test is
 * a child subreaper, the images are taken with "crctl checkpoint --kill"
 * and restored with "crctl restart" in a child whose stdout is a new pipe.
 *
 * The VM the tests run in is emulated (TCG), 10-30 times slower than
 * native: every wait has a generous timeout and nothing waits forever.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>

#ifndef PR_THP_DISABLE_EXCEPT_ADVISED	/* Linux 6.18; older headers lack it */
#define PR_THP_DISABLE_EXCEPT_ADVISED	(1 << 1)
#endif
#include <sys/stat.h>
#include <sys/syscall.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300	/* s: one whole test */

FIXTURE(state) {
	struct cr_env env;
};

FIXTURE_SETUP(state)
{
	cr_env_setup(_metadata, &self->env, "cr_state");
}

FIXTURE_TEARDOWN(state)
{
	cr_env_teardown(&self->env);
}

/*
 * "crctl checkpoint --kill -o @image @pid", which must succeed within
 * @timeout ms: checkpoint() allows START_TIMEOUT, which a checkpoint that
 * walks 16 GiB page by page may need more than on a slow (debug) kernel.
 * Returns how long it took, in ms.
 */
static long long checkpoint_slow(struct __test_metadata *_metadata,
				 struct cr_env *env, pid_t pid,
				 const char *image, int timeout)
{
	char *argv[] = { "crctl", "checkpoint", "--kill", "-o", (char *)image,
			 NULL, NULL };
	char pidstr[16], err[4096], how[64];
	long long t0 = now_ms();
	struct proc *p;
	int null;

	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	argv[5] = pidstr;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, null);
	p = start(_metadata, env, argv, null, null);
	close(null);
	slurp(p->err, err, sizeof(err), timeout);
	ASSERT_TRUE(reap(p, timeout - (now_ms() - t0))) {
		TH_LOG("crctl checkpoint --kill %d did not finish in %d ms", pid, timeout);
	}
	ASSERT_EQ(0, p->status) {
		TH_LOG("crctl checkpoint --kill %d: %s\n%s", pid,
		       describe(p->status, how, sizeof(how)), err);
	}
	forget(env, p);
	return now_ms() - t0;
}

/* The pos and flags (octal) lines of /proc/@pid/fdinfo/@fd. */
static bool fdinfo(pid_t pid, int fd, long long *pos, unsigned int *flags)
{
	char path[64], line[256];
	int got = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "pos: %lld", pos) == 1)
			got |= 1;
		else if (sscanf(line, "flags: %o", flags) == 1)
			got |= 2;
	}
	fclose(f);
	return got == 3;
}

/* Waits until @pid is stopped (state T). */
static bool wait_state_stopped(pid_t pid)
{
	long long end = now_ms() + START_TIMEOUT;

	while (now_ms() < end) {
		if (proc_state(pid) == 'T')
			return true;
		usleep(10000);
	}
	return false;
}

/* ---- shared_offsets ---- */

#define REC_LEN		9

struct off_state {
	unsigned long p, c;		/* records written, as last reported */
	long long pos;
	int nonblock;			/* -1 until a NONBLOCK line */
	long pdone, cdone;		/* -1 until the DONE lines */
	unsigned int child_status;
};

/* Takes in one line of "state offsets"; any other (a BAD line) fails. */
static void off_line(struct __test_metadata *_metadata, struct proc *p,
		     const char *line, struct off_state *s)
{
	if (sscanf(line, "T %lu %lld", &s->p, &s->pos) == 2 ||
	    sscanf(line, "C %lu", &s->c) == 1 ||
	    sscanf(line, "NONBLOCK %d", &s->nonblock) == 1 ||
	    sscanf(line, "CDONE %ld", &s->cdone) == 1 ||
	    sscanf(line, "PDONE %ld %x", &s->pdone, &s->child_status) == 2)
		return;
	show_stderr(_metadata, p);
	ASSERT_EQ(NULL, strstr(line, "BAD")) TH_LOG("%s (pid %d): \"%s\"", p->name, p->pid, line);
	ASSERT_TRUE(0) TH_LOG("%s (pid %d): unexpected \"%s\"", p->name, p->pid, line);
}

/* Reads lines of @p (at most 2000) until @done(@s, @arg). */
static void off_until(struct __test_metadata *_metadata, struct proc *p,
		      struct off_state *s, bool (*done)(const struct off_state *, const void *),
		      const void *arg, int timeout)
{
	char line[256];
	int lines;

	for (lines = 0; !done(s, arg); lines++) {
		ASSERT_GT(2000, lines) TH_LOG("%s: %lu and %lu records", p->name, s->p, s->c);
		next_line(_metadata, p, line, sizeof(line), timeout);
		off_line(_metadata, p, line, s);
		timeout = LINE_TIMEOUT;
	}
}

/* Both processes wrote at least ((unsigned long *)arg)[0] and [1] records. */
static bool off_counts(const struct off_state *s, const void *arg)
{
	const unsigned long *min = arg;

	return s->p >= min[0] && s->c >= min[1];
}

static bool off_nonblock(const struct off_state *s, const void *arg)
{
	return s->nonblock >= 0;
}

static bool off_done(const struct off_state *s, const void *arg)
{
	return s->pdone >= 0 && s->cdone >= 0;
}

/*
 * With both processes stopped, fd 4 of @parent and of @child (and fd 5 of
 * each) are at the same pos with the same flags; returns the flags.
 */
static unsigned int off_same_fdinfo(struct __test_metadata *_metadata,
				    pid_t parent, pid_t child, const char *when)
{
	long long pos[4];
	unsigned int flags[4];
	pid_t who[4] = { parent, child, parent, child };
	int fds[4] = { 4, 4, 5, 5 }, i;
	bool same = true;

	ASSERT_EQ(0, kill(parent, SIGSTOP));
	ASSERT_EQ(0, kill(child, SIGSTOP));
	ASSERT_TRUE(wait_state_stopped(parent));
	ASSERT_TRUE(wait_state_stopped(child));
	for (i = 0; i < 4; i++) {
		ASSERT_TRUE(fdinfo(who[i], fds[i], &pos[i], &flags[i])) {
			TH_LOG("/proc/%d/fdinfo/%d: %s", who[i], fds[i], strerror(errno));
		}
	}
	ASSERT_EQ(0, kill(child, SIGCONT));
	ASSERT_EQ(0, kill(parent, SIGCONT));
	for (i = 1; i < 4; i++) {
		same &= pos[0] == pos[i] && flags[0] == flags[i];
		EXPECT_EQ(pos[0], pos[i]) {
			TH_LOG("%s: pos of fd %d of %d is %lld, of fd 4 of %d %lld",
			       when, fds[i], who[i], pos[i], parent, pos[0]);
		}
		EXPECT_EQ(flags[0], flags[i]) {
			TH_LOG("%s: flags of fd %d of %d are %#o, of fd 4 of %d %#o",
			       when, fds[i], who[i], flags[i], parent, flags[0]);
		}
	}
	EXPECT_EQ(0, pos[0] % REC_LEN) TH_LOG("%s: pos %lld", when, pos[0]);
	if (same)
		TH_LOG("%s: fds 4 and 5 of %d and %d all at pos %lld, flags %#o",
		       when, parent, child, pos[0], flags[0]);
	return flags[0];
}

/*
 * The file of "state offsets": whole records only, each process's numbered
 * 1, 2, 3, ... in file order without a gap or a repeat, up to @pn and @cn.
 */
static void off_check_file(struct __test_metadata *_metadata, const char *path,
			   unsigned long pn, unsigned long cn)
{
	unsigned long want[2] = { 1, 1 }, v;
	struct stat st;
	char *buf, *rec, *end;
	size_t off;
	int fd, k;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st));
	buf = malloc(st.st_size + 1);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(st.st_size, read(fd, buf, st.st_size));
	close(fd);
	buf[st.st_size] = 0;
	EXPECT_EQ(0, st.st_size % REC_LEN) TH_LOG("%s: %lld bytes", path, (long long)st.st_size);
	for (off = 0; off + REC_LEN <= (size_t)st.st_size; off += REC_LEN) {
		rec = buf + off;
		k = rec[0] == 'P' ? 0 : rec[0] == 'C' ? 1 : -1;
		v = strtoul(rec + 1, &end, 10);
		ASSERT_TRUE(k >= 0 && end == rec + REC_LEN - 1 && *end == '\n') {
			TH_LOG("%s: record %zu at %zu is \"%.8s\": not a record",
			       path, off / REC_LEN, off, rec);
		}
		ASSERT_EQ(want[k], v) {
			TH_LOG("%s: record %zu at %zu is %c%lu, want %c%lu: records overwritten",
			       path, off / REC_LEN, off, rec[0], v, rec[0], want[k]);
		}
		want[k]++;
	}
	free(buf);
	EXPECT_EQ(pn, want[0] - 1) TH_LOG("the parent wrote %lu records", pn);
	EXPECT_EQ(cn, want[1] - 1) TH_LOG("the child wrote %lu records", cn);
}

/*
 * fd 4 and fd 5 = dup(4) of a parent, inherited by its child: one open file
 * description.  The parent writes records through fd 4, the child through
 * fd 5, without O_APPEND.  After restart they go on writing through one
 * offset again: fd 4 and 5 agree after every write of the parent, fdinfo
 * shows one pos and one set of flags in both processes (O_NONBLOCK set
 * through the parent's fd 4 shows in the child's), and the file holds every
 * record of both, none overwritten.  (Format 1 reopened each fd on its own:
 * four offsets, records overwritten.)
 */
TEST_F_TIMEOUT(state, shared_offsets, TEST_TIMEOUT)
{
	struct off_state s = { .nonblock = -1, .pdone = -1, .cdone = -1 };
	char img[PATH_MAX], dat[PATH_MAX], line[256];
	unsigned long min[2], at_ckpt[2];
	struct proc *orig, *copy;
	unsigned int flags;
	pid_t parent, child;
	struct tree t;
	int r;

	orig = start_prog(_metadata, &self->env, "state", "offsets",
			  tmp_path(&self->env, dat, "offsets.dat"), NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(2, sscanf(line, "OFFSETS %d %d", &parent, &child)) TH_LOG("%s", line);
	ASSERT_EQ(orig->pid, parent);
	min[0] = min[1] = 40;
	off_until(_metadata, orig, &s, off_counts, min, START_TIMEOUT);
	off_same_fdinfo(_metadata, parent, child, "before");

	checkpoint(_metadata, &self->env, parent, tmp_path(&self->env, img, "offsets.img"));
	expect_sigkill(_metadata, orig);
	while ((r = read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT)) == 1)
		off_line(_metadata, orig, line, &s);
	ASSERT_EQ(0, r);
	at_ckpt[0] = s.p;
	at_ckpt[1] = s.c;
	read_tree(_metadata, &self->env, img, &t);
	ASSERT_EQ(2, t.n);
	ASSERT_NE(NULL, tree_find(&t, child));
	tree_gone(_metadata, &t);

	copy = restart(_metadata, &self->env, img, 0);
	/* Both write on, well past where they were. */
	min[0] = s.p + 60;
	min[1] = s.c + 60;
	off_until(_metadata, copy, &s, off_counts, min, START_TIMEOUT);
	off_same_fdinfo(_metadata, parent, child, "after restart");

	/* O_NONBLOCK set through the parent's fd 4 is the child's too. */
	ASSERT_EQ(0, kill(parent, SIGUSR2));
	off_until(_metadata, copy, &s, off_nonblock, NULL, LINE_TIMEOUT);
	EXPECT_EQ(1, s.nonblock) TH_LOG("the parent's fd 5 lacks the O_NONBLOCK set through fd 4");
	flags = off_same_fdinfo(_metadata, parent, child, "after O_NONBLOCK");
	EXPECT_TRUE(flags & O_NONBLOCK) TH_LOG("flags %#o", flags);

	ASSERT_EQ(0, kill(parent, SIGUSR1));
	off_until(_metadata, copy, &s, off_done, NULL, LINE_TIMEOUT);
	EXPECT_EQ(0, s.child_status);
	expect_exit(_metadata, copy, 0);
	off_check_file(_metadata, dat, s.pdone, s.cdone);
	TH_LOG("records: parent %lu, child %lu (%lu and %lu before the checkpoint), none overwritten",
	       s.pdone, s.cdone, at_ckpt[0], at_ckpt[1]);
	check_dmesg(_metadata);
}

/* ---- internal_pipe_refused ---- */

/* Reads "T <tick> <bytes>" lines of "state pipe" until @n more ticks. */
static void pipe_ticks(struct __test_metadata *_metadata, struct proc *p,
		       long *tick, long *bytes, int n, int timeout)
{
	char line[256];
	long t, b;
	int i;

	for (i = 0; i < n; i++) {
		next_line(_metadata, p, line, sizeof(line), timeout);
		ASSERT_EQ(2, sscanf(line, "T %ld %ld", &t, &b)) TH_LOG("%s", line);
		if (*tick)
			ASSERT_EQ(*tick + 1, t) TH_LOG("%s", line);
		ASSERT_LE(*bytes, b);
		*tick = t;
		*bytes = b;
		timeout = LINE_TIMEOUT;
	}
}

/*
 * A pipe from a child's fd 2 to its parent's fd 0, both in the tree: format
 * 1 saved it as an inherited stdio fd (restart gave both ends crctl's
 * stdio), format 2 refused it; now it is saved as a pipe, with the bytes
 * buffered in it, and the restored parent reads the restored child's bytes
 * through it again: its count goes on from where it was, and grows.
 */
TEST_F_TIMEOUT(state, internal_pipe_restored, TEST_TIMEOUT)
{
	char img[PATH_MAX], line[256];
	long tick = 0, bytes = 0, bytes_before;
	struct proc *orig, *copy;
	struct tree t;
	pid_t child;

	orig = start_prog(_metadata, &self->env, "state", "pipe", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, sscanf(line, "PIPE %d", &child)) TH_LOG("%s", line);
	pipe_ticks(_metadata, orig, &tick, &bytes, 3, START_TIMEOUT);
	ASSERT_LT(0, bytes) TH_LOG("nothing came through the pipe");

	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "pipe.img"));
	expect_sigkill(_metadata, orig);
	while (read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT) == 1)
		ASSERT_EQ(2, sscanf(line, "T %ld %ld", &tick, &bytes)) TH_LOG("%s", line);
	read_tree(_metadata, &self->env, img, &t);
	tree_gone(_metadata, &t);

	copy = restart(_metadata, &self->env, img, NULL_STDIN);
	bytes_before = bytes;
	pipe_ticks(_metadata, copy, &tick, &bytes, 5, START_TIMEOUT);
	EXPECT_LT(bytes_before, bytes) TH_LOG("no byte came through the restored pipe");
	EXPECT_EQ(orig->pid, parent_of(child));
	EXPECT_EQ(copy->pid, parent_of(orig->pid));
	TH_LOG("%ld bytes through the pipe before the checkpoint, %ld after the restart",
	       bytes_before, bytes - bytes_before);
	check_dmesg(_metadata);
}

/* ---- vma_state ---- */

#define VMA_NREG	7
#define VMA_BITS	6
#define VMA_CKPT_TIMEOUT 240000	/* ms: the checkpoint walks 16 GiB */

static const char *const vma_flag_names[VMA_BITS] = { "nr", "dc", "wf", "dd", "hg", "nh" };

struct vma_region {
	char name[16];
	unsigned long start, end;
	int err;		/* of its madvise() */
};

/* Which of nr dc wf dd hg nh a "VmFlags:" line has. */
static unsigned int vma_bits(const char *vmflags)
{
	char buf[512], *w, *save;
	unsigned int bits = 0;
	int i;

	snprintf(buf, sizeof(buf), "%s", vmflags);
	for (w = strtok_r(buf, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
		for (i = 0; i < VMA_BITS; i++) {
			if (!strcmp(w, vma_flag_names[i]))
				bits |= 1u << i;
		}
	}
	return bits;
}

static void vma_bits_str(unsigned int bits, char *buf, size_t size)
{
	size_t len = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < VMA_BITS; i++) {
		if (bits & (1u << i))
			len += snprintf(buf + len, size - len, "%s%s", len ? " " : "",
					vma_flag_names[i]);
	}
	if (!len)
		snprintf(buf, size, "-");
}

/*
 * The VmFlags of the VMA of @pid that starts at @start, from
 * /proc/@pid/smaps; its end in *@end.  False if no VMA starts there.
 */
static bool smaps_vmflags(pid_t pid, unsigned long start, unsigned long *end,
			  char *flags, size_t size)
{
	unsigned long s, e;
	char path[64], line[512];
	bool in = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = s == start;
			if (in)
				*end = e;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, size, "%s", line + 8);
			flags[strcspn(flags, "\n")] = 0;
			fclose(f);
			return true;
		}
	}
	fclose(f);
	return false;
}

/* Each region's VmFlags bits (of nr dc wf dd hg nh) in @bits. */
static void vma_read_bits(struct __test_metadata *_metadata, pid_t pid,
			  const struct vma_region *rg, int n, unsigned int *bits,
			  const char *when)
{
	char flags[512];
	unsigned long end;
	int i;

	for (i = 0; i < n; i++) {
		ASSERT_TRUE(smaps_vmflags(pid, rg[i].start, &end, flags, sizeof(flags))) {
			TH_LOG("%s: no mapping of %d starts at %#lx (%s)", when,
			       pid, rg[i].start, rg[i].name);
		}
		EXPECT_EQ(rg[i].end, end) {
			TH_LOG("%s: %s: the mapping at %#lx ends at %#lx, not %#lx",
			       when, rg[i].name, rg[i].start, end, rg[i].end);
		}
		bits[i] = vma_bits(flags);
	}
}

static void vma_ticks(struct __test_metadata *_metadata, struct proc *p, int n,
		      long *tick, int timeout)
{
	char line[256];
	long t;
	int i;

	for (i = 0; i < n; i++) {
		next_line(_metadata, p, line, sizeof(line), timeout);
		ASSERT_EQ(1, sscanf(line, "T %ld", &t)) TH_LOG("%s: \"%s\"", p->name, line);
		if (*tick)
			ASSERT_EQ(*tick + 1, t);
		*tick = t;
		timeout = LINE_TIMEOUT;
	}
}

/*
 * A 16 GiB MAP_NORESERVE mapping with 7 pages written, around the 2 MiB
 * and 1 GiB ranges checkpoint crosses without a page table (the VM has 2 GiB:
 * without MAP_NORESERVE restart cannot map it again), and 4 MiB regions
 * with madvise() MADV_DONTFORK, MADV_WIPEONFORK, MADV_DONTDUMP,
 * MADV_HUGEPAGE and MADV_NOHUGEPAGE (and one without): after restart each
 * is one mapping again, with the range and the VmFlags bits (nr dc wf dd
 * hg nh of /proc/PID/smaps) it had, and its written pages.  (Format 1 saved
 * none of these bits.)
 */
TEST_F_TIMEOUT(state, vma_state, TEST_TIMEOUT)
{
	static const char *const want_bit[VMA_NREG] = {
		"nr", "", "dc", "wf", "dd", "hg", "nh"
	};
	unsigned int before[VMA_NREG], after[VMA_NREG];
	char img[PATH_MAX], line[256], b1[64], b2[64];
	struct vma_region rg[VMA_NREG];
	long long t0, t_ckpt, t_rst;
	struct proc *orig, *copy;
	long tick = 0;
	struct stat st;
	int i, r, n = 0;

	orig = start_prog(_metadata, &self->env, "state", "vma", NULL);
	for (;;) {
		next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
		if (!strcmp(line, "READY"))
			break;
		ASSERT_GT(VMA_NREG, n) TH_LOG("%s", line);
		ASSERT_EQ(4, sscanf(line, "REGION %15s %lx %lx %d", rg[n].name,
				    &rg[n].start, &rg[n].end, &rg[n].err)) {
			show_stderr(_metadata, orig);
			TH_LOG("%s", line);
		}
		n++;
	}
	ASSERT_EQ(VMA_NREG, n);
	vma_ticks(_metadata, orig, 2, &tick, LINE_TIMEOUT);
	vma_read_bits(_metadata, orig->pid, rg, n, before, "before");
	for (i = 0; i < n; i++) {
		if (rg[i].err) {
			/* Huge page advice without transparent huge pages. */
			TH_LOG("%s: madvise: %s: not checked", rg[i].name, strerror(rg[i].err));
			continue;
		}
		if (*want_bit[i])
			EXPECT_TRUE(before[i] & vma_bits(want_bit[i])) {
				TH_LOG("%s: no \"%s\" in VmFlags before the checkpoint",
				       rg[i].name, want_bit[i]);
			}
	}

	t_ckpt = checkpoint_slow(_metadata, &self->env, orig->pid,
				 tmp_path(&self->env, img, "vma.img"),
				 VMA_CKPT_TIMEOUT);
	expect_sigkill(_metadata, orig);
	while ((r = read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT)) == 1)
		ASSERT_EQ(1, sscanf(line, "T %ld", &tick)) TH_LOG("%s", line);
	ASSERT_EQ(0, r);
	ASSERT_EQ(0, stat(img, &st));

	t0 = now_ms();
	copy = restart(_metadata, &self->env, img, 0);
	vma_ticks(_metadata, copy, 1, &tick, START_TIMEOUT);
	t_rst = now_ms() - t0;
	vma_ticks(_metadata, copy, 2, &tick, LINE_TIMEOUT);
	/* Restored with its original pid, a child of crctl. */
	ASSERT_EQ(copy->pid, parent_of(orig->pid));
	vma_read_bits(_metadata, orig->pid, rg, n, after, "after restart");
	for (i = 0; i < n; i++) {
		vma_bits_str(before[i], b1, sizeof(b1));
		vma_bits_str(after[i], b2, sizeof(b2));
		EXPECT_EQ(before[i], after[i]) {
			TH_LOG("%s %#lx-%#lx: VmFlags had %s, now %s", rg[i].name,
			       rg[i].start, rg[i].end, b1, b2);
		}
		TH_LOG("%-10s %#lx-%#lx: %s before, %s after", rg[i].name,
		       rg[i].start, rg[i].end, b1, b2);
	}
	/* It runs on, every written page intact. */
	vma_ticks(_metadata, copy, 3, &tick, LINE_TIMEOUT);
	EXPECT_FALSE(reap(copy, 0));
	TH_LOG("image %lld KiB; checkpoint %lld ms, restart to the first line %lld ms",
	       (long long)st.st_size >> 10, t_ckpt, t_rst);
	check_dmesg(_metadata);
}

/* ---- rseq_registered ---- */

struct rseq_line {
	long tick;
	unsigned long ok[2], bad[2];	/* main thread, second thread */
};

/* The next "T" line of "state rseq"; a "BAD" line fails. */
static void rseq_read(struct __test_metadata *_metadata, struct proc *p,
		      struct rseq_line *l, int timeout)
{
	char line[256];

	next_line(_metadata, p, line, sizeof(line), timeout);
	ASSERT_EQ(5, sscanf(line, "T %ld %lu %lu %lu %lu", &l->tick, &l->ok[0],
			    &l->bad[0], &l->ok[1], &l->bad[1])) {
		TH_LOG("%s (pid %d): \"%s\"", p->name, p->pid, line);
	}
	ASSERT_EQ(0, l->bad[0]) TH_LOG("main thread: %s", line);
	ASSERT_EQ(0, l->bad[1]) TH_LOG("second thread: %s", line);
}

/*
 * glibc's rseq areas of the main thread and of a second one: each thread
 * writes a sentinel into its area's cpu_id and sleeps, and the kernel must
 * write the cpu into it again on the way back.  After restart it still
 * does, in both threads.  (Format 1 restart unregistered rseq: the
 * sentinel stayed.)
 */
TEST_F_TIMEOUT(state, rseq_registered, TEST_TIMEOUT)
{
	struct rseq_line before = { 0 }, first, l;
	char img[PATH_MAX], line[256];
	struct proc *orig, *copy;
	unsigned int size;
	long offset;
	int i, r;
	pid_t tid;

	orig = start_prog(_metadata, &self->env, "state", "rseq", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	if (!strcmp(line, "NORSEQ"))
		SKIP(return, "glibc registered no rseq area");
	ASSERT_EQ(3, sscanf(line, "RSEQ %u %ld %d", &size, &offset, &tid)) TH_LOG("%s", line);
	for (i = 0; i < 100 && (before.ok[0] < 5 || before.ok[1] < 5); i++)
		rseq_read(_metadata, orig, &before, LINE_TIMEOUT);
	ASSERT_LE(5, before.ok[0]);
	ASSERT_LE(5, before.ok[1]);

	checkpoint_ex(_metadata, &self->env, orig->pid,
		      tmp_path(&self->env, img, "rseq.img"), NO_RETRY);
	expect_sigkill(_metadata, orig);
	while ((r = read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT)) == 1)
		;
	ASSERT_EQ(0, r);
	ASSERT_TRUE(wait_gone(orig->pid, START_TIMEOUT));

	copy = restart(_metadata, &self->env, img, 0);
	rseq_read(_metadata, copy, &first, START_TIMEOUT);
	l = first;
	for (i = 0; i < 200 && (l.ok[0] < first.ok[0] + 10 || l.ok[1] < first.ok[1] + 10); i++)
		rseq_read(_metadata, copy, &l, LINE_TIMEOUT);
	EXPECT_LE(first.ok[0] + 10, l.ok[0]);
	EXPECT_LE(first.ok[1] + 10, l.ok[1]);
	TH_LOG("__rseq_size %u, __rseq_offset %ld: rseq checks of the main thread %lu before the checkpoint, %lu after; of thread %d %lu, %lu; none bad",
	       size, offset, before.ok[0], l.ok[0] - first.ok[0], tid,
	       before.ok[1], l.ok[1] - first.ok[1]);
	check_dmesg(_metadata);
}

/* ---- dumpable ---- */

/*
 * prctl(PR_SET_DUMPABLE, 0) survives: the restored program is still not
 * dumpable.  (Format 1 restart left it dumpable, as crctl was.)
 */
TEST_F_TIMEOUT(state, dumpable, TEST_TIMEOUT)
{
	char img[PATH_MAX], line[256];
	struct proc *orig, *copy;
	long tick, last = 0;
	int d, i, r;

	orig = start_prog(_metadata, &self->env, "state", "dumpable", NULL);
	for (i = 0; i < 3; i++) {
		next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
		ASSERT_EQ(2, sscanf(line, "T %ld %d", &last, &d)) TH_LOG("%s", line);
		ASSERT_EQ(0, d);
	}
	checkpoint_ex(_metadata, &self->env, orig->pid,
		      tmp_path(&self->env, img, "dumpable.img"), NO_RETRY);
	expect_sigkill(_metadata, orig);
	while ((r = read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT)) == 1)
		ASSERT_EQ(2, sscanf(line, "T %ld %d", &last, &d)) TH_LOG("%s", line);
	ASSERT_EQ(0, r);

	copy = restart(_metadata, &self->env, img, 0);
	for (i = 0; i < 5; i++) {
		next_line(_metadata, copy, line, sizeof(line), i ? LINE_TIMEOUT : START_TIMEOUT);
		ASSERT_EQ(2, sscanf(line, "T %ld %d", &tick, &d)) TH_LOG("%s", line);
		ASSERT_EQ(last + 1, tick);
		ASSERT_EQ(0, d) TH_LOG("PR_GET_DUMPABLE says %d after restart", d);
		last = tick;
	}
	TH_LOG("PR_GET_DUMPABLE 0 before the checkpoint and on 5 ticks after restart");
	check_dmesg(_metadata);
}

/* ---- per_thread_creds_refused ---- */

/* The effective gid of task @tid of @pid, from its status; -1 if unknown. */
static long task_egid(pid_t pid, pid_t tid)
{
	char path[96], line[256];
	long rgid, egid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Gid: %ld %ld", &rgid, &egid) == 2)
			break;
	}
	fclose(f);
	return egid;
}

static void creds_ticks(struct __test_metadata *_metadata, struct proc *p,
			long *tick, int n, int timeout)
{
	char line[256];
	long t, main_egid, thr_egid;
	int i;

	for (i = 0; i < n; i++) {
		next_line(_metadata, p, line, sizeof(line), timeout);
		ASSERT_EQ(3, sscanf(line, "T %ld %ld %ld", &t, &main_egid, &thr_egid))
			TH_LOG("%s", line);
		if (*tick)
			ASSERT_EQ(*tick + 1, t);
		ASSERT_EQ(0, main_egid);
		ASSERT_EQ(65534, thr_egid);
		*tick = t;
		timeout = LINE_TIMEOUT;
	}
}

/*
 * A thread that set its own effective gid (the raw setresgid syscall, not
 * glibc's, which changes every thread's): the checkpoint is refused by
 * name, and the target runs on, its thread still with its gid.  (Format 1
 * saved only the process's credentials: the thread would have come back
 * with them.)
 */
TEST_F_TIMEOUT(state, per_thread_creds_refused, TEST_TIMEOUT)
{
	char img[PATH_MAX], err[4096], line[256], at[64];
	struct proc *orig;
	long egid, tick = 0;
	pid_t tid;

	orig = start_prog(_metadata, &self->env, "state", "creds", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(2, sscanf(line, "CREDS %d %ld", &tid, &egid)) TH_LOG("%s", line);
	ASSERT_EQ(65534, egid);
	EXPECT_EQ(0, task_egid(orig->pid, orig->pid));
	EXPECT_EQ(65534, task_egid(orig->pid, tid));
	creds_ticks(_metadata, orig, &tick, 2, LINE_TIMEOUT);

	checkpoint_refused(_metadata, &self->env, orig->pid,
			   tmp_path(&self->env, img, "creds.img"), err, sizeof(err));
	snprintf(at, sizeof(at), "tid %d", tid);
	EXPECT_NE(NULL, strstr(err, "credentials differ from its process's")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, at)) TH_LOG("does not name %s: %s", at, err);

	creds_ticks(_metadata, orig, &tick, 5, LINE_TIMEOUT);
	EXPECT_FALSE(reap(orig, 0));
	EXPECT_EQ(65534, task_egid(orig->pid, tid));
	err[strcspn(err, "\n")] = 0;
	TH_LOG("refused: \"%s\"; the target ticks on, thread %d with egid 65534", err, tid);
	check_dmesg(_metadata);
}

/*
 * The counter, as another user: uid and gid 1000, supplementary groups 4,
 * 24 and 27, and CAP_NET_BIND_SERVICE as an ambient capability (so also
 * permitted and effective after the exec).
 */
static int as_service_user(void *arg)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { 0 };
	gid_t groups[] = { 4, 24, 27 };
	char *argv[] = { arg, "50000", NULL };

	if (setgroups(3, groups) || setresgid(1000, 1000, 1000) ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setresuid(1000, 1000, 1000))
		return 126;
	d[0].permitted = d[0].effective = d[0].inheritable = 1 << CAP_NET_BIND_SERVICE;
	if (syscall(SYS_capset, &h, d) ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0))
		return 126;
	execv(argv[0], argv);
	return 127;
}

/*
 * Root restores a process that runs as another user with other groups and
 * a capability: crctl gives each task those credentials with the ordinary
 * system calls before it joins, and the kernel checks they are exact (the
 * fidelity check in restart() compares ids, groups and every capability
 * set).  On a module that only compared, this restart failed with EPERM.
 */
TEST_F_TIMEOUT(state, other_user_restored, TEST_TIMEOUT)
{
	char prog[PATH_MAX + 16], img[PATH_MAX], line[256], path[64], buf[4096];
	struct proc *orig, *copy;
	long last = 0, n;
	FILE *f;
	size_t got;
	int i;

	snprintf(prog, sizeof(prog), "%s/counter", self->env.bin);
	orig = start_ex(_metadata, &self->env, NULL, as_service_user, prog, -1, -1, 0);
	for (i = 0; i < 3; i++) {
		next_line(_metadata, orig, line, sizeof(line), i ? LINE_TIMEOUT : START_TIMEOUT);
		last = atol(line);
	}
	checkpoint_ex(_metadata, &self->env, orig->pid,
		      tmp_path(&self->env, img, "user.img"), NO_RETRY);
	expect_sigkill(_metadata, orig);
	while (read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT) == 1)
		last = atol(line);

	copy = restart(_metadata, &self->env, img, NULL_STDIN);
	for (i = 0; i < 3; i++) {
		next_line(_metadata, copy, line, sizeof(line), i ? LINE_TIMEOUT : START_TIMEOUT);
		n = atol(line);
		ASSERT_EQ(last + 1, n) TH_LOG("restored: %s", line);
		last = n;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", orig->pid);
	f = fopen(path, "re");
	ASSERT_NE(NULL, f);
	got = fread(buf, 1, sizeof(buf) - 1, f);
	buf[got] = 0;
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "Uid:\t1000\t1000\t1000\t1000")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "Groups:\t4 24 27")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "CapAmb:\t0000000000000400")) TH_LOG("%s", buf);
	kill(copy->pid, SIGKILL);
}

/*
 * What "prctl @mode" set comes back: each tick line shows the value read
 * back, @want, before and after the restart.
 */
static void prctl_kept(struct __test_metadata *_metadata, FIXTURE_DATA(state) *self,
		       const char *mode, int want)
{
	char img[PATH_MAX], line[256], name[64];
	struct proc *orig, *copy;
	long n;
	int v, i;

	orig = start_prog(_metadata, &self->env, "prctl", mode, NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("START", line);
	next_line(_metadata, orig, line, sizeof(line), LINE_TIMEOUT);
	ASSERT_EQ(2, sscanf(line, "tick %ld %d", &n, &v));
	ASSERT_EQ(want, v);
	snprintf(name, sizeof(name), "%s.img", mode);
	checkpoint_ex(_metadata, &self->env, orig->pid,
		      tmp_path(&self->env, img, name), NO_RETRY);
	expect_sigkill(_metadata, orig);
	copy = restart(_metadata, &self->env, img, NULL_STDIN);
	for (i = 0; i < 3; i++) {
		next_line(_metadata, copy, line, sizeof(line), i ? LINE_TIMEOUT : START_TIMEOUT);
		ASSERT_EQ(2, sscanf(line, "tick %ld %d", &n, &v)) TH_LOG("%s", line);
		EXPECT_EQ(want, v) TH_LOG("%s restored: %s", mode, line);
	}
	kill(copy->pid, SIGKILL);
}

/* A parent-death signal comes back (on the old module it was lost). */
TEST_F_TIMEOUT(state, pdeath_signal_kept, TEST_TIMEOUT)
{
	prctl_kept(_metadata, self, "pdeath", SIGUSR2);
}

/*
 * Transparent huge pages disabled (redis does it at start) stay disabled,
 * either way (PR_GET_THP_DISABLE: 1, or 3 with EXCEPT_ADVISED).
 */
TEST_F_TIMEOUT(state, thp_disable_kept, TEST_TIMEOUT)
{
	prctl_kept(_metadata, self, "thp", 1);
	prctl_kept(_metadata, self, "thpadvised", 1 | PR_THP_DISABLE_EXCEPT_ADVISED);
}

/*
 * Settings this version cannot restore are refused by name, and the
 * target runs on: a timer slack, a child subreaper.
 */
TEST_F_TIMEOUT(state, prctl_settings_refused, TEST_TIMEOUT)
{
	static const char *const what[][2] = {
		{ "slack", "timer slack" },
		{ "subreaper", "child subreaper" },
	};
	char img[PATH_MAX], line[256], pidstr[16], err[4096];
	char *argv[] = { "crctl", "checkpoint", "-o", img, pidstr, NULL };
	struct proc *orig;
	size_t k;
	int status;

	for (k = 0; k < sizeof(what) / sizeof(what[0]); k++) {
		orig = start_prog(_metadata, &self->env, "prctl", what[k][0], NULL);
		next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
		ASSERT_STREQ("START", line);
		tmp_path(&self->env, img, "refused.img");
		snprintf(pidstr, sizeof(pidstr), "%d", orig->pid);
		status = run(_metadata, &self->env, argv, -1, err, sizeof(err));
		EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1)
			TH_LOG("%s: crctl checkpoint: %s", what[k][0], err);
		EXPECT_NE(NULL, strstr(err, what[k][1])) TH_LOG("%s: %s", what[k][0], err);
		EXPECT_NE(NULL, strstr(err, "not supported yet")) TH_LOG("%s: %s", what[k][0], err);
		next_line(_metadata, orig, line, sizeof(line), LINE_TIMEOUT);
		next_line(_metadata, orig, line, sizeof(line), LINE_TIMEOUT);
		kill(orig->pid, SIGKILL);
	}
}

TEST_HARNESS_MAIN
