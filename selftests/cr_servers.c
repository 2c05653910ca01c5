// SPDX-License-Identifier: GPL-2.0
/*
 * Real servers from Debian packages, checkpointed while they hold data and
 * restarted: redis-server (threads, epoll, pipes, a listening socket,
 * PR_SET_THP_DISABLE) answers GET for every key it held and takes writes;
 * memcached (worker threads, libevent on epoll, eventfds and pipes between
 * threads) serves its items. A server that is not installed is skipped.
 *
 * Each server is checkpointed with --kill once no client is connected (an
 * established TCP connection is refused), restarted, and asked again.
 * A Python asyncio program (a timer rescheduling itself with call_later,
 * and a SIGUSR1 handler from add_signal_handler, which wakes the loop
 * through signal.set_wakeup_fd on a socketpair) keeps ticking after
 * restart and takes the signal.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	600	/* s: one whole test */
#define PORT_BASE	17400	/* the tests' fixed ports: PORT_BASE + 0..49 */
#define NKEYS		100

FIXTURE(servers) {
	struct cr_env env;
};

FIXTURE_SETUP(servers)
{
	loopback_up();
	cr_env_setup_flags(_metadata, &self->env, "cr_servers", 0);
}

FIXTURE_TEARDOWN(servers)
{
	cr_env_teardown(&self->env);
}

/* Connects to 127.0.0.1:@port (retrying until @timeout ms): the fd or -1. */
static int connect_local(int port, int timeout)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	long long end = now_ms() + timeout;
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	do {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			return fd;
		close(fd);
		usleep(100000);
	} while (now_ms() < end);
	return -1;
}

/*
 * Sends @req on @fd and reads the answer into @out until it ends with
 * @end: whether it did before the timeout.
 */
static bool talk(int fd, const char *req, const char *end, char *out, size_t size)
{
	size_t n = 0, len = strlen(req), elen = strlen(end);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t r;

	out[0] = 0;
	if (write(fd, req, len) != (ssize_t)len)
		return false;
	while (n + 1 < size) {
		if (poll(&p, 1, START_TIMEOUT) != 1)
			return false;
		r = read(fd, out + n, size - 1 - n);
		if (r <= 0)
			return false;
		n += r;
		out[n] = 0;
		if (n >= elen && !strcmp(out + n - elen, end))
			return true;
	}
	return false;
}

/* The number of @pid's fds that are sockets. */
static int nr_sockets(pid_t pid)
{
	char dir[64], path[PATH_MAX], link[64];
	struct dirent *d;
	int n = 0;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	dp = opendir(dir);
	if (!dp)
		return -1;
	while ((d = readdir(dp))) {
		ssize_t l;

		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		l = readlink(path, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = 0;
			n += !strncmp(link, "socket:", 7);
		}
	}
	closedir(dp);
	return n;
}

/* Waits until @pid has @want sockets open again (its clients closed). */
static bool sockets_back_to(pid_t pid, int want, int timeout)
{
	long long end = now_ms() + timeout;

	while (now_ms() < end) {
		if (nr_sockets(pid) == want)
			return true;
		usleep(100000);
	}
	return false;
}

/*
 * crctl checkpoint --kill -o @img @pid: whether it succeeded. A refusal
 * must name what it refused, in @err, and leave the server running.
 */
static bool try_checkpoint(struct __test_metadata *_metadata, struct cr_env *env,
			   pid_t pid, const char *img, char *err, size_t size)
{
	char pidstr[16];
	char *argv[] = { "crctl", "checkpoint", "--kill", "-o", (char *)img, pidstr, NULL };
	int status;

	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	status = run(_metadata, env, argv, -1, err, size);
	if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	EXPECT_NE(NULL, strstr(err, "not supported yet")) TH_LOG("%s", err);
	EXPECT_EQ(0, kill(pid, 0)) TH_LOG("the refused checkpoint harmed pid %d", pid);
	return false;
}

/* redis: SET key:i to value-i for each i, on one connection. */
static void redis_fill(struct __test_metadata *_metadata, int port, int from, int to)
{
	char req[128], out[256];
	int fd = connect_local(port, START_TIMEOUT), i;

	ASSERT_LE(0, fd) TH_LOG("connect to redis on port %d: %s", port, strerror(errno));
	for (i = from; i < to; i++) {
		snprintf(req, sizeof(req), "SET key:%d value-%d\r\n", i, i);
		ASSERT_TRUE(talk(fd, req, "\r\n", out, sizeof(out))) TH_LOG("%s", req);
		ASSERT_STREQ("+OK\r\n", out);
	}
	close(fd);
}

