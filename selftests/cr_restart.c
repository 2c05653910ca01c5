// SPDX-License-Identifier: GPL-2.0
/*
 * Checkpoint and restart of whole programs, through crctl and /dev/cr.
 *
 * Each test starts one of the programs of progs/ (or busybox) with stdin,
 * stdout and stderr on pipes of its own, checkpoints it with crctl, restarts
 * the image and then checks what the restored program does: that it goes on
 * exactly where it was stopped (a counter's next number, the hash of every
 * byte of its memory, its FPU results, its file offsets and flags).
 *
 * crctl restart gives the restored program its original pid when it can:
 * the child that runs it (the test's "copy") creates the program with that
 * pid as its own child, hands it the pipes it was given, so they carry the
 * program's output, waits for it and exits with its status.  When the pid
 * cannot be had (the original still runs, or no CAP_CHECKPOINT_RESTORE), and
 * with --new-pid, the restore is exec-style: that child becomes the
 * program, under its own pid.  crctl checkpoint --kill leaves the original
 * dead of SIGKILL, which waitpid() shows, as it is a child of the test, and
 * reaped, so its pid is free for the restart.
 *
 * The VM the tests run in is emulated (TCG), 10-30 times slower than
 * native: every wait has a generous timeout and nothing waits forever.
 * Whatever a test started is killed in the fixture teardown.
 */
#define _GNU_SOURCE
#define CR_TEST_IOCTL
#include <endian.h>
#include <sys/ioctl.h>
#include <linux/cr.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300	/* s: one whole test */

/* The image format (Documentation/cr/image-format.rst, image/src/format/). */
#define IMAGE_MAGIC	"\177CRIMG\r\n"
#define MAGIC_LEN	8
#define REC_HDR_LEN	8	/* u32 type, u32 length including this header */
#define VERSION_OFFSET	16	/* u32 version: first field of the header record */
#define REC_VMA		401
#define REC_PAGES	402
#define REC_TAIL	9001
#define VMA_START	0	/* payload offsets in a vma record */
#define VMA_END		8
#define VMA_VM_FLAGS	24
#define VMA_KIND	44
#define VMA_KIND_VDSO	5	/* [vdso], [vvar], [vvar_vclock]: 5, 6, 7 */
#define VMA_KIND_VVAR_VCLOCK 7
#define PAGES_FIXED	16	/* u64 addr, u32 npages, u32 pad, then the data */

/*
 * Not a subreaper: each test checkpoints a single process, and nothing
 * here depends on where orphans go.
 */
FIXTURE(cr) {
	struct cr_env env;
};

FIXTURE_SETUP(cr)
{
	cr_env_setup_flags(_metadata, &self->env, "cr_restart", 0);
}

FIXTURE_TEARDOWN(cr)
{
	cr_env_teardown(&self->env);
}

/*
 * crctl checkpoint [--kill] -o @image @pid, which must succeed at once:
 * the targets here are single processes, for which an EAGAIN or ESRCH
 * would be a failure, not a reason to try again.
 */
static void checkpoint_one(struct __test_metadata *_metadata,
			   FIXTURE_DATA(cr) *self, pid_t pid, const char *image,
			   bool and_kill)
{
	checkpoint_ex(_metadata, &self->env, pid, image,
		      NO_RETRY | (and_kill ? 0 : LEAVE_RUNNING));
}

/*
 * Waits until the program restored by @p (crctl restart --stopped) stops:
 * @pid, which is @p itself after an exec-style restore, and @p's child
 * otherwise.
 */
static void wait_stopped(struct __test_metadata *_metadata, struct proc *p,
			 pid_t pid)
{
	long long end = now_ms() + START_TIMEOUT;
	char how[64];
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(p->pid, &status, WNOHANG | WUNTRACED);
		if (r == p->pid && WIFSTOPPED(status) && pid == p->pid)
			return;
		if (r == p->pid && !WIFSTOPPED(status)) {
			p->reaped = true;
			p->status = status;
			show_stderr(_metadata, p);
			ASSERT_TRUE(0) {
				TH_LOG("%s ended before it stopped: %s", p->name,
				       describe(status, how, sizeof(how)));
			}
		}
		if (proc_state(pid) == 'T')
			return;
		ASSERT_GT(end, now_ms()) {
			show_stderr(_metadata, p);
			TH_LOG("pid %d (restored by %s, pid %d) did not stop within %d ms",
			       pid, p->name, p->pid, START_TIMEOUT);
		}
		usleep(10000);
	}
}

/* The restored program runs @name's executable under @pid. */
static void expect_exe(struct __test_metadata *_metadata, pid_t pid,
		       const char *name)
{
	char path[64], exe[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	ASSERT_LT(0, n) TH_LOG("readlink %s: %s", path, strerror(errno));
	exe[n] = 0;
	base = strrchr(exe, '/');
	EXPECT_STREQ(name, base ? base + 1 : exe);
}

/*
 * @p (crctl restart) restored the program with its original pid @pid: a
 * child of @p, running @name's executable.
 */
static void expect_restored_as(struct __test_metadata *_metadata,
			       struct proc *p, pid_t pid, const char *name)
{
	EXPECT_EQ(p->pid, parent_of(pid)) {
		TH_LOG("pid %d: not a child of %s (pid %d), but of %d", pid,
		       p->name, p->pid, parent_of(pid));
	}
	expect_exe(_metadata, pid, name);
}

#define TO_EOF		0	/* read_counts(): up to end of file */
#define AVAILABLE	-1	/* read_counts(): what has been written so far */

/*
 * Reads a counter's lines from @p: @n of them, or up to end of file
 * (TO_EOF), or those already written (AVAILABLE).  Each number must be one
 * more than *@last (any number if *@last is 0), which follows along.
 * Returns how many lines were read, or -1 (logged) on a gap, a repeat,
 * something that is not a number, a timeout or an early end.
 */
static int read_counts(struct __test_metadata *_metadata, struct proc *p,
		       long *last, int n, int timeout)
{
	char line[256], *end;
	int got = 0, r;
	long v;

	while (n <= 0 || got < n) {
		r = read_line(&p->out, line, sizeof(line),
			      n == AVAILABLE ? 0 : timeout);
		if ((r == 0 && n <= 0) || (r == -ETIMEDOUT && n == AVAILABLE))
			return got;
		if (r != 1) {
			TH_LOG("%s (pid %d): %s after %d lines (last %ld)",
			       p->name, p->pid,
			       r ? "no line in time" : "end of output", got,
			       *last);
			show_stderr(_metadata, p);
			return -1;
		}
		errno = 0;
		v = strtol(line, &end, 10);
		if (end == line || *end || errno) {
			TH_LOG("%s (pid %d): \"%s\" is not a number (after %ld)",
			       p->name, p->pid, line, *last);
			show_stderr(_metadata, p);
			return -1;
		}
		if (*last && v != *last + 1) {
			TH_LOG("%s (pid %d): %ld follows %ld", p->name, p->pid,
			       v, *last);
			return -1;
		}
		*last = v;
		got++;
	}
	return got;
}

/*
 * The basic round trip: a counter checkpointed with --kill dies of SIGKILL,
 * and the restored copy prints exactly the numbers that follow the last
 * one the original printed, no gap, no repeat, under its original pid.
 */
TEST_F_TIMEOUT(cr, counter, TEST_TIMEOUT)
{
	struct proc *orig, *copy;
	char img[PATH_MAX];
	long last = 0;

	orig = start_prog(_metadata, &self->env, "counter", NULL);
	ASSERT_EQ(5, read_counts(_metadata, orig, &last, 5, START_TIMEOUT));
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "counter.img"), true);
	expect_sigkill(_metadata, orig);
	/* All it printed before it was stopped; the last one is L. */
	ASSERT_LE(0, read_counts(_metadata, orig, &last, TO_EOF, LINE_TIMEOUT));

	copy = restart(_metadata, &self->env, img, 0);
	/* L + 1 first... */
	ASSERT_EQ(1, read_counts(_metadata, copy, &last, 1, START_TIMEOUT));
	expect_restored_as(_metadata, copy, orig->pid, "counter");
	/* ...and on from there. */
	ASSERT_EQ(20, read_counts(_metadata, copy, &last, 20, LINE_TIMEOUT));
}

