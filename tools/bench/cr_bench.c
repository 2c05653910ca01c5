// SPDX-License-Identifier: GPL-2.0
/*
 * cr_bench: checkpoint/restart throughput figures, run inside the test VM
 * by `make bench`. Prints figures; asserts nothing.
 *
 *   cr_bench [MiB]         (default 256)
 *
 * 1. A target process dirties MiB of anonymous memory and waits.
 *    Checkpoint it to a tmpfs file: dump throughput.
 * 2. The same bytes written by the target itself to a tmpfs file with
 *    write(2), and copied with memcpy: the guest's own bandwidths, the
 *    yardsticks for (1).
 * 3. Restart from the image (exec-style with --new-pid, --stopped, timed
 *    until the restored task stops): restart throughput.
 * 4. Checkpoint + restart of a ~1 MiB process: total latency (the
 *    baseline of 5-7).
 * 5. A 64 GiB MAP_NORESERVE mapping with 1 MiB touched (one page every
 *    256 MiB): checkpoint and restart against the 1 MiB process (goal:
 *    within 2x; cost grows with touched memory, not mapped size).
 * 6. 1,000, 10,000 and 20,000 VMAs (untouched pages of alternating protections,
 *    so that they do not merge): checkpoint and restart, and the cost of
 *    one more VMA from 1,000 to 10,000 and from 10,000 to 20,000 (linear:
 *    equal).
 * 7. Trees of 100 and 1,000 processes (a root and its children): tree
 *    checkpoint and restart (--detach), and the cost of one more process
 *    from 1 to 100 and from 100 to 1,000; a tree of 32 sharing 64 MiB.
 *
 * CR_BENCH_MIB (tools/bench.sh) sets the MiB of 1-3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Tells the parent the target is ready, then waits to be killed. */
static void ready(int wfd)
{
	if (write(wfd, "R", 1) != 1)
		_exit(1);
	close(wfd);
	for (;;)
		pause();
}

/* The target: dirty @mib MiB. */
static void target(size_t mib, int wfd)
{
	size_t len = mib << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		_exit(1);
	for (i = 0; i < len; i += 8)
		*(unsigned long *)(p + i) = i * 0x9E3779B97F4A7C15ull;
	ready(wfd);
}

/*
 * A 64 GiB MAP_NORESERVE mapping (MADV_NOHUGEPAGE), one page touched every
 * 256 MiB: 1 MiB.
 */
#define SPARSE_GIB 64
static void sparse_target(size_t unused, int wfd)
{
	size_t len = (size_t)SPARSE_GIB << 30, step = len / 256, i;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	(void)unused;
	/* Without it, each touch faults in a 2 MiB huge page (512 MiB in all). */
	if (p == MAP_FAILED || madvise(p, len, MADV_NOHUGEPAGE))
		_exit(1);
	for (i = 0; i < len; i += step)
		memset(p + i, (int)(i / step) + 1, 4096);
	ready(wfd);
}

/* @n VMAs: @n untouched pages, every other one read-only. */
static void vmas_target(size_t n, int wfd)
{
	char *p = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		_exit(1);
	for (i = 1; i < n; i += 2)
		if (mprotect(p + i * 4096, 4096, PROT_READ))
			_exit(1);
	ready(wfd);
}

static pid_t spawn(void (*fn)(size_t, int), size_t arg)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p))
		exit(1);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		fn(arg, p[1]);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		fprintf(stderr, "target failed\n");
		exit(1);
	}
	close(p[0]);
	return pid;
}

static pid_t spawn_target(size_t mib)
{
	return spawn(target, mib);
}