/* redis: GET key:i answers value-i for each i. */
static void redis_check(struct __test_metadata *_metadata, int port, int from, int to)
{
	char req[128], out[256], want[128];
	int fd = connect_local(port, START_TIMEOUT), i;

	ASSERT_LE(0, fd) TH_LOG("connect to redis on port %d: %s", port, strerror(errno));
	for (i = from; i < to; i++) {
		char v[64];

		snprintf(req, sizeof(req), "GET key:%d\r\n", i);
		snprintf(v, sizeof(v), "value-%d\r\n", i);
		snprintf(want, sizeof(want), "$%zu\r\n%s", strlen(v) - 2, v);
		/* Up to the value's end: a missing key ("$-1") times out. */
		ASSERT_TRUE(talk(fd, req, v, out, sizeof(out))) TH_LOG("%s: %s", req, out);
		EXPECT_STREQ(want, out) TH_LOG("%s", req);
	}
	ASSERT_TRUE(talk(fd, "DBSIZE\r\n", "\r\n", out, sizeof(out)));
	snprintf(want, sizeof(want), ":%d\r\n", to);
	EXPECT_STREQ(want, out);
	close(fd);
}

TEST_F_TIMEOUT(servers, redis, TEST_TIMEOUT)
{
	char dir[PATH_MAX], portstr[16], img[PATH_MAX], line[512], err[4096];
	char *argv[] = { "/usr/bin/redis-server", "--port", portstr,
			 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			 "--protected-mode", "no", "--dir", dir, NULL };
	int port = PORT_BASE, socks, i;
	struct proc *orig, *copy;

	if (access(argv[0], X_OK))
		SKIP(return, "no %s", argv[0]);
	snprintf(portstr, sizeof(portstr), "%d", port);
	tmp_path(&self->env, dir, "redis");
	ASSERT_EQ(0, mkdir(dir, 0755));
	orig = start(_metadata, &self->env, argv, -1, -1);
	for (i = 0; i < 100; i++) {
		next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
		if (strstr(line, "Ready to accept connections"))
			break;
	}
	ASSERT_NE(NULL, strstr(line, "Ready to accept connections")) TH_LOG("%s", line);
	socks = nr_sockets(orig->pid);
	redis_fill(_metadata, port, 0, NKEYS);
	redis_check(_metadata, port, 0, NKEYS);
	ASSERT_TRUE(sockets_back_to(orig->pid, socks, START_TIMEOUT));

	ASSERT_TRUE(try_checkpoint(_metadata, &self->env, orig->pid,
				   tmp_path(&self->env, img, "redis.img"), err, sizeof(err)))
		TH_LOG("redis: checkpoint refused: %s", err);
	expect_sigkill(_metadata, orig);
	copy = restart(_metadata, &self->env, img, NULL_STDIN);

	redis_check(_metadata, port, 0, NKEYS);
	redis_fill(_metadata, port, NKEYS, NKEYS + 10);
	redis_check(_metadata, port, 0, NKEYS + 10);
	kill(copy->pid, SIGKILL);
}

/* memcached: set key:i to value-i for each i, on one connection. */
static void mc_fill(struct __test_metadata *_metadata, int port, int from, int to)
{
	char req[128], out[256], v[64];
	int fd = connect_local(port, START_TIMEOUT), i;

	ASSERT_LE(0, fd) TH_LOG("connect to memcached on port %d: %s", port, strerror(errno));
	for (i = from; i < to; i++) {
		snprintf(v, sizeof(v), "value-%d", i);
		snprintf(req, sizeof(req), "set key:%d 0 0 %zu\r\n%s\r\n", i, strlen(v), v);
		ASSERT_TRUE(talk(fd, req, "\r\n", out, sizeof(out))) TH_LOG("%s", req);
		ASSERT_STREQ("STORED\r\n", out);
	}
	close(fd);
}

/* memcached: get key:i answers value-i for each i. */
static void mc_check(struct __test_metadata *_metadata, int port, int from, int to)
{
	char req[128], out[256], want[256], v[64];
	int fd = connect_local(port, START_TIMEOUT), i;

	ASSERT_LE(0, fd) TH_LOG("connect to memcached on port %d: %s", port, strerror(errno));
	for (i = from; i < to; i++) {
		snprintf(v, sizeof(v), "value-%d", i);
		snprintf(req, sizeof(req), "get key:%d\r\n", i);
		snprintf(want, sizeof(want), "VALUE key:%d 0 %zu\r\n%s\r\nEND\r\n", i, strlen(v), v);
		ASSERT_TRUE(talk(fd, req, "END\r\n", out, sizeof(out))) TH_LOG("%s: %s", req, out);
		EXPECT_STREQ(want, out);
	}
	close(fd);
}