/*
 * Every byte of a 64 MiB heap, anonymous mappings with holes and untouched
 * pages, a read-only mapping, a private file mapping with copy-on-write
 * pages, .data, .bss and the stack come back, and /proc/self/maps reads the
 * same: progs/memory.c checks itself when it gets SIGUSR1.
 */
TEST_F_TIMEOUT(cr, memory, TEST_TIMEOUT)
{
	char img[PATH_MAX], dat[PATH_MAX];
	struct proc *orig, *copy;

	orig = start_prog(_metadata, &self->env, "memory",
			  tmp_path(&self->env, dat, "memory.dat"), NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "memory.img"), true);
	expect_sigkill(_metadata, orig);

	/* Stopped, so that SIGUSR1 finds its handler in place. */
	copy = restart(_metadata, &self->env, img, STOPPED);
	wait_stopped(_metadata, copy, orig->pid);
	expect_restored_as(_metadata, copy, orig->pid, "memory");
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	ASSERT_EQ(0, kill(orig->pid, SIGCONT));
	expect_ok_exit(_metadata, copy);
}

/*
 * The same, restored exec-style (--new-pid): the restoring process reads
 * the page data straight into its own mappings (memory::fill_local), a
 * path of its own; progs/memory.c hashes every byte again.
 */
TEST_F_TIMEOUT(cr, memory_new_pid, TEST_TIMEOUT)
{
	char img[PATH_MAX], dat[PATH_MAX];
	struct proc *orig, *copy;

	orig = start_prog(_metadata, &self->env, "memory",
			  tmp_path(&self->env, dat, "memory.dat"), NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "memory.img"), true);
	expect_sigkill(_metadata, orig);

	copy = restart(_metadata, &self->env, img, STOPPED | NEW_PID);
	wait_stopped(_metadata, copy, copy->pid);
	ASSERT_EQ(0, kill(copy->pid, SIGUSR1));
	ASSERT_EQ(0, kill(copy->pid, SIGCONT));
	expect_ok_exit(_metadata, copy);
}

/*
 * 60 chunks of 20000 iterations, 50 ms of sleep after each: at least 3 s a
 * run, so the checkpoint after the fifth tick finds it in the middle even
 * if crctl is slow to start.
 */
#define FPU_CHUNKS	60
#define FPU_ITERS	"20000"
#define FPU_SLEEP_US	"50000"
#define FPU_AT_TICK	5
#define FPU_MAX_LINES	32

struct fpu_out {
	int ticks;
	int nlines;
	char lines[FPU_MAX_LINES][256];
};

/* Reads progs/fpu.c's output to its end: "tick" lines, then the results. */
static void read_fpu(struct __test_metadata *_metadata, struct proc *p,
		     struct fpu_out *o, int timeout)
{
	char line[256];
	int r;

	while ((r = read_line(&p->out, line, sizeof(line), timeout)) == 1) {
		ASSERT_STRNE("START", line) TH_LOG("%s started over", p->name);
		if (!strcmp(line, "tick")) {
			ASSERT_EQ(0, o->nlines) TH_LOG("%s: tick after results", p->name);
			o->ticks++;
			continue;
		}
		ASSERT_GT(FPU_MAX_LINES, o->nlines);
		snprintf(o->lines[o->nlines++], sizeof(o->lines[0]), "%s", line);
	}
	if (r) {
		show_stderr(_metadata, p);
		ASSERT_EQ(0, r) TH_LOG("%s: %s", p->name, strerror(-r));
	}
}

/*
 * MXCSR and the x87 control word (both round toward zero) and the AVX, SSE
 * and x87 registers of a computation that keeps its whole state in them
 * survive a checkpoint taken in the middle: the restored copy's results are
 * bit for bit those of an uninterrupted run.
 */
TEST_F_TIMEOUT(cr, fpu, TEST_TIMEOUT)
{
	struct fpu_out *want, *before, *after;
	unsigned int mxcsr, fcw;
	struct proc *ref, *orig, *copy;
	char img[PATH_MAX], line[256], chunks[16];
	int i;

	want = calloc(3, sizeof(*want));
	ASSERT_NE(NULL, want);
	before = want + 1;
	after = want + 2;
	snprintf(chunks, sizeof(chunks), "%d", FPU_CHUNKS);

	/* The reference: an uninterrupted run. */
	ref = start_prog(_metadata, &self->env, "fpu", chunks, FPU_ITERS,
			 FPU_SLEEP_US, NULL);
	ASSERT_EQ(1, read_line(&ref->out, line, sizeof(line), START_TIMEOUT));
	if (!strcmp(line, "NOAVX"))
		SKIP(return, "the CPU has no AVX");
	ASSERT_STREQ("START", line);
	read_fpu(_metadata, ref, want, START_TIMEOUT);
	ASSERT_TRUE(reap(ref, START_TIMEOUT));
	ASSERT_EQ(0, ref->status);
	ASSERT_EQ(FPU_CHUNKS, want->ticks);
	ASSERT_LT(2, want->nlines);
	ASSERT_STREQ("DONE", want->lines[want->nlines - 1]);
	ASSERT_EQ(2, sscanf(want->lines[want->nlines - 2], "MXCSR %x FCW %x",
			    &mxcsr, &fcw));
	EXPECT_EQ(0x6000, mxcsr & 0x6000);
	EXPECT_EQ(0x0c00, fcw & 0x0c00);

	/* The same, checkpointed in the middle. */
	orig = start_prog(_metadata, &self->env, "fpu", chunks, FPU_ITERS,
			  FPU_SLEEP_US, NULL);
	expect_line(_metadata, orig, "START", START_TIMEOUT);
	for (i = 0; i < FPU_AT_TICK; i++)
		expect_line(_metadata, orig, "tick", LINE_TIMEOUT);
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "fpu.img"), true);
	expect_sigkill(_metadata, orig);
	read_fpu(_metadata, orig, before, LINE_TIMEOUT);
	ASSERT_EQ(0, before->nlines) TH_LOG("fpu finished before the checkpoint");

	copy = restart(_metadata, &self->env, img, 0);
	read_fpu(_metadata, copy, after, START_TIMEOUT);
	ASSERT_TRUE(reap(copy, START_TIMEOUT));
	EXPECT_EQ(0, copy->status);
	/* Every chunk ran exactly once, before or after the checkpoint. */
	EXPECT_EQ(FPU_CHUNKS, FPU_AT_TICK + before->ticks + after->ticks);
	ASSERT_EQ(want->nlines, after->nlines);
	for (i = 0; i < want->nlines; i++)
		EXPECT_STREQ(want->lines[i], after->lines[i]);
	free(want);
}

