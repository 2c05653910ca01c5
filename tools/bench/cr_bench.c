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
 * 4. Checkpoint + restart of a ~1 MiB process: total latency.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* The target: dirty @mib MiB, report on the pipe, wait to be killed. */
static void target(size_t mib, int wfd)
{
	size_t len = mib << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		_exit(1);
	for (i = 0; i < len; i += 8)
		*(unsigned long *)(p + i) = i * 0x9E3779B97F4A7C15ull;
	if (write(wfd, "R", 1) != 1)
		_exit(1);
	close(wfd);
	for (;;)
		pause();
}

static pid_t spawn_target(size_t mib)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p))
		exit(1);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		target(mib, p[1]);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		fprintf(stderr, "target failed\n");
		exit(1);
	}
	close(p[0]);
	return pid;
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

static double checkpoint(pid_t pid, const char *img, int kill)
{
	char spid[16];
	char *argv[] = { "crctl", "checkpoint", "-o", (char *)img, spid,
			 kill ? "--kill" : NULL, NULL };
	double t;

	snprintf(spid, sizeof(spid), "%d", pid);
	t = now();
	if (run(argv, 0, NULL)) {
		fprintf(stderr, "checkpoint failed\n");
		exit(1);
	}
	return now() - t;
}

/*
 * Exec-style (--new-pid), so that crctl's process is the restored one and
 * stops (run() waits for that): with its original pid, the restored task
 * would be a child of crctl, which does not stop.
 */
static double restart(const char *img)
{
	char *argv[] = { "crctl", "restart", "--new-pid", "--stopped", "-i",
			 (char *)img, NULL };
	pid_t pid;
	double t = now();

	if (run(argv, 1, &pid)) {
		fprintf(stderr, "restart failed\n");
		exit(1);
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
 * A tree of @n processes sharing @mib MiB of MAP_SHARED anonymous memory:
 * the root fills it, forks the others, reports all pids on @wfd, waits.
 */
static void tree_target(int n, size_t mib, int wfd)
{
	size_t len = mib << 20, i;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[64];
	int k;

	if (p == MAP_FAILED)
		_exit(1);
	for (i = 0; i < len; i += 8)
		*(unsigned long *)(p + i) = i * 0x9E3779B97F4A7C15ull;
	pids[0] = getpid();
	for (k = 1; k < n; k++) {
		pids[k] = fork();
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
		for (k = 0; k < n; k++)
			if (kill(pids[k], 0) == 0 || errno != ESRCH)
				left++;
		if (left)
			usleep(10000);
	} while (left);
}

static void bench_tree(int n, size_t mib)
{
	const char *img = "/tmp/cr_bench_tree.img";
	char *ck[] = { "crctl", "checkpoint", "--kill", "-o", (char *)img, NULL, NULL };
	char *rs[] = { "crctl", "restart", "--detach", "-i", (char *)img, NULL };
	char spid[16];
	pid_t pids[64], root;
	double t_ck, t_rs;
	int p[2], k;

	if (pipe(p))
		exit(1);
	root = fork();
	if (root == 0) {
		close(p[0]);
		tree_target(n, mib, p[1]);
	}
	close(p[1]);
	if (read(p[0], pids, n * sizeof(pid_t)) != (ssize_t)(n * sizeof(pid_t))) {
		fprintf(stderr, "tree target failed\n");
		exit(1);
	}
	close(p[0]);
	snprintf(spid, sizeof(spid), "%d", root);
	ck[5] = spid;
	t_ck = now();
	if (run(ck, 0, NULL)) {
		fprintf(stderr, "tree checkpoint failed\n");
		exit(1);
	}
	t_ck = now() - t_ck;
	waitpid(root, NULL, 0);
	wait_gone(pids, n);
	t_rs = now();
	if (run(rs, 0, NULL)) {
		fprintf(stderr, "tree restart failed\n");
		exit(1);
	}
	t_rs = now() - t_rs;
	for (k = 0; k < n; k++)
		kill(pids[k], SIGKILL);
	printf("  %-44s %8.1f MiB\n", "image of the tree:", file_size(img) / 1048576.0);
	printf("  %-44s %8.3f s (checkpoint %.3f + restart %.3f)\n",
	       "tree of 32 processes sharing 64 MiB:", t_ck + t_rs, t_ck, t_rs);
	unlink(img);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 256;
	size_t len = mib << 20;
	const char *img = "/tmp/cr_bench.img", *raw = "/tmp/cr_bench.raw";
	double t_ck, t_rs, t_wr, t_cp, t_small_ck, t_small_rs;
	char *a, *b;
	pid_t pid;
	int fd, i;

	/* 1. dump */
	pid = spawn_target(mib);
	t_ck = checkpoint(pid, img, 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

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

	/* 4. small process: best of 3 */
	t_small_ck = t_small_rs = 1e9;
	for (i = 0; i < 3; i++) {
		double c, r;

		pid = spawn_target(1);
		c = checkpoint(pid, "/tmp/cr_bench_small.img", 1);
		waitpid(pid, NULL, 0);
		r = restart("/tmp/cr_bench_small.img");
		if (c + r < t_small_ck + t_small_rs) {
			t_small_ck = c;
			t_small_rs = r;
		}
	}

	printf("cr benchmark (guest under QEMU TCG: absolute numbers are emulated)\n");
	printf("  image of a %zu MiB process: %.1f MiB\n", mib, file_size(img) / 1048576.0);
	printf("  %-44s %8.1f MiB/s  (%.3f s)\n", "checkpoint to tmpfs (crctl, whole process):", mib / t_ck, t_ck);
	printf("  %-44s %8.1f MiB/s  (%.3f s)\n", "guest write(2) of the same bytes to tmpfs:", mib / t_wr, t_wr);
	printf("  %-44s %8.1f MiB/s  (%.3f s)\n", "guest memcpy of the same bytes:", mib / t_cp, t_cp);
	printf("  %-44s %8.2f\n", "checkpoint / write(2) ratio:", t_wr / t_ck);
	printf("  %-44s %8.2f\n", "checkpoint / memcpy ratio:", t_cp / t_ck);
	printf("  %-44s %8.1f MiB/s  (%.3f s)\n", "restart from tmpfs (crctl, until stopped):", mib / t_rs, t_rs);
	printf("  %-44s %8.2f\n", "restart / write(2) ratio:", t_wr / t_rs);
	printf("  %-44s %8.3f s (checkpoint %.3f + restart %.3f)\n",
	       "1 MiB process, checkpoint --kill + restart:", t_small_ck + t_small_rs, t_small_ck, t_small_rs);
	unlink(img);
	unlink("/tmp/cr_bench_small.img");
	bench_tree(32, 64);
	return 0;
}
