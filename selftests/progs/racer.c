// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr race tests: a process that changes under a checkpoint.
 * It runs for US microseconds doing MODE, then exits with status 7:
 *
 *   racer exit US     works (touching memory) and exits
 *   racer exec US     works, then execs "racer exit 20000"
 *   racer fork US     forks children that exit at once, reaping them
 *   racer threads US  creates threads that exit at once, joining them
 *
 * It prints "R" when it starts counting (the exec'd copy too).  Whatever a
 * checkpoint of it did or did not do, it must end with status 7 (unless the
 * test kills it): that is its self-test.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char buf[64 * 4096];

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void *nothing(void *arg)
{
	return arg;
}

/* One unit of MODE; false if it went wrong. */
static int step(const char *mode, unsigned int i)
{
	pthread_t th;
	void *ret;
	pid_t pid;
	int status;

	if (!strcmp(mode, "fork")) {
		pid = fork();
		if (pid < 0)
			return 0;
		if (pid == 0)
			_exit(3);
		return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		       WEXITSTATUS(status) == 3;
	}
	if (!strcmp(mode, "threads")) {
		if (pthread_create(&th, NULL, nothing, (void *)(long)i))
			return 0;
		return !pthread_join(th, &ret) && ret == (void *)(long)i;
	}
	/* exit, exec: dirty a page, check the one before. */
	buf[(i % 64) * 4096] = (char)i;
	return i < 1 || buf[((i - 1) % 64) * 4096] == (char)(i - 1);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "exit";
	long long end = now_us() + (argc > 2 ? atol(argv[2]) : 10000);
	unsigned int i = 0;

	/* The test times its checkpoint from this line. */
	if (write(1, "R\n", 2) != 2)
		return 1;
	while (now_us() < end) {
		if (!step(mode, i++)) {
			fprintf(stderr, "racer %s: step %u failed\n", mode, i - 1);
			return 1;
		}
	}
	if (!strcmp(mode, "exec")) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		/* By its own path, so that its comm stays "racer". */
		if (n <= 0)
			return 1;
		self[n] = 0;
		execl(self, "racer", "exit", "20000", (char *)NULL);
		perror("racer: exec");
		return 1;
	}
	return 7;
}