/*
 * Checkpoint without --kill leaves the original running, untouched, and the
 * restored copy runs alongside it: both go on with the numbers that follow
 * the checkpoint.  Where exactly that was is known to a window: after the
 * last number read before crctl was started (B) and no later than the last
 * number the original had printed when crctl was done (A), so the copy's
 * first number F is in B + 1 .. A + 1.  (The original's pid is taken: the
 * copy is restored exec-style, see pid_taken.)
 */
TEST_F_TIMEOUT(cr, leave_running, TEST_TIMEOUT)
{
	struct proc *orig, *copy;
	long last = 0, b, a, first = 0;
	char img[PATH_MAX];

	orig = start_prog(_metadata, &self->env, "counter", NULL);
	ASSERT_EQ(5, read_counts(_metadata, orig, &last, 5, START_TIMEOUT));
	b = last;
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "counter.img"), false);
	ASSERT_LE(0, read_counts(_metadata, orig, &last, AVAILABLE, 0));
	a = last;
	ASSERT_FALSE(reap(orig, 0)) TH_LOG("the original ended");

	copy = restart(_metadata, &self->env, img, 0);
	ASSERT_EQ(1, read_counts(_metadata, copy, &first, 1, START_TIMEOUT));
	EXPECT_TRUE(first >= b + 1 && first <= a + 1) {
		TH_LOG("the copy starts at %ld: not in %ld..%ld", first, b + 1, a + 1);
	}
	ASSERT_EQ(20, read_counts(_metadata, copy, &first, 20, LINE_TIMEOUT));
	/* The original counted on all along, without a gap. */
	ASSERT_EQ(20, read_counts(_metadata, orig, &last, 20, LINE_TIMEOUT));
	EXPECT_FALSE(reap(orig, 0));
	EXPECT_FALSE(reap(copy, 0));
}

static unsigned char pattern(unsigned long i)
{
	return (i * 2654435761UL) >> 13 ^ i >> 8;	/* as in progs/files.c */
}

static void write_pattern(struct __test_metadata *_metadata, const char *path,
			  size_t size)
{
	unsigned char *buf = malloc(size);
	size_t i;
	int fd;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < size; i++)
		buf[i] = pattern(i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(size, write(fd, buf, size));
	close(fd);
	free(buf);
}

static bool has_pattern(const char *path, size_t size)
{
	unsigned char buf[4096];
	size_t off = 0, i;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < (size_t)n; i++) {
			if (buf[i] != pattern(off + i)) {
				close(fd);
				return false;
			}
		}
		off += n;
	}
	close(fd);
	return n == 0 && off == size;
}

static void expect_contents(struct __test_metadata *_metadata, const char *path,
			    const char *want)
{
	char buf[256];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LE(0, n);
	buf[n] = 0;
	EXPECT_STREQ(want, buf);
}

/*
 * Regular files are reopened by path at the same offset with the same
 * flags: a read-only close-on-exec file half read, an O_APPEND file that
 * appends after the restore.  progs/files.c checks itself on SIGUSR1.
 */
TEST_F_TIMEOUT(cr, files, TEST_TIMEOUT)
{
	char img[PATH_MAX], rpath[PATH_MAX], apath[PATH_MAX];
	const size_t size = 10001;	/* read up to 5000: not page aligned */
	struct proc *orig, *copy;

	tmp_path(&self->env, rpath, "files.read");
	tmp_path(&self->env, apath, "files.append");
	write_pattern(_metadata, rpath, size);
	orig = start_prog(_metadata, &self->env, "files", rpath, apath, NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "files.img"), true);
	expect_sigkill(_metadata, orig);
	expect_contents(_metadata, apath, "a");

	copy = restart(_metadata, &self->env, img, STOPPED);
	wait_stopped(_metadata, copy, orig->pid);
	expect_restored_as(_metadata, copy, orig->pid, "files");
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	ASSERT_EQ(0, kill(orig->pid, SIGCONT));
	expect_ok_exit(_metadata, copy);
	expect_contents(_metadata, apath, "ab");
	EXPECT_TRUE(has_pattern(rpath, size));
}

/*
 * crctl checkpoint -o - | FILTER | crctl restart -i -: the image streams
 * through pipes (and a compressor), never a file, and the counter goes on.
 */
static void stream(struct __test_metadata *_metadata, FIXTURE_DATA(cr) *self,
		   const char *filter)
{
	char cmd[512], *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct proc *orig, *sh;
	long last = 0;

	orig = start_prog(_metadata, &self->env, "counter", NULL);
	ASSERT_EQ(5, read_counts(_metadata, orig, &last, 5, START_TIMEOUT));
	snprintf(cmd, sizeof(cmd),
		 "crctl checkpoint --kill -o - %d %s| crctl restart -i -",
		 orig->pid, filter);
	sh = start(_metadata, &self->env, argv, -1, -1);
	if (!reap(orig, START_TIMEOUT)) {
		show_stderr(_metadata, sh);
		ASSERT_TRUE(0) TH_LOG("%s: still running", cmd);
	}
	expect_sigkill(_metadata, orig);
	ASSERT_LE(0, read_counts(_metadata, orig, &last, TO_EOF, LINE_TIMEOUT));
	/* The restored counter writes to the pipeline's stdout. */
	ASSERT_EQ(20, read_counts(_metadata, sh, &last, 20, START_TIMEOUT));
}

TEST_F_TIMEOUT(cr, stream_pipe, TEST_TIMEOUT)
{
	stream(_metadata, self, "");
}

TEST_F_TIMEOUT(cr, stream_gzip, TEST_TIMEOUT)
{
	stream(_metadata, self, "| gzip | gunzip ");
}