static int run(char *const argv[], int stop_ok, pid_t *out)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		dup2(fd, 0);
		dup2(fd, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (out)
		*out = pid;
	if (waitpid(pid, &st, stop_ok ? WUNTRACED : 0) < 0)
		return -1;
	if (stop_ok && WIFSTOPPED(st))
		return 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Seconds a checkpoint of @pid to @img took, or -1 (crctl said why). */
static double checkpoint(pid_t pid, const char *img, int kill)
{
	char spid[16];
	char *argv[] = { "crctl", "checkpoint", "-o", (char *)img, spid,
			 kill ? "--kill" : NULL, NULL };
	double t;
	int rc;

	snprintf(spid, sizeof(spid), "%d", pid);
	t = now();
	rc = run(argv, 0, NULL);
	if (rc) {
		fprintf(stderr, "cr_bench: checkpoint of pid %d failed (status %d)\n", pid, rc);
		return -1;
	}
	return now() - t;
}

/*
 * Exec-style (--new-pid), so that crctl's process is the restored one and
 * stops (run() waits for that): with its original pid, the restored task
 * would be a child of crctl, which does not stop. Seconds, or -1.
 */
static double restart(const char *img)
{
	char *argv[] = { "crctl", "restart", "--new-pid", "--stopped", "-i",
			 (char *)img, NULL };
	pid_t pid;
	double t = now();
	int rc = run(argv, 1, &pid);

	if (rc) {
		fprintf(stderr, "cr_bench: restart of %s failed (status %d)\n", img, rc);
		waitpid(pid, NULL, WNOHANG);
		return -1;
	}
	t = now() - t;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return t;
}

static off_t file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) ? 0 : st.st_size;
}

/*
 * The best (by checkpoint + restart) of @tries round trips of a target made
 * by @fn(@arg): checkpoint --kill to @img, then an exec-style restart.
 * Returns 0, or -1 if one failed; *@size is the image's size.
 */
static int round_trip(void (*fn)(size_t, int), size_t arg, int tries,
		      double *ck, double *rs, off_t *size)
{
	const char *img = "/tmp/cr_bench_rt.img";
	int i;

	*ck = *rs = 1e9;
	for (i = 0; i < tries; i++) {
		pid_t pid = spawn(fn, arg);
		double c = checkpoint(pid, img, 1), r;

		if (c < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			unlink(img);
			return -1;
		}
		waitpid(pid, NULL, 0);
		*size = file_size(img);
		r = restart(img);
		unlink(img);
		if (r < 0)
			return -1;
		if (c + r < *ck + *rs) {
			*ck = c;
			*rs = r;
		}
	}
	return 0;
}

/*
 * A tree of @n processes sharing @mib MiB of MAP_SHARED anonymous memory
 * (none if 0): the root fills it, forks the others, reports all pids on
 * @wfd, waits.
 */
static void tree_target(int n, size_t mib, int wfd)
{
	size_t len = mib << 20, i;
	char *p = mib ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) : NULL;
	pid_t *pids = calloc(n, sizeof(pid_t));
	int k;

	if (p == MAP_FAILED || !pids)
		_exit(1);
	for (i = 0; i < len; i += 8)
		*(unsigned long *)(p + i) = i * 0x9E3779B97F4A7C15ull;
	pids[0] = getpid();
	for (k = 1; k < n; k++) {
		pids[k] = fork();
		if (pids[k] < 0)
			_exit(1);
		if (pids[k] == 0) {
			close(wfd);
			for (;;)
				pause();
		}
	}
	if (write(wfd, pids, n * sizeof(pid_t)) != (ssize_t)(n * sizeof(pid_t)))
		_exit(1);
	close(wfd);
	for (;;)
		pause();
}