TEST_F_TIMEOUT(servers, memcached, TEST_TIMEOUT)
{
	char portstr[16], img[PATH_MAX], err[4096];
	char *argv[] = { "/usr/bin/memcached", "-u", "root", "-l", "127.0.0.1",
			 "-p", portstr, "-U", "0", "-t", "2", NULL };
	int port = PORT_BASE + 1, socks, fd;
	struct proc *orig, *copy;

	if (access(argv[0], X_OK))
		SKIP(return, "no %s", argv[0]);
	snprintf(portstr, sizeof(portstr), "%d", port);
	orig = start(_metadata, &self->env, argv, -1, -1);
	fd = connect_local(port, START_TIMEOUT);
	ASSERT_LE(0, fd) TH_LOG("memcached does not listen on port %d", port);
	close(fd);
	/* The listener, and the connection just made until it is closed. */
	ASSERT_TRUE(sockets_back_to(orig->pid, 1, START_TIMEOUT));
	socks = nr_sockets(orig->pid);
	mc_fill(_metadata, port, 0, NKEYS);
	mc_check(_metadata, port, 0, NKEYS);
	ASSERT_TRUE(sockets_back_to(orig->pid, socks, START_TIMEOUT));

	ASSERT_TRUE(try_checkpoint(_metadata, &self->env, orig->pid,
				   tmp_path(&self->env, img, "memcached.img"), err, sizeof(err)))
		TH_LOG("memcached: checkpoint refused: %s", err);
	expect_sigkill(_metadata, orig);
	copy = restart(_metadata, &self->env, img, NULL_STDIN);

	mc_check(_metadata, port, 0, NKEYS);
	mc_fill(_metadata, port, NKEYS, NKEYS + 10);
	mc_check(_metadata, port, 0, NKEYS + 10);
	kill(copy->pid, SIGKILL);
}

static const char asyncio_prog[] =
	"import asyncio, signal\n"
	"async def main():\n"
	"    loop = asyncio.get_running_loop()\n"
	"    done = asyncio.Event()\n"
	"    n = 0\n"
	"    def tick():\n"
	"        nonlocal n\n"
	"        n += 1\n"
	"        print('TICK', n, flush=True)\n"
	"        loop.call_later(0.2, tick)\n"
	"    def usr1():\n"
	"        print('SIGUSR1', flush=True)\n"
	"        done.set()\n"
	"    loop.add_signal_handler(signal.SIGUSR1, usr1)\n"
	"    loop.call_later(0.2, tick)\n"
	"    print('READY', flush=True)\n"
	"    await done.wait()\n"
	"    print('DONE', flush=True)\n"
	"asyncio.run(main())\n";

/* The number of the next "TICK <n>" line of @p (other lines skipped). */
static int next_tick(struct __test_metadata *_metadata, struct proc *p)
{
	char line[256];
	int i, n;

	for (i = 0; i < 20; i++) {
		next_line(_metadata, p, line, sizeof(line), START_TIMEOUT);
		if (sscanf(line, "TICK %d", &n) == 1)
			return n;
	}
	return -1;
}

TEST_F_TIMEOUT(servers, asyncio, TEST_TIMEOUT)
{
	char img[PATH_MAX], line[256], err[4096];
	char *argv[] = { "/usr/bin/python3", "-c", (char *)asyncio_prog, NULL };
	struct proc *orig, *copy;
	int before, after, i;

	if (access(argv[0], X_OK))
		SKIP(return, "no %s", argv[0]);
	orig = start(_metadata, &self->env, argv, -1, -1);
	/* Python imports asyncio slowly under emulation. */
	expect_line(_metadata, orig, "READY", 120000);
	before = next_tick(_metadata, orig);
	ASSERT_LT(0, before);
	ASSERT_TRUE(try_checkpoint(_metadata, &self->env, orig->pid,
				   tmp_path(&self->env, img, "asyncio.img"), err, sizeof(err)))
		TH_LOG("asyncio: checkpoint refused: %s", err);
	expect_sigkill(_metadata, orig);
	copy = restart(_metadata, &self->env, img, NULL_STDIN);
	/* The schedule goes on where it was: the next ticks, in order. */
	after = next_tick(_metadata, copy);
	EXPECT_LT(before, after);
	EXPECT_EQ(after + 1, next_tick(_metadata, copy));
	ASSERT_EQ(0, kill(copy->pid, SIGUSR1));
	for (i = 0; i < 20; i++) {
		next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
		if (!strncmp(line, "TICK", 4))
			continue;
		break;
	}
	EXPECT_STREQ("SIGUSR1", line);
	expect_line(_metadata, copy, "DONE", START_TIMEOUT);
	expect_exit(_metadata, copy, 0);
}

TEST_HARNESS_MAIN