/* Whether @msg names one of the @n fds in @fds as "fd N:". */
static bool names_fd(const char *msg, const int *fds, int n)
{
	char needle[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(needle, sizeof(needle), "fd %d:", fds[i]);
		if (strstr(msg, needle))
			return true;
	}
	return false;
}

/*
 * A target holding a file checkpoint does not support is refused, by crctl
 * (exit status 1, the reason on stderr) and by the ioctl itself
 * (EOPNOTSUPP, the reason on logfd), and is left running as it was.
 */
static void refusal(struct __test_metadata *_metadata, FIXTURE_DATA(cr) *self,
		    const char *kind, const char *what)
{
	char img[PATH_MAX], line[256], pidstr[16], err[4096], how[64];
	char *argv[] = { "crctl", "checkpoint", "-o", img, pidstr, NULL };
	struct cr_checkpoint_args args;
	int fds[2], nfds, status, dev, imgfd, logp[2], r, e;
	struct proc *orig;
	long last = 0;

	orig = start_prog(_metadata, &self->env, "holder", kind, NULL);
	ASSERT_EQ(1, read_line(&orig->out, line, sizeof(line), START_TIMEOUT));
	nfds = sscanf(line, "FD %d %d", &fds[0], &fds[1]);
	ASSERT_LE(1, nfds) TH_LOG("holder: %s", line);
	ASSERT_EQ(5, read_counts(_metadata, orig, &last, 5, LINE_TIMEOUT));

	/* crctl says why. */
	tmp_path(&self->env, img, "refused.img");
	snprintf(pidstr, sizeof(pidstr), "%d", orig->pid);
	status = run(_metadata, &self->env, argv, -1, err, sizeof(err));
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) {
		TH_LOG("crctl checkpoint: %s",
		       status < 0 ? "timeout" : describe(status, how, sizeof(how)));
	}
	EXPECT_TRUE(names_fd(err, fds, nfds) && strcasestr(err, what) &&
		    strcasestr(err, "not supported")) {
		TH_LOG("crctl checkpoint stderr: %s", err);
	}

	/* So does the kernel. */
	dev = open(CR_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	imgfd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, imgfd);
	ASSERT_EQ(0, pipe2(logp, O_CLOEXEC));
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.pid = orig->pid;
	args.fd = imgfd;
	args.logfd = logp[1];
	r = ioctl(dev, CR_IOC_CHECKPOINT, &args);
	e = errno;
	close(logp[1]);
	slurp(logp[0], err, sizeof(err), LINE_TIMEOUT);
	close(logp[0]);
	close(imgfd);
	close(dev);
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EOPNOTSUPP, e) TH_LOG("errno %d (%s)", e, strerror(e));
	EXPECT_TRUE(names_fd(err, fds, nfds) && strcasestr(err, what) &&
		    strcasestr(err, "not supported")) {
		TH_LOG("CR_IOC_CHECKPOINT log: %s", err);
	}

	/* The target did not notice: it counts on, no gap, no repeat. */
	ASSERT_EQ(20, read_counts(_metadata, orig, &last, 20, LINE_TIMEOUT));
	EXPECT_FALSE(reap(orig, 0));
}

/*
 * A checkpoint whose destination fails halfway: the caller gets the errno
 * and a log line with the byte offset, and the target never notices.
 * @fd is the destination, already broken or about to break.
 */
static void failing_destination(struct __test_metadata *_metadata,
				struct proc *orig, long *last, int fd,
				int want_errno)
{
	struct cr_checkpoint_args args;
	int dev, logp[2], r, e;
	char err[4096];

	dev = open(CR_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, pipe2(logp, O_CLOEXEC));
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.pid = orig->pid;
	args.fd = fd;
	args.logfd = logp[1];
	r = ioctl(dev, CR_IOC_CHECKPOINT, &args);
	e = errno;
	close(logp[1]);
	slurp(logp[0], err, sizeof(err), LINE_TIMEOUT);
	close(logp[0]);
	close(dev);
	EXPECT_EQ(-1, r);
	EXPECT_EQ(want_errno, e) TH_LOG("errno %d (%s), log: %s", e, strerror(e), err);
	EXPECT_NE(NULL, strstr(err, "cr: checkpoint: ")) TH_LOG("log: %s", err);
	/* The target counts on, no gap, no repeat. */
	ASSERT_EQ(20, read_counts(_metadata, orig, last, 20, LINE_TIMEOUT));
	EXPECT_FALSE(reap(orig, 0));
}

