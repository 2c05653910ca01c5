// SPDX-License-Identifier: GPL-2.0
/*
 * Stress and fault tests of cr, with figures in their logs:
 *
 * - threads64_cycles: a process of 64 threads rewriting 4 MiB is
 *   checkpointed and restarted 100 times in a row (CR_STRESS_CYCLES), each
 *   restored copy the next one's target.  Before each checkpoint the
 *   program stops its threads at a round boundary and prints a hash of all
 *   their memory; the restored copy must print the same hash, then go on.
 *   The threads also check every word they wrote, every round.
 *
 * - races: processes that exit, exec, fork, create threads or are killed
 *   while a checkpoint of them runs, many times each (CR_RACE_N).  Every
 *   checkpoint must end, with an image that crctl info accepts or with an
 *   errno and a log line; every target must then end as it would have
 *   without the checkpoint (progs/racer.c's exit status 7, or SIGKILL).
 *
 * - write_fault_every_boundary: a checkpoint of a 5-thread process whose
 *   image file may not grow past each record boundary in turn
 *   (RLIMIT_FSIZE): each fails with EFBIG and a log line naming that byte,
 *   and the target runs on with its memory unchanged.
 *
 * - unload_while_busy: rmmod cr is refused while a checkpoint or a
 *   restart is in progress (the open /dev/cr file pins the module), both
 *   finish correctly, and the module unloads once they are done.
 *
 * - memory_pressure: with all but 32 MiB of the guest's memory taken by a
 *   hog, a 16 MiB process is checkpointed into a pipe: the checkpoint
 *   succeeds or fails with ENOMEM and a log line, the target is untouched,
 *   and the OOM killer never runs.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <endian.h>
#include <sys/syscall.h>
#include <linux/cr.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300	/* s: one whole test */
#define CYCLES_TIMEOUT	5400	/* s: the 100 cycles (about 10 s each, emulated) */
#define RACE_TIMEOUT	1200	/* s: all the races */

#define STRESS_CYCLES	100
#define STRESS_THREADS	64
#define RACE_N		40	/* tries of each kind of race */
#define MAX_TIDS	(STRESS_THREADS + 8)

FIXTURE(stress) {
	struct cr_env env;
};

FIXTURE_SETUP(stress)
{
	cr_env_setup(_metadata, &self->env, "cr_stress");
}

FIXTURE_TEARDOWN(stress)
{
	cr_env_teardown(&self->env);
}

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && atoi(v) > 0 ? atoi(v) : def;
}

/* Waits up to @timeout ms until @pid is stopped (state T). */
static void wait_stopped(struct __test_metadata *_metadata, pid_t pid,
			 int timeout)
{
	long long end = now_ms() + timeout;

	while (proc_state(pid) != 'T') {
		ASSERT_LT(now_ms(), end) {
			TH_LOG("pid %d not stopped (state %c)", pid,
			       proc_state(pid) ?: '-');
		}
		usleep(10000);
	}
}

/* progs/stress.c's next line, which must be "HASH <hash> <rounds>". */
static void read_hash(struct __test_metadata *_metadata, struct proc *p,
		      char *hash, unsigned long long *rounds, int timeout)
{
	char line[256];

	next_line(_metadata, p, line, sizeof(line), timeout);
	ASSERT_EQ(2, sscanf(line, "HASH %16s %llu", hash, rounds)) {
		TH_LOG("%s: \"%s\", not a HASH line", p->name, line);
	}
}

/* Lets progs/stress.c go on; returns the rounds it says it has done. */
static unsigned long long go(struct __test_metadata *_metadata,
			     struct proc *p, pid_t pid)
{
	unsigned long long rounds = 0;
	char line[256];

	EXPECT_EQ(0, kill(pid, SIGUSR2));
	next_line(_metadata, p, line, sizeof(line), LINE_TIMEOUT);
	EXPECT_EQ(1, sscanf(line, "GO %llu", &rounds)) TH_LOG("\"%s\"", line);
	return rounds;
}