/* Waits until none of @pids exists (reaped), so they can be restored. */
static void wait_gone(const pid_t *pids, int n)
{
	int k, left;

	do {
		left = 0;
		/* cr_bench is their subreaper: reaps what was orphaned. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		for (k = 0; k < n; k++)
			if (kill(pids[k], 0) == 0 || errno != ESRCH)
				left++;
		if (left)
			usleep(10000);
	} while (left);
}

/*
 * Waits (up to 120 s) until every one of @pids is back in pause() (system
 * call 34 in /proc/PID/syscall; a task woken but not yet run shows
 * "running"): `restart --detach` returns when the tree is restored, a
 * moment before every task is back in user space, and a SIGKILL then
 * makes a task log a failure after the point of no return.
 */
static void settle(const pid_t *pids, int n)
{
	double end = now() + 120;
	int k, busy;

	do {
		busy = 0;
		for (k = 0; k < n && !busy; k++) {
			char path[64], buf[32] = "";
			int fd;

			snprintf(path, sizeof(path), "/proc/%d/syscall", pids[k]);
			fd = open(path, O_RDONLY);
			if (fd < 0)
				continue;
			if (read(fd, buf, sizeof(buf) - 1) > 0 && strncmp(buf, "34 ", 3))
				busy = 1;
			close(fd);
		}
		if (busy)
			usleep(10000);
	} while (busy && now() < end);
}

/* Reads exactly @len bytes, or fails. */
static int read_all(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

/*
 * A tree of @n processes: checkpoint --kill, then restart --detach (crctl
 * returns once the whole tree is restored). Returns 0 or -1; the times in
 * *@ck and *@rs, the image size in *@size.
 */
static int bench_tree(int n, size_t mib, double *ck, double *rs, off_t *size)
{
	const char *img = "/tmp/cr_bench_tree.img";
	char *ckv[] = { "crctl", "checkpoint", "--kill", "-o", (char *)img, NULL, NULL };
	char *rsv[] = { "crctl", "restart", "--detach", "-i", (char *)img, NULL };
	char spid[16];
	pid_t *pids = calloc(n, sizeof(pid_t)), root;
	int p[2], k, rc, ret = -1;

	if (!pids || pipe(p))
		exit(1);
	root = fork();
	if (root == 0) {
		close(p[0]);
		tree_target(n, mib, p[1]);
	}
	close(p[1]);
	if (read_all(p[0], pids, n * sizeof(pid_t))) {
		fprintf(stderr, "cr_bench: tree target of %d failed\n", n);
		exit(1);
	}
	close(p[0]);
	snprintf(spid, sizeof(spid), "%d", root);
	ckv[5] = spid;
	*ck = now();
	rc = run(ckv, 0, NULL);
	if (rc) {
		fprintf(stderr, "cr_bench: checkpoint of the tree of %d failed (status %d)\n", n, rc);
		goto out;
	}
	*ck = now() - *ck;
	*size = file_size(img);
	waitpid(root, NULL, 0);
	wait_gone(pids, n);
	*rs = now();
	rc = run(rsv, 0, NULL);
	if (rc) {
		fprintf(stderr, "cr_bench: restart of the tree of %d failed (status %d)\n", n, rc);
		goto out;
	}
	*rs = now() - *rs;
	settle(pids, n);
	ret = 0;
out:
	for (k = 0; k < n; k++)
		kill(pids[k], SIGKILL);
	waitpid(root, NULL, WNOHANG);
	wait_gone(pids, n);
	unlink(img);
	free(pids);
	return ret;
}

static void failed(const char *what)
{
	printf("  %-44s   FAILED (see the lines above)\n", what);
}

/* Prints a checkpoint and a restart time against the 1 MiB process's. */
static void versus_small(const char *what, double ck, double rs, double sck, double srs)
{
	char l[96];

	snprintf(l, sizeof(l), "%s checkpoint:", what);
	printf("  %-44s %8.3f s  (%.2fx the 1 MiB process)\n", l, ck, ck / sck);
	snprintf(l, sizeof(l), "%s restart:", what);
	printf("  %-44s %8.3f s  (%.2fx the 1 MiB process)\n", l, rs, rs / srs);
}

/*
 * Prints the cost of one more unit (VMA, process) from @n0 to @n1 units
 * and from @n1 to @n2 (times @t0, @t1, @t2), and their ratio: 1.00 is
 * linear.
 */
static void per_unit(const char *unit, const char *phase, int n0, double t0, int n1, double t1,
		     int n2, double t2)
{
	double c1 = (t1 - t0) / (n1 - n0) * 1e3, c2 = (t2 - t1) / (n2 - n1) * 1e3;
	char l[96];

	snprintf(l, sizeof(l), "%s per %s, %d-%d / %d-%d:", phase, unit, n0, n1, n1, n2);
	printf("  %-44s %8.3f / %.3f ms  (ratio %.2f; 1.00 is linear)\n", l, c1, c2, c2 / c1);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 256;
	size_t len = mib << 20;
	const char *img = "/tmp/cr_bench.img", *raw = "/tmp/cr_bench.raw";
	double t_ck, t_rs, t_wr, t_cp, t_small_ck, t_small_rs;
	double sp_ck, sp_rs, v1_ck, v1_rs, v2_ck, v2_rs;
	double v0_ck, v0_rs, t0_ck, t0_rs, t1_ck, t1_rs, t2_ck, t2_rs, ts_ck, ts_rs;
	off_t v0_sz = 0, t0_sz = 0, small_sz = 0, sp_sz = 0, v1_sz = 0, v2_sz = 0, t1_sz = 0, t2_sz = 0, ts_sz = 0;
	int sp_ok, v_ok, t_ok, ts_ok;
	char *a, *b;
	pid_t pid;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The trees' orphans (after checkpoint --kill, restart --detach) come here. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	/* 1. dump */
	pid = spawn_target(mib);
	t_ck = checkpoint(pid, img, 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (t_ck < 0)
		return 1;

	/* 2. yardsticks: write(2) of the same amount to tmpfs, and memcpy */
	a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(a, 0x5a, len);
	memset(b, 0, len);
	fd = open(raw, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	t_wr = now();
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, a + off, len - off < (1 << 20) ? len - off : (1 << 20));

		if (n <= 0)
			return 1;
		off += n;
	}
	close(fd);
	t_wr = now() - t_wr;
	unlink(raw);
	t_cp = now();
	memcpy(b, a, len);
	t_cp = now() - t_cp;
	munmap(a, len);
	munmap(b, len);

	/* 3. restart */
	t_rs = restart(img);
	if (t_rs < 0)
		return 1;

	printf("cr benchmark (guest under QEMU TCG: absolute numbers are emulated)\n");
	printf("  image of a %zu MiB process: %.1f MiB\n", mib, file_size(img) / 1048576.0);
	printf("  %-44s %8.1f MiB/s  (%.3f s)\n", "checkpoint to tmpfs (crctl, whole process):", mib / t_ck, t_ck);
	printf("  %-44s %8.1f MiB/s  (%.3f s)\n", "guest write(2) of the same bytes to tmpfs:", mib / t_wr, t_wr);
	printf("  %-44s %8.1f MiB/s  (%.3f s)\n", "guest memcpy of the same bytes:", mib / t_cp, t_cp);
	printf("  %-44s %8.2f\n", "checkpoint / write(2) ratio:", t_wr / t_ck);
	printf("  %-44s %8.2f\n", "checkpoint / memcpy ratio:", t_cp / t_ck);
	printf("  %-44s %8.1f MiB/s  (%.3f s)\n", "restart from tmpfs (crctl, until stopped):", mib / t_rs, t_rs);
	printf("  %-44s %8.2f\n", "restart / write(2) ratio:", t_wr / t_rs);
	unlink(img);

	/* 4. small process: best of 3 */
	if (round_trip(target, 1, 3, &t_small_ck, &t_small_rs, &small_sz))
		return 1;
	printf("  %-44s %8.3f s (checkpoint %.3f + restart %.3f)\n",
	       "1 MiB process, checkpoint --kill + restart:", t_small_ck + t_small_rs, t_small_ck, t_small_rs);

	/* 5. sparse (once: its checkpoint is long) */
	sp_ok = !round_trip(sparse_target, 0, 1, &sp_ck, &sp_rs, &sp_sz);
	printf("%d GiB MAP_NORESERVE mapping, 1 MiB touched (goal: within 2x the 1 MiB process)\n",
	       SPARSE_GIB);
	if (sp_ok) {
		printf("  %-44s %8.1f MiB (the 1 MiB process: %.1f MiB)\n", "image:",
		       sp_sz / 1048576.0, small_sz / 1048576.0);
		versus_small("sparse", sp_ck, sp_rs, t_small_ck, t_small_rs);
	} else {
		failed("sparse checkpoint + restart:");
	}

	/* 6. VMAs */
	/*
	 * 6. VMAs, best of 3 each. The slopes are from 1,000 to 10,000 and
	 * from 10,000 to 20,000: the cost of 1,000 VMAs is within the noise
	 * of the fixed cost under TCG.
	 */
	v_ok = !round_trip(vmas_target, 1000, 3, &v1_ck, &v1_rs, &v1_sz) &&
	       !round_trip(vmas_target, 10000, 3, &v2_ck, &v2_rs, &v2_sz) &&
	       !round_trip(vmas_target, 20000, 3, &v0_ck, &v0_rs, &v0_sz);
	printf("VMAs: untouched pages of alternating protections (goal: linear)\n");
	if (v_ok) {
		printf("  %-44s %8.1f / %.1f / %.1f MiB\n", "images of 1,000 / 10,000 / 20,000 VMAs:",
		       v1_sz / 1048576.0, v2_sz / 1048576.0, v0_sz / 1048576.0);
		versus_small("1,000 VMAs", v1_ck, v1_rs, t_small_ck, t_small_rs);
		versus_small("10,000 VMAs", v2_ck, v2_rs, t_small_ck, t_small_rs);
		versus_small("20,000 VMAs", v0_ck, v0_rs, t_small_ck, t_small_rs);
		per_unit("VMA", "checkpoint", 1000, v1_ck, 10000, v2_ck, 20000, v0_ck);
		per_unit("VMA", "restart", 1000, v1_rs, 10000, v2_rs, 20000, v0_rs);
	} else {
		failed("VMAs checkpoint + restart:");
	}

	/* 7. trees; one process (the same path) is the base of the slopes */
	t_ok = !bench_tree(1, 0, &t0_ck, &t0_rs, &t0_sz) &&
	       !bench_tree(100, 0, &t1_ck, &t1_rs, &t1_sz) &&
	       !bench_tree(1000, 0, &t2_ck, &t2_rs, &t2_sz);
	printf("trees: a root and its children, restart --detach (goal: linear)\n");
	if (t_ok) {
		printf("  %-44s %8.1f / %.1f MiB\n", "images of 100 / 1,000 processes:",
		       t1_sz / 1048576.0, t2_sz / 1048576.0);
		versus_small("100 processes", t1_ck, t1_rs, t_small_ck, t_small_rs);
		versus_small("1,000 processes", t2_ck, t2_rs, t_small_ck, t_small_rs);
		per_unit("process", "checkpoint", 1, t0_ck, 100, t1_ck, 1000, t2_ck);
		per_unit("process", "restart", 1, t0_rs, 100, t1_rs, 1000, t2_rs);
	} else {
		failed("trees checkpoint + restart:");
	}
	ts_ok = !bench_tree(32, 64, &ts_ck, &ts_rs, &ts_sz);
	if (ts_ok) {
		printf("  %-44s %8.1f MiB\n", "image of 32 processes sharing 64 MiB:", ts_sz / 1048576.0);
		printf("  %-44s %8.3f s (checkpoint %.3f + restart %.3f)\n",
		       "tree of 32 processes sharing 64 MiB:", ts_ck + ts_rs, ts_ck, ts_rs);
	} else {
		failed("tree of 32 processes sharing 64 MiB:");
	}
	return sp_ok && v_ok && t_ok && ts_ok ? 0 : 1;
}