TEST_F_TIMEOUT(cr, write_errors_leave_target_running, TEST_TIMEOUT)
{
	char path[PATH_MAX + 16], mnt[PATH_MAX], cmd[PATH_MAX + 64];
	struct proc *orig;
	long last = 0;
	int p[2], fd;
	pid_t reader;

	orig = start_prog(_metadata, &self->env, "counter", NULL);
	ASSERT_EQ(5, read_counts(_metadata, orig, &last, 5, START_TIMEOUT));

	/* A one-page pipe whose reader goes away after 8 KiB. */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_LE(0, fcntl(p[1], F_SETPIPE_SZ, 4096));
	reader = fork();
	ASSERT_LE(0, reader);
	if (reader == 0) {
		char buf[8192];
		size_t got = 0;
		ssize_t n;

		close(p[1]);
		while (got < sizeof(buf) && (n = read(p[0], buf, sizeof(buf) - got)) > 0)
			got += n;
		_exit(0);
	}
	close(p[0]);
	failing_destination(_metadata, orig, &last, p[1], EPIPE);
	close(p[1]);
	waitpid(reader, NULL, 0);

	/* A file opened read-only. */
	fd = open(tmp_path(&self->env, path, "ro.img"), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	failing_destination(_metadata, orig, &last, fd, EBADF);
	close(fd);

	/* A full file system: a 16 KiB tmpfs. */
	tmp_path(&self->env, mnt, "small");
	ASSERT_EQ(0, mkdir(mnt, 0700));
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=16k none %s", mnt);
	ASSERT_EQ(0, system(cmd));
	snprintf(path, sizeof(path), "%s/full.img", mnt);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	failing_destination(_metadata, orig, &last, fd, ENOSPC);
	close(fd);
	unlink(path);
	snprintf(cmd, sizeof(cmd), "umount %s", mnt);
	EXPECT_EQ(0, system(cmd));
	rmdir(mnt);
}

TEST_F_TIMEOUT(cr, refuse_unix_socket, TEST_TIMEOUT)
{
	refusal(_metadata, self, "unix", "socket");
}

struct layout {
	size_t first_vma;	/* offset of the first vma record */
	size_t first_pages;	/* offset of the first pages record */
	size_t pages_end;	/* end of the last pages record */
	uint64_t vdso_lo;	/* where the kernel's [vvar]/[vdso] were */
	uint64_t vdso_hi;
};

/*
 * Walks the records of a valid image: each has a sane length, the last is
 * the tail.  Notes where the first vma and the page data are, and where the
 * image has the kernel-provided mappings.
 */
static void walk_image(struct __test_metadata *_metadata, const uint8_t *img,
		       size_t len, struct layout *l)
{
	size_t off = MAGIC_LEN;
	uint32_t type = 0, rlen, kind;
	const uint8_t *v;

	memset(l, 0, sizeof(*l));
	ASSERT_LT(MAGIC_LEN, len);
	ASSERT_EQ(0, memcmp(img, IMAGE_MAGIC, MAGIC_LEN));
	while (off + REC_HDR_LEN <= len) {
		type = get32(img + off);
		rlen = get32(img + off + 4);
		ASSERT_TRUE(rlen >= REC_HDR_LEN && rlen % 8 == 0 && rlen <= len - off) {
			TH_LOG("record type %u at %zu: length %u", type, off, rlen);
		}
		if (type == REC_VMA) {
			ASSERT_LE(REC_HDR_LEN + VMA_KIND + 4, rlen);
			if (!l->first_vma)
				l->first_vma = off;
			v = img + off + REC_HDR_LEN;
			kind = get32(v + VMA_KIND);
			if (kind >= VMA_KIND_VDSO && kind <= VMA_KIND_VVAR_VCLOCK) {
				if (!l->vdso_lo || get64(v + VMA_START) < l->vdso_lo)
					l->vdso_lo = get64(v + VMA_START);
				if (get64(v + VMA_END) > l->vdso_hi)
					l->vdso_hi = get64(v + VMA_END);
			}
		}
		if (type == REC_PAGES) {
			if (!l->first_pages)
				l->first_pages = off;
			l->pages_end = off + rlen;
		}
		off += rlen;
	}
	ASSERT_EQ(len, off);
	ASSERT_EQ(REC_TAIL, type);
	ASSERT_NE(0, l->first_vma);
	ASSERT_NE(0, l->first_pages);
	ASSERT_NE(0, l->vdso_lo) TH_LOG("the image has no [vdso]");
}

/* Arguments of direct_restart() in its child. */
struct direct {
	int img;
	int log;
	uint64_t vdso_lo;	/* where the image has [vvar] and [vdso] */
	uint64_t vdso_hi;
};

/* In a child: CR_IOC_RESTART on the image; exits with errno if it returns. */
static int direct_restart(void *arg)
{
	struct direct *d = arg;
	struct cr_restart_args args;
	int dev;

	dev = open(CR_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		dprintf(2, "open %s: %m\n", CR_DEVICE);
		return 100;
	}
	if (move_vdso(d->vdso_lo, d->vdso_hi))
		return 102;
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.flags = 0;
	args.fd = d->img;
	args.logfd = d->log;
	args.prefix = 0;
	args.prefix_len = 0;
	if (ioctl(dev, CR_IOC_RESTART, &args) == 0)
		return 101;	/* returned success: it must not return */
	return errno;
}

/* What became of a CR_IOC_RESTART child. */
struct outcome {
	struct proc *p;
	bool running;		/* still running: it was restored */
	char line[256];		/* its first line of output, if any */
	char log[2048];		/* what the module wrote to logfd */
};

/*
 * Calls CR_IOC_RESTART with the first @len bytes of @image, from a file, in
 * a forked child whose stdout we watch: a restored counter prints there.
 */
static void restart_ioctl(struct __test_metadata *_metadata,
			  FIXTURE_DATA(cr) *self, const uint8_t *image,
			  size_t len, const struct layout *l, struct outcome *o)
{
	long long end = now_ms() + START_TIMEOUT;
	char path[PATH_MAX];
	struct direct d;
	int logp[2], r;

	memset(o, 0, sizeof(*o));
	d.img = open(tmp_path(&self->env, path, "damaged.img"),
		     O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, d.img);
	ASSERT_EQ(len, write(d.img, image, len));
	ASSERT_EQ(0, lseek(d.img, 0, SEEK_SET));
	ASSERT_EQ(0, pipe2(logp, O_CLOEXEC));
	d.log = logp[1];
	d.vdso_lo = l->vdso_lo;
	d.vdso_hi = l->vdso_hi;
	o->p = start_ex(_metadata, &self->env, NULL, direct_restart, &d, -1, -1, 0);
	close(logp[1]);
	close(d.img);

	while (!reap(o->p, 0)) {
		r = read_line(&o->p->out, o->line, sizeof(o->line), 50);
		if (r == 1 || now_ms() >= end) {
			o->running = true;
			break;
		}
		if (r == 0)
			usleep(10000);
	}
	slurp(logp[0], o->log, sizeof(o->log), o->running ? 200 : LINE_TIMEOUT);
	close(logp[0]);
}

struct damage {
	const char *name;
	size_t len;		/* bytes of the image kept */
	size_t off;		/* byte changed, if @xor */
	uint8_t xor;
	const char *reason;	/* the log names one of these words */
};

/*
 * Damaged images are refused by the module's own validation (the ioctl is
 * called directly, crctl does not get a chance to check): either the ioctl
 * fails with EINVAL, or, when the damage shows only after the point of no
 * return (page data), the caller is killed with SIGKILL.  Either way logfd
 * has the reason, the image is never restored and the kernel log is clean.
 */
static void try_damaged(struct __test_metadata *_metadata,
			FIXTURE_DATA(cr) *self, uint8_t *buf,
			const struct layout *l, const struct damage *c)
{
	bool einval, killed;
	struct outcome o;
	char how[64];
	int status;

	if (c->xor)
		buf[c->off] ^= c->xor;
	restart_ioctl(_metadata, self, buf, c->len, l, &o);
	if (c->xor)
		buf[c->off] ^= c->xor;

	EXPECT_FALSE(o.running) {
		TH_LOG("%s: restored (it printed \"%s\")", c->name, o.line);
	}
	if (o.running) {
		kill(o.p->pid, SIGKILL);
		reap(o.p, LINE_TIMEOUT);
		return;
	}
	status = o.p->status;
	einval = WIFEXITED(status) && WEXITSTATUS(status) == EINVAL;
	killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	EXPECT_TRUE(einval || killed) {
		TH_LOG("%s: %s, neither EINVAL nor SIGKILL", c->name,
		       describe(status, how, sizeof(how)));
		show_stderr(_metadata, o.p);
	}
	EXPECT_TRUE(o.log[0] && has_word(o.log, c->reason)) {
		TH_LOG("%s: log \"%s\" does not say %s", c->name, o.log,
		       c->reason);
	}
}

TEST_F_TIMEOUT(cr, broken_images, TEST_TIMEOUT)
{
	char img[PATH_MAX], how[64];
	struct damage cases[11];
	struct proc *orig;
	struct outcome o;
	struct layout l;
	struct stat st;
	uint32_t version;
	uint8_t *buf;
	size_t i, len;
	long last = 0;
	int fd;

	orig = start_prog(_metadata, &self->env, "counter", NULL);
	ASSERT_EQ(3, read_counts(_metadata, orig, &last, 3, START_TIMEOUT));
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "counter.img"), false);
	ASSERT_EQ(0, kill(orig->pid, SIGKILL));
	ASSERT_TRUE(reap(orig, START_TIMEOUT));

	fd = open(img, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	len = st.st_size;
	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(len, read(fd, buf, len));
	close(fd);
	walk_image(_metadata, buf, len, &l);
	memcpy(&version, buf + VERSION_OFFSET, sizeof(version));
	ASSERT_EQ(CR_FORMAT_VERSION, le32toh(version));

	/* The undamaged image restores through the same path. */
	restart_ioctl(_metadata, self, buf, len, &l, &o);
	ASSERT_TRUE(o.running) {
		TH_LOG("undamaged image: %s; log: %s",
		       describe(o.p->status, how, sizeof(how)), o.log);
		show_stderr(_metadata, o.p);
	}
	last = atol(o.line);
	ASSERT_LT(0, last) TH_LOG("restored counter printed \"%s\"", o.line);
	ASSERT_EQ(5, read_counts(_metadata, o.p, &last, 5, LINE_TIMEOUT));
	kill(o.p->pid, SIGKILL);
	reap(o.p, LINE_TIMEOUT);

	i = 0;
	cases[i++] = (struct damage){ "truncated to 8 bytes", 8, 0, 0, "truncated" };
	cases[i++] = (struct damage){ "truncated to 100 bytes", 100, 0, 0, "truncated" };
	cases[i++] = (struct damage){ "truncated to 1000 bytes", 1000, 0, 0, "truncated" };
	cases[i++] = (struct damage){ "truncated to half", len / 2, 0, 0, "truncated" };
	cases[i++] = (struct damage){ "truncated by 8 bytes", len - 8, 0, 0, "truncated" };
	cases[i++] = (struct damage){ "bad magic", len, 0, 0xff, "magic" };
	cases[i++] = (struct damage){ "format version 99", len, VERSION_OFFSET,
				      2 ^ 99, "version" };
	cases[i++] = (struct damage){ "first vma: start misaligned", len,
				      l.first_vma + REC_HDR_LEN + VMA_START + 1,
				      0x01, "vma|checksum" };
	cases[i++] = (struct damage){ "first vma: vm_flags changed", len,
				      l.first_vma + REC_HDR_LEN + VMA_VM_FLAGS,
				      0x40, "checksum|vma|field" };
	cases[i++] = (struct damage){ "first page: data changed", len,
				      l.first_pages + REC_HDR_LEN + PAGES_FIXED + 100,
				      0x5a, "checksum" };
	cases[i++] = (struct damage){ "last page: data changed", len,
				      l.pages_end - 1, 0xa5, "checksum" };
	ASSERT_EQ(ARRAY_SIZE(cases), i);

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		try_damaged(_metadata, self, buf, &l, &cases[i]);
	free(buf);
	check_dmesg(_metadata);
}