static long meminfo(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = atol(line + strlen(key) + 1);
	}
	fclose(f);
	return v;	/* kB */
}

/* ---- 100 cycles of a 64-thread process ---- */

TEST_F_TIMEOUT(stress, threads64_cycles, CYCLES_TIMEOUT)
{
	int cycles = env_int("CR_STRESS_CYCLES", STRESS_CYCLES), c, i, n;
	unsigned long long before, after, last = 0, total = 0;
	char img[PATH_MAX], line[256], h0[20], h1[20];
	struct cr_env *env = &self->env;
	long long t0 = now_ms(), bytes = 0;
	pid_t pid, tids[MAX_TIDS];
	struct proc *cur, *copy;
	struct stat st;

	cur = start_prog(_metadata, env, "stress", "64", "16", NULL);
	pid = cur->pid;
	next_line(_metadata, cur, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("READY 64 16", line);
	tmp_path(env, img, "stress.img");

	for (c = 0; c < cycles; c++) {
		/* A few rounds of every thread since the last cycle. */
		usleep(200000);
		ASSERT_EQ(0, kill(pid, SIGUSR1));
		read_hash(_metadata, cur, h0, &before, START_TIMEOUT);
		ASSERT_LT(last, before) TH_LOG("cycle %d: no progress", c + 1);
		n = task_ids(pid, tids, MAX_TIDS);
		ASSERT_EQ(STRESS_THREADS + 1, n);

		checkpoint(_metadata, env, pid, img);
		if (c == 0)
			expect_sigkill(_metadata, cur);
		else
			expect_exit(_metadata, cur, 128 + SIGKILL);
		for (i = 0; i < n; i++)
			ASSERT_TRUE(wait_gone(tids[i], START_TIMEOUT));
		ASSERT_EQ(0, stat(img, &st));
		bytes += st.st_size;

		/* Stopped, so that SIGUSR1 meets the restored handler. */
		copy = restart(_metadata, env, img, STOPPED);
		forget(env, cur);
		cur = copy;
		wait_stopped(_metadata, pid, START_TIMEOUT);
		ASSERT_EQ(STRESS_THREADS + 1, task_ids(pid, tids, MAX_TIDS));
		ASSERT_EQ(0, kill(pid, SIGUSR1));
		ASSERT_EQ(0, kill(pid, SIGCONT));
		read_hash(_metadata, cur, h1, &after, START_TIMEOUT);
		ASSERT_STREQ(h0, h1) TH_LOG("cycle %d: memory differs", c + 1);
		ASSERT_EQ(before, after);
		last = go(_metadata, cur, pid);
		ASSERT_LE(after, last);
		total = last;
		if ((c + 1) % 10 == 0)
			TH_LOG("cycle %d: hash %s, %llu rounds, %lld s", c + 1,
			       h1, after, (now_ms() - t0) / 1000);
	}
	TH_LOG("figures: %d checkpoint/restart cycles of %d threads in %lld s: images of %lld KiB on average, %llu rounds written, every hash equal after restart",
	       cycles, STRESS_THREADS, (now_ms() - t0) / 1000,
	       bytes / 1024 / (cycles ?: 1), total);
	check_dmesg(_metadata);
}

/* ---- races: targets that change under the checkpoint ---- */

/*
 * CR_IOC_CHECKPOINT of @pid into @img_fd, from this process.  Returns 0
 * or the errno, with what the module wrote to logfd in @log.
 */
static int ckpt_ioctl(pid_t pid, int img_fd, char *log, size_t size)
{
	struct cr_checkpoint_args args;
	int dev, logp[2], r;
	ssize_t n;

	log[0] = 0;
	dev = open(CR_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	if (pipe2(logp, O_CLOEXEC | O_NONBLOCK)) {
		close(dev);
		return -errno;
	}
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.pid = pid;
	args.fd = img_fd;
	args.logfd = logp[1];
	r = ioctl(dev, CR_IOC_CHECKPOINT, &args) ? errno : 0;
	close(logp[1]);
	n = read(logp[0], log, size - 1);
	log[n > 0 ? n : 0] = 0;
	close(logp[0]);
	close(dev);
	return r;
}

enum race { RACE_EXIT, RACE_EXEC, RACE_FORK, RACE_THREADS, RACE_KILL, NR_RACES };

static const char *const race_mode[NR_RACES] = {
	"exit", "exec", "fork", "threads", "exit",
};
static const char *const race_name[NR_RACES] = {
	"exits", "execs", "forks", "creates threads", "is killed",
};

struct race_count {
	int tries, images, failed;
	int by_errno[256];
	char why[256][96];	/* the first log line of each errno */
};

static void one_race(struct __test_metadata *_metadata, struct cr_env *env,
		     enum race kind, int i, struct race_count *rc)
{
	char img[PATH_MAX], us[16], log[2048], err[4096], how[64], line[64];
	char *info[] = { "crctl", "info", img, NULL };
	pid_t killer = -1;
	struct proc *p;
	int fd, r, status, run_us;

	/*
	 * How long the target runs; the checkpoint starts within 3 ms of its
	 * end (of its exec, for the exec race), before or after.
	 */
	run_us = 3000 + (i * 7919) % 10000;
	snprintf(us, sizeof(us), "%d", kind == RACE_KILL ? 20000000 : run_us);
	p = start_prog(_metadata, env, "racer", race_mode[kind], us, NULL);
	/* Race with the target's own doings, not with our fork and exec. */
	next_line(_metadata, p, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("R", line);
	if (kind == RACE_KILL) {
		killer = fork();
		ASSERT_LE(0, killer);
		if (killer == 0) {
			usleep((i * 3571) % 10000);
			kill(p->pid, SIGKILL);
			_exit(0);
		}
	}
	usleep(run_us - 3000 + (i * 1297) % 6000);
	fd = open(tmp_path(env, img, "race.img"),
		  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	r = ckpt_ioctl(p->pid, fd, log, sizeof(log));
	close(fd);
	ASSERT_LE(0, r) TH_LOG("cannot open %s: %s", CR_DEVICE, strerror(-r));
	rc->tries++;
	if (r == 0) {
		rc->images++;
		status = run(_metadata, env, info, -1, err, sizeof(err));
		EXPECT_EQ(0, status) {
			TH_LOG("%s, try %d: crctl info of the image: %s", race_name[kind], i, err);
		}
	} else {
		rc->failed++;
		if (!rc->by_errno[r & 255]++)
			snprintf(rc->why[r & 255], sizeof(rc->why[0]), "%.*s",
				 (int)strcspn(log, "\n"), log);
		EXPECT_NE(0, log[0]) {
			TH_LOG("%s, try %d: %s and no log line", race_name[kind], i, strerror(r));
		}
		/* Failing late is fine; hanging until a timeout is not. */
		EXPECT_NE(ETIMEDOUT, r) TH_LOG("%s", log);
	}

	/* The target ends just as it would have without the checkpoint. */
	ASSERT_TRUE(reap(p, START_TIMEOUT)) {
		TH_LOG("%s, try %d: the target (pid %d, state %c) did not end",
		       race_name[kind], i, p->pid, proc_state(p->pid));
	}
	if (kind == RACE_KILL) {
		EXPECT_TRUE(WIFSIGNALED(p->status) && WTERMSIG(p->status) == SIGKILL) {
			TH_LOG("try %d: %s", i, describe(p->status, how, sizeof(how)));
		}
		ASSERT_EQ(killer, waitpid(killer, &status, 0));
	} else if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != 7) {
		show_stderr(_metadata, p);
		EXPECT_TRUE(0) {
			TH_LOG("%s, try %d: target %s after a checkpoint that %s",
			       race_name[kind], i,
			       describe(p->status, how, sizeof(how)),
			       r ? strerror(r) : "succeeded");
		}
	}
	forget(env, p);
}

TEST_F_TIMEOUT(stress, races, RACE_TIMEOUT)
{
	int n = env_int("CR_RACE_N", RACE_N), i, e, kind;
	static struct race_count rc[NR_RACES];
	char summary[512];
	long long t0 = now_ms();
	size_t len;

	memset(rc, 0, sizeof(rc));
	for (i = 0; i < n; i++) {
		for (kind = 0; kind < NR_RACES; kind++)
			one_race(_metadata, &self->env, kind, i, &rc[kind]);
	}
	for (kind = 0; kind < NR_RACES; kind++) {
		len = snprintf(summary, sizeof(summary),
			       "target that %s: %d checkpoints, %d images",
			       race_name[kind], rc[kind].tries, rc[kind].images);
		for (e = 1; e < 256; e++) {
			if (rc[kind].by_errno[e] && len < sizeof(summary))
				len += snprintf(summary + len, sizeof(summary) - len,
						", %d %s", rc[kind].by_errno[e],
						strerrorname_np(e) ?: "?");
		}
		TH_LOG("figures: races: %s", summary);
		for (e = 1; e < 256; e++) {
			if (rc[kind].by_errno[e])
				TH_LOG("  e.g. %s", rc[kind].why[e]);
		}
	}
	TH_LOG("figures: %d races in %lld s, every checkpoint ended and every target ended as it would have",
	       n * NR_RACES, (now_ms() - t0) / 1000);
	check_dmesg(_metadata);
}

/* ---- the destination fails at every record boundary ---- */

#define MAGIC_LEN	8
#define REC_HDR_LEN	8
#define MAX_BOUNDARIES	400

/* The offsets at which the records of the image in @fd start, and its end. */
static int record_boundaries(struct __test_metadata *_metadata, int fd,
			     long long *at, int max)
{
	struct stat st;
	uint32_t hdr[2];
	long long off = MAGIC_LEN;
	int n = 0;

	if (fstat(fd, &st))
		return -1;
	while (off + REC_HDR_LEN <= st.st_size && n < max) {
		if (pread(fd, hdr, sizeof(hdr), off) != sizeof(hdr))
			return -1;
		at[n++] = off;
		if (le32toh(hdr[1]) < REC_HDR_LEN)
			return -1;
		off += le32toh(hdr[1]);
	}
	if (off != st.st_size)
		return -1;
	if (n < max)
		at[n++] = off;
	return n;
}

/*
 * In a child whose files may not grow past @limit bytes: CR_IOC_CHECKPOINT
 * of @pid into @path.  Returns the errno (0 on success), the log in @log.
 */
static int ckpt_limited(pid_t pid, const char *path, long long limit,
			char *log, size_t size)
{
	struct rlimit rl = { limit, limit };
	int logp[2], status, fd, r;
	pid_t child;
	ssize_t n;

	log[0] = 0;
	if (pipe2(logp, O_CLOEXEC))
		return -1;
	child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		/* EFBIG rather than death by SIGXFSZ. */
		signal(SIGXFSZ, SIG_IGN);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || setrlimit(RLIMIT_FSIZE, &rl))
			_exit(255);
		r = ckpt_ioctl(pid, fd, log, size);
		if (write(logp[1], log, strlen(log)) < 0)
			_exit(255);
		_exit(r >= 0 && r < 255 ? r : 255);
	}
	close(logp[1]);
	waitpid(child, &status, 0);
	n = read(logp[0], log, size - 1);
	log[n > 0 ? n : 0] = 0;
	close(logp[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F_TIMEOUT(stress, write_fault_every_boundary, RACE_TIMEOUT)
{
	struct cr_env *env = &self->env;
	char img[PATH_MAX], bad[PATH_MAX], line[256], log[2048];
	char h0[20], h1[20], want[64];
	unsigned long long before, after;
	long long at[MAX_BOUNDARIES], t0;
	struct proc *orig;
	int fd, n, i, e;

	orig = start_prog(_metadata, env, "stress", "4", "96", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("READY 4 96", line);
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	read_hash(_metadata, orig, h0, &before, START_TIMEOUT);

	/* A complete image first, for its record boundaries. */
	fd = open(tmp_path(env, img, "whole.img"),
		  O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	e = ckpt_ioctl(orig->pid, fd, log, sizeof(log));
	ASSERT_EQ(0, e) TH_LOG("%s", log);
	n = record_boundaries(_metadata, fd, at, MAX_BOUNDARIES);
	close(fd);
	ASSERT_LT(10, n) TH_LOG("the image has %d records", n);

	t0 = now_ms();
	tmp_path(env, bad, "cut.img");
	for (i = 0; i < n; i++) {
		e = ckpt_limited(orig->pid, bad, at[i], log, sizeof(log));
		/* The whole image fits exactly below the last limit. */
		if (i == n - 1) {
			EXPECT_EQ(0, e) TH_LOG("limit at the end: %s", log);
			continue;
		}
		EXPECT_EQ(EFBIG, e) {
			TH_LOG("limit %lld (record %d): %s: %s", at[i], i,
			       e > 0 ? strerror(e) : "no errno", log);
		}
		snprintf(want, sizeof(want), "failed at byte %lld", at[i]);
		EXPECT_NE(NULL, strstr(log, want)) TH_LOG("want \"%s\" in: %s", want, log);
		/* And the target never noticed. */
		ASSERT_FALSE(reap(orig, 0));
	}
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	read_hash(_metadata, orig, h1, &after, LINE_TIMEOUT);
	ASSERT_STREQ(h0, h1);
	ASSERT_EQ(before, after);
	ASSERT_LE(after, go(_metadata, orig, orig->pid));
	TH_LOG("figures: write faults at %d record boundaries: the image cut at each, EFBIG and a log line each time, the target unharmed (%lld s)",
	       n - 1, (now_ms() - t0) / 1000);
	check_dmesg(_metadata);
}

/* ---- unloading the module while it works ---- */

struct bg_ckpt {
	pid_t pid;
	int fd;			/* write end of a pipe; closed when done */
	int err;
	char log[1024];
};

static void *bg_checkpoint(void *arg)
{
	struct bg_ckpt *b = arg;

	b->err = ckpt_ioctl(b->pid, b->fd, b->log, sizeof(b->log));
	close(b->fd);
	return NULL;
}

static int unload_cr(void)
{
	return syscall(__NR_delete_module, "cr", O_NONBLOCK) ? errno : 0;
}

/* Copies @in to @out until end of file; returns the bytes copied. */
static long long copy_all(int in, int out)
{
	long long total = 0;
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0 && write(out, buf, n) != n)
			return -1;
		total += n > 0 ? n : 0;
	}
	return n < 0 ? -1 : total;
}

TEST_F_TIMEOUT(stress, unload_while_busy, TEST_TIMEOUT)
{
	char *argv[] = { "crctl", "restart", "--stopped", "-i", "-", NULL };
	unsigned long long before, after;
	struct cr_env *env = &self->env;
	char img[PATH_MAX], cmd[PATH_MAX + 64], line[256], h0[20], h1[20];
	const char *top = getenv("CR_TOP");
	pid_t pid, tids[MAX_TIDS];
	struct proc *orig, *copy;
	int pp[2], fd, queued, e, n, i;
	long long size, end;
	struct bg_ckpt b;
	pthread_t th;
	void *data;

	if (!top)
		SKIP(return, "CR_TOP not set: not run by tools/vm/run");
	orig = start_prog(_metadata, env, "stress", "4", "64", NULL);
	pid = orig->pid;
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("READY 4 64", line);
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	read_hash(_metadata, orig, h0, &before, START_TIMEOUT);

	/* A checkpoint blocked on a full pipe: rmmod must be refused. */
	ASSERT_EQ(0, pipe2(pp, O_CLOEXEC));
	memset(&b, 0, sizeof(b));
	b.pid = pid;
	b.fd = pp[1];
	ASSERT_EQ(0, pthread_create(&th, NULL, bg_checkpoint, &b));
	for (end = now_ms() + START_TIMEOUT;; usleep(10000)) {
		ASSERT_EQ(0, ioctl(pp[0], FIONREAD, &queued));
		if (queued >= 65536)
			break;
		ASSERT_LT(now_ms(), end) TH_LOG("the image stalled at %d bytes", queued);
	}
	e = unload_cr();
	EXPECT_TRUE(e == EWOULDBLOCK || e == EBUSY) {
		TH_LOG("rmmod during a checkpoint: %s", e ? strerror(e) : "unloaded");
	}
	ASSERT_EQ(0, access(CR_DEVICE, F_OK));
	fd = open(tmp_path(env, img, "unload.img"),
		  O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	size = copy_all(pp[0], fd);
	close(pp[0]);
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, b.err) TH_LOG("checkpoint: %s", b.log);
	ASSERT_LT(65536, size);

	/* The target did not notice. */
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	read_hash(_metadata, orig, h1, &after, LINE_TIMEOUT);
	ASSERT_STREQ(h0, h1);
	n = task_ids(pid, tids, MAX_TIDS);
	ASSERT_EQ(5, n);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_TRUE(reap(orig, START_TIMEOUT));
	for (i = 0; i < n; i++)
		ASSERT_TRUE(wait_gone(tids[i], START_TIMEOUT));

	/* A restart fed half its image: rmmod must be refused too. */
	copy = start(_metadata, env, argv, -1, -1);
	data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, data);
	ASSERT_EQ(size / 2, write(copy->in, data, size / 2));
	usleep(500000);
	e = unload_cr();
	EXPECT_TRUE(e == EWOULDBLOCK || e == EBUSY) {
		TH_LOG("rmmod during a restart: %s", e ? strerror(e) : "unloaded");
	}
	ASSERT_EQ(size - size / 2, write(copy->in, (char *)data + size / 2,
					 size - size / 2));
	munmap(data, size);
	close(fd);
	close(copy->in);
	copy->in = -1;
	wait_stopped(_metadata, pid, START_TIMEOUT);
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	ASSERT_EQ(0, kill(pid, SIGCONT));
	read_hash(_metadata, copy, h1, &after, START_TIMEOUT);
	ASSERT_STREQ(h0, h1);
	ASSERT_EQ(before, after);
	go(_metadata, copy, pid);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	expect_exit(_metadata, copy, 128 + SIGKILL);
	ASSERT_TRUE(wait_gone(pid, START_TIMEOUT));

	/* Nobody uses it any more: it unloads, and loads again. */
	for (end = now_ms() + LINE_TIMEOUT; (e = unload_cr()); usleep(100000)) {
		ASSERT_LT(now_ms(), end) TH_LOG("rmmod when idle: %s", strerror(e));
	}
	ASSERT_NE(0, access(CR_DEVICE, F_OK));
	snprintf(cmd, sizeof(cmd), "insmod %s/rust/cr.ko", top);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, chmod(CR_DEVICE, 0666));
	TH_LOG("figures: rmmod refused during a checkpoint and during a restart, both completed, then the module unloaded and loaded again");
	check_dmesg(_metadata);
}

/* ---- checkpoint with almost no free memory ---- */

/*
 * A child that takes all but @leave_kb of the memory available, and stays.
 * It is the OOM killer's first choice, should it run.
 */
static pid_t start_hog(struct __test_metadata *_metadata, long leave_kb)
{
	int ready[2], fd;
	long avail;
	size_t size;
	char c = 0;
	pid_t pid;
	void *p;

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		fd = open("/proc/self/oom_score_adj", O_WRONLY);
		if (fd >= 0 && write(fd, "1000", 4) == 4)
			close(fd);
		avail = meminfo("MemAvailable");
		if (avail > leave_kb) {
			size = (size_t)(avail - leave_kb) * 1024;
			p = mmap(NULL, size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			c = p != MAP_FAILED;
		}
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(ready[0]);
	ASSERT_EQ(1, c) TH_LOG("the hog could not take its memory");
	return pid;
}

static bool oom_killer_ran(void)
{
	return system("dmesg | grep -Eq 'invoked oom-killer|Out of memory|oom-kill:'") == 0;
}

TEST_F_TIMEOUT(stress, memory_pressure, TEST_TIMEOUT)
{
	long avail0, avail1, avail2;
	unsigned long long before, after;
	struct cr_env *env = &self->env;
	char line[256], h0[20], h1[20];
	struct proc *target, *bystander;
	long long size, t0;
	struct bg_ckpt b;
	int pp[2], null;
	pthread_t th;
	pid_t hog;

	ASSERT_FALSE(oom_killer_ran()) TH_LOG("the OOM killer ran before the test");
	bystander = start_prog(_metadata, env, "counter", "100000", NULL);
	next_line(_metadata, bystander, line, sizeof(line), START_TIMEOUT);
	target = start_prog(_metadata, env, "stress", "16", "256", NULL);
	next_line(_metadata, target, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("READY 16 256", line);
	ASSERT_EQ(0, kill(target->pid, SIGUSR1));
	read_hash(_metadata, target, h0, &before, START_TIMEOUT);

	avail0 = meminfo("MemAvailable");
	hog = start_hog(_metadata, 32 * 1024);
	avail1 = meminfo("MemAvailable");

	/* Into a pipe, so that the image takes no memory in the guest. */
	ASSERT_EQ(0, pipe2(pp, O_CLOEXEC));
	memset(&b, 0, sizeof(b));
	b.pid = target->pid;
	b.fd = pp[1];
	t0 = now_ms();
	ASSERT_EQ(0, pthread_create(&th, NULL, bg_checkpoint, &b));
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, null);
	size = copy_all(pp[0], null);
	close(null);
	close(pp[0]);
	ASSERT_EQ(0, pthread_join(th, NULL));
	avail2 = meminfo("MemAvailable");
	EXPECT_TRUE(b.err == 0 || (b.err == ENOMEM && b.log[0])) {
		TH_LOG("checkpoint under pressure: %s: %s", strerror(b.err), b.log);
	}
	TH_LOG("figures: memory pressure: MemAvailable %ld MiB, %ld MiB with the hog, %ld MiB after; checkpoint: %s, %lld KiB in %lld ms",
	       avail0 / 1024, avail1 / 1024, avail2 / 1024,
	       b.err ? strerror(b.err) : "done", size / 1024, now_ms() - t0);

	/* Nobody was killed, and the target did not notice. */
	EXPECT_FALSE(oom_killer_ran());
	EXPECT_EQ(0, waitpid(hog, NULL, WNOHANG)) TH_LOG("the hog died");
	kill(hog, SIGKILL);
	waitpid(hog, NULL, 0);
	ASSERT_EQ(0, kill(target->pid, SIGUSR1));
	read_hash(_metadata, target, h1, &after, LINE_TIMEOUT);
	ASSERT_STREQ(h0, h1);
	ASSERT_EQ(before, after);
	go(_metadata, target, target->pid);
	EXPECT_FALSE(reap(bystander, 0)) TH_LOG("the bystander died");
	check_dmesg(_metadata);
}

TEST_HARNESS_MAIN