/* Arguments of direct_checkpoint() in its child. */
struct direct_ckpt {
	pid_t pid;
	int img;
};

/* In a child: CR_IOC_CHECKPOINT; exits 0 or with errno. */
static int direct_checkpoint(void *arg)
{
	struct direct_ckpt *d = arg;
	struct cr_checkpoint_args args;
	int dev;

	dev = open(CR_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		dprintf(2, "open %s: %m\n", CR_DEVICE);
		return 100;
	}
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.pid = d->pid;
	args.fd = d->img;
	args.logfd = 2;
	return ioctl(dev, CR_IOC_CHECKPOINT, &args) ? errno : 0;
}

/*
 * An unprivileged user may checkpoint a process of its own, but not one of
 * root's: EPERM, and not a byte of the image written.
 */
TEST_F_TIMEOUT(cr, permission, TEST_TIMEOUT)
{
	char img[PATH_MAX], pidstr[16], err[4096], how[64], magic[MAGIC_LEN];
	char *argv[] = { "crctl", "checkpoint", "-o", "-", pidstr, NULL };
	char *info[] = { "crctl", "info", img, NULL };
	char exe[PATH_MAX + 16], *counter[] = { exe, NULL };
	struct direct_ckpt d;
	struct proc *mine, *roots, *child;
	long last_mine = 0, last_root = 0;
	struct stat st;
	int fd, status;

	/* Its own process: an image comes out. */
	snprintf(exe, sizeof(exe), "%s/counter", self->env.bin);
	mine = start_ex(_metadata, &self->env, counter, NULL, NULL, -1, -1, AS_NOBODY);
	ASSERT_EQ(3, read_counts(_metadata, mine, &last_mine, 3, START_TIMEOUT));
	fd = open(tmp_path(&self->env, img, "mine.img"),
		  O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	snprintf(pidstr, sizeof(pidstr), "%d", mine->pid);
	status = run_ex(_metadata, &self->env, argv, fd, AS_NOBODY, err, sizeof(err));
	EXPECT_EQ(0, status) TH_LOG("crctl checkpoint as nobody: %s\n%s",
				    status < 0 ? "timeout" : describe(status, how, sizeof(how)),
				    err);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_LT(MAGIC_LEN, st.st_size);
	EXPECT_EQ(MAGIC_LEN, pread(fd, magic, MAGIC_LEN, 0));
	EXPECT_EQ(0, memcmp(magic, IMAGE_MAGIC, MAGIC_LEN));
	close(fd);
	status = run(_metadata, &self->env, info, -1, err, sizeof(err));
	EXPECT_EQ(0, status) TH_LOG("crctl info: %s", err);
	EXPECT_EQ(10, read_counts(_metadata, mine, &last_mine, 10, LINE_TIMEOUT));

	/* root's: refused, by crctl... */
	roots = start_prog(_metadata, &self->env, "counter", NULL);
	ASSERT_EQ(3, read_counts(_metadata, roots, &last_root, 3, START_TIMEOUT));
	fd = open(tmp_path(&self->env, img, "root.img"),
		  O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	snprintf(pidstr, sizeof(pidstr), "%d", roots->pid);
	status = run_ex(_metadata, &self->env, argv, fd, AS_NOBODY, err, sizeof(err));
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) {
		TH_LOG("crctl checkpoint of root's process as nobody: %s",
		       status < 0 ? "timeout" : describe(status, how, sizeof(how)));
	}
	EXPECT_TRUE(has_word(err, "permission|EPERM|not permitted")) {
		TH_LOG("crctl checkpoint stderr: %s", err);
	}

	/* ...and by the kernel. */
	d.pid = roots->pid;
	d.img = fd;
	child = start_ex(_metadata, &self->env, NULL, direct_checkpoint, &d, -1, -1,
			 AS_NOBODY);
	ASSERT_TRUE(reap(child, START_TIMEOUT));
	EXPECT_TRUE(WIFEXITED(child->status) && WEXITSTATUS(child->status) == EPERM) {
		TH_LOG("CR_IOC_CHECKPOINT as nobody: %s, not EPERM",
		       describe(child->status, how, sizeof(how)));
		show_stderr(_metadata, child);
	}
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_size);
	close(fd);

	/* Both targets count on. */
	EXPECT_EQ(10, read_counts(_metadata, roots, &last_root, 10, LINE_TIMEOUT));
	EXPECT_EQ(10, read_counts(_metadata, mine, &last_mine, 10, LINE_TIMEOUT));
}

/*
 * A program nobody here wrote: busybox sh counting with builtins only (no
 * child processes), sleeping in "read -t" on a pipe that never gets data.
 */
TEST_F_TIMEOUT(cr, busybox_sh, TEST_TIMEOUT)
{
	char *argv[] = { "/bin/busybox", "sh", "-c",
			 "i=0; while true; do i=$((i+1)); echo $i; read -t 0.05 x; done",
			 NULL };
	struct proc *orig, *copy;
	char img[PATH_MAX];
	long last = 0;

	if (access(argv[0], X_OK))
		SKIP(return, "no %s", argv[0]);
	orig = start(_metadata, &self->env, argv, -1, -1);
	ASSERT_EQ(5, read_counts(_metadata, orig, &last, 5, START_TIMEOUT));
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "busybox.img"), true);
	expect_sigkill(_metadata, orig);
	ASSERT_LE(0, read_counts(_metadata, orig, &last, TO_EOF, LINE_TIMEOUT));

	copy = restart(_metadata, &self->env, img, 0);
	ASSERT_EQ(1, read_counts(_metadata, copy, &last, 1, START_TIMEOUT));
	expect_restored_as(_metadata, copy, orig->pid, "busybox");
	ASSERT_EQ(20, read_counts(_metadata, copy, &last, 20, LINE_TIMEOUT));
}

/* ---- the pid: the original by default, else exec-style, and --new-pid ---- */

/* A line of progs/pidcheck.c: "T <n> <pid> PID same|changed". */
struct tick {
	unsigned long n;
	pid_t pid;
	char state[16];
};

static void next_tick(struct __test_metadata *_metadata, struct proc *p,
		      struct tick *t, int timeout)
{
	char line[256];

	next_line(_metadata, p, line, sizeof(line), timeout);
	ASSERT_EQ(3, sscanf(line, "T %lu %d PID %15s", &t->n, &t->pid, t->state)) {
		TH_LOG("%s (pid %d): \"%s\"", p->name, p->pid, line);
	}
}

/* Starts progs/pidcheck (as nobody with AS_NOBODY), which says "PID same". */
static struct proc *start_pidcheck(struct __test_metadata *_metadata,
				   FIXTURE_DATA(cr) *self, int flags)
{
	char exe[PATH_MAX + 16], *argv[] = { exe, NULL }, line[256];
	struct proc *p;
	struct tick t;
	pid_t start;
	int i;

	snprintf(exe, sizeof(exe), "%s/pidcheck", self->env.bin);
	p = start_ex(_metadata, &self->env, argv, NULL, NULL, -1, -1, flags);
	next_line(_metadata, p, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, sscanf(line, "START %d", &start)) TH_LOG("\"%s\"", line);
	EXPECT_EQ(p->pid, start);
	for (i = 1; i <= 3; i++) {
		next_tick(_metadata, p, &t, LINE_TIMEOUT);
		EXPECT_EQ(i, t.n);
		EXPECT_EQ(p->pid, t.pid);
		EXPECT_STREQ("same", t.state);
	}
	return p;
}

/* The number of the last tick @p printed before its output ended. */
static unsigned long last_tick(struct __test_metadata *_metadata, struct proc *p)
{
	unsigned long last = 0;
	char line[256];
	struct tick t;

	while (read_line(&p->out, line, sizeof(line), LINE_TIMEOUT) == 1) {
		ASSERT_EQ(3, sscanf(line, "T %lu %d PID %15s", &t.n, &t.pid, t.state)) {
			TH_LOG("%s: \"%s\"", p->name, line);
		}
		last = t.n;
	}
	ASSERT_LT(0, last);
	return last;
}

/*
 * "crctl restart [@opt] -i @image" (@opt NULL: none), as nobody with
 * AS_NOBODY in @flags, on pipes as restart() does.
 */
static struct proc *restart_opt(struct __test_metadata *_metadata,
				FIXTURE_DATA(cr) *self, const char *image,
				const char *opt, int flags)
{
	char *argv[] = { "crctl", "restart", (char *)opt, "-i", (char *)image, NULL };

	if (!opt)
		memmove(&argv[2], &argv[3], 3 * sizeof(argv[0]));
	return start_ex(_metadata, &self->env, argv, NULL, NULL, -1, -1, flags);
}

/* The next line crctl (@p) writes on stderr must be @want. */
static void expect_err_line(struct __test_metadata *_metadata, struct proc *p,
			    struct lbuf *err, const char *want)
{
	char line[512];
	int r;

	r = read_line(err, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, r) TH_LOG("%s: no line on stderr (%s)", p->name,
			       r ? strerror(-r) : "end of file");
	EXPECT_STREQ(want, line);
}

/* Nothing (more) on @p's stderr, which is still open. */
static void expect_quiet(struct __test_metadata *_metadata, struct proc *p,
			 struct lbuf *err)
{
	char buf[4096];

	ASSERT_EQ(0, err->len) TH_LOG("%s: stderr \"%.*s\"", p->name,
				      (int)err->len, err->buf);
	slurp(err->fd, buf, sizeof(buf), 300);
	EXPECT_STREQ("", buf) TH_LOG("%s: stderr", p->name);
}

/*
 * A program that remembers its pid, as one with a pid file does
 * (progs/pidcheck.c), gets it back by default: the copy says "PID same"
 * from its first tick, which follows the original's last, as a child of
 * crctl, which prints nothing.  A signal sent to crctl is passed on to the
 * program, and crctl exits as it did (128 + the signal).  Restored again
 * from the same image with -v, crctl says it kept the pid.
 */
TEST_F_TIMEOUT(cr, original_pid, TEST_TIMEOUT)
{
	char img[PATH_MAX], want[256];
	struct proc *orig, *copy;
	unsigned long last;
	struct lbuf err;
	struct tick t;
	int i;

	orig = start_pidcheck(_metadata, self, 0);
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "pidcheck.img"), true);
	expect_sigkill(_metadata, orig);
	last = last_tick(_metadata, orig);

	copy = restart(_metadata, &self->env, img, 0);
	for (i = 1; i <= 5; i++) {
		next_tick(_metadata, copy, &t, i == 1 ? START_TIMEOUT : LINE_TIMEOUT);
		EXPECT_EQ(last + i, t.n);
		EXPECT_EQ(orig->pid, t.pid);
		EXPECT_STREQ("same", t.state);
	}
	expect_restored_as(_metadata, copy, orig->pid, "pidcheck");
	err = (struct lbuf){ .fd = copy->err };
	expect_quiet(_metadata, copy, &err);
	ASSERT_EQ(0, kill(copy->pid, SIGTERM));
	expect_exit(_metadata, copy, 128 + SIGTERM);
	EXPECT_TRUE(wait_gone(orig->pid, START_TIMEOUT));
	forget(&self->env, copy);

	copy = restart_opt(_metadata, self, img, "-v", 0);
	next_tick(_metadata, copy, &t, START_TIMEOUT);
	EXPECT_EQ(last + 1, t.n);
	EXPECT_EQ(orig->pid, t.pid);
	EXPECT_STREQ("same", t.state);
	err = (struct lbuf){ .fd = copy->err };
	snprintf(want, sizeof(want),
		 "crctl: restart: pid %d restored with its original pid", orig->pid);
	expect_err_line(_metadata, copy, &err, want);
	expect_quiet(_metadata, copy, &err);
}

/*
 * While the original runs (checkpoint without --kill) its pid is taken:
 * crctl says so in one line on stderr and restores the copy exec-style,
 * under crctl's own pid, where it says "PID changed".  The original goes
 * on, under its own.
 */
TEST_F_TIMEOUT(cr, pid_taken, TEST_TIMEOUT)
{
	char img[PATH_MAX], want[256];
	struct proc *orig, *copy;
	struct lbuf err;
	struct tick t;

	orig = start_pidcheck(_metadata, self, 0);
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "pidcheck.img"), false);

	copy = restart(_metadata, &self->env, img, 0);
	next_tick(_metadata, copy, &t, START_TIMEOUT);
	EXPECT_EQ(copy->pid, t.pid);
	EXPECT_STREQ("changed", t.state);
	expect_exe(_metadata, copy->pid, "pidcheck");
	err = (struct lbuf){ .fd = copy->err };
	snprintf(want, sizeof(want),
		 "crctl: restart: pid %d is taken: restoring as pid %d (exec-style); --new-pid to choose this without the warning",
		 orig->pid, copy->pid);
	expect_err_line(_metadata, copy, &err, want);
	expect_quiet(_metadata, copy, &err);

	next_tick(_metadata, orig, &t, LINE_TIMEOUT);
	EXPECT_EQ(orig->pid, t.pid);
	EXPECT_STREQ("same", t.state);
	EXPECT_FALSE(reap(orig, 0));
	EXPECT_FALSE(reap(copy, 0));
}

/*
 * With --pidns the copy has the original pid in a new pid namespace, even
 * while the original runs: "PID same" there, and nothing said.
 */
TEST_F_TIMEOUT(cr, pid_taken_pidns, TEST_TIMEOUT)
{
	struct proc *orig, *copy;
	char img[PATH_MAX];
	struct lbuf err;
	struct tick t;

	orig = start_pidcheck(_metadata, self, 0);
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "pidcheck.img"), false);

	copy = restart_opt(_metadata, self, img, "--pidns", 0);
	next_tick(_metadata, copy, &t, START_TIMEOUT);
	EXPECT_EQ(orig->pid, t.pid);
	EXPECT_STREQ("same", t.state);
	err = (struct lbuf){ .fd = copy->err };
	expect_quiet(_metadata, copy, &err);
	/* orig->pid out here is still the original, the test's child. */
	EXPECT_EQ(getpid(), parent_of(orig->pid));
	next_tick(_metadata, orig, &t, LINE_TIMEOUT);
	EXPECT_EQ(orig->pid, t.pid);
	EXPECT_FALSE(reap(copy, 0));
}

/*
 * --new-pid restores exec-style on purpose, without a word: the copy is
 * crctl's process, under its pid ("PID changed"), and dies as the program
 * does.
 */
TEST_F_TIMEOUT(cr, new_pid, TEST_TIMEOUT)
{
	struct proc *orig, *copy;
	char img[PATH_MAX];
	unsigned long last;
	struct lbuf err;
	struct tick t;

	orig = start_pidcheck(_metadata, self, 0);
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "pidcheck.img"), true);
	expect_sigkill(_metadata, orig);
	last = last_tick(_metadata, orig);

	copy = restart_opt(_metadata, self, img, "--new-pid", 0);
	next_tick(_metadata, copy, &t, START_TIMEOUT);
	EXPECT_EQ(last + 1, t.n);
	EXPECT_EQ(copy->pid, t.pid);
	EXPECT_STREQ("changed", t.state);
	expect_exe(_metadata, copy->pid, "pidcheck");
	err = (struct lbuf){ .fd = copy->err };
	expect_quiet(_metadata, copy, &err);
	ASSERT_EQ(0, kill(copy->pid, SIGKILL));
	expect_sigkill(_metadata, copy);
}

/*
 * An unprivileged user (nobody) restoring its own program has no
 * CAP_CHECKPOINT_RESTORE to ask for a pid: crctl says so and restores it
 * exec-style, under crctl's pid, even though the original pid is free.
 */
TEST_F_TIMEOUT(cr, pid_unprivileged, TEST_TIMEOUT)
{
	char img[PATH_MAX], want[256];
	struct proc *orig, *copy;
	unsigned long last;
	struct lbuf err;
	struct tick t;

	orig = start_pidcheck(_metadata, self, AS_NOBODY);
	checkpoint_one(_metadata, self, orig->pid,
		       tmp_path(&self->env, img, "pidcheck.img"), true);
	expect_sigkill(_metadata, orig);
	last = last_tick(_metadata, orig);
	/* nobody reads the image where root wrote it. */
	ASSERT_EQ(0, chmod(self->env.dir, 0711));
	ASSERT_EQ(0, chmod(img, 0644));

	copy = restart_opt(_metadata, self, img, NULL, AS_NOBODY);
	next_tick(_metadata, copy, &t, START_TIMEOUT);
	EXPECT_EQ(last + 1, t.n);
	EXPECT_EQ(copy->pid, t.pid);
	EXPECT_STREQ("changed", t.state);
	err = (struct lbuf){ .fd = copy->err };
	snprintf(want, sizeof(want),
		 "crctl: restart: no CAP_CHECKPOINT_RESTORE to restore pid %d: restoring as pid %d (exec-style); --new-pid to choose this without the warning",
		 orig->pid, copy->pid);
	expect_err_line(_metadata, copy, &err, want);
	expect_quiet(_metadata, copy, &err);
}

TEST_HARNESS_MAIN
