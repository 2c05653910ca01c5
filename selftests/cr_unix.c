// SPDX-License-Identifier: GPL-2.0
/*
 * Unix domain sockets (issue 11), with the modes of progs/unix.c:
 *
 *  - pair_*: a socketpair (stream, dgram, seqpacket), in one process or
 *    with its ends in a parent and its child, bytes queued in both
 *    directions, part of one direction already received.  A checkpoint
 *    that leaves the tree running consumes nothing (the original then
 *    receives every byte exactly); the restored tree receives exactly the
 *    same bytes, message boundaries kept, then nothing more than the new
 *    bytes its peer sends: the pair is connected again;
 *  - options: SO_RCVBUF, SO_SNDBUF, SO_RCVTIMEO, SO_SNDTIMEO, SO_PASSCRED
 *    and SO_PEEK_OFF read back as before, and a seqpacket pair shut down
 *    for writing gives its last message, then end of file, and EPIPE;
 *  - rights_refused: a datagram carrying a file descriptor (SCM_RIGHTS)
 *    not yet received is refused by name, EOPNOTSUPP;
 *  - outside_refused: a socket connected to one outside the tree (the
 *    test's own listener) is refused by name;
 *  - listen_path, listen_abstract, dgram_bound_path: a listening stream
 *    socket (bound to a path, or to an abstract name) and a datagram
 *    socket bound to a path come back bound to the same name and take a
 *    new connection or datagram; while the checkpointed socket's file is
 *    still there, restart fails with EADDRINUSE naming it;
 *  - accepted_abstract, accepted_path: a connection accepted from a
 *    listening socket of the tree, its client in a child: both ends come
 *    back connected, the accepted one named as its listener;
 *  - listen_queued_path, listen_queued_abstract: connections queued on a
 *    listening socket, not accepted yet, their clients in the tree: accept()
 *    returns them after restart, in order, with their bytes;
 *  - listen_queued_outside_refused: one whose client is outside the tree
 *    is refused by name.
 *
 * Each restart is also checked by the fidelity check (cr_test.c).
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/un.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300	/* s: one whole test */

FIXTURE(usock) {
	struct cr_env env;
};

FIXTURE_SETUP(usock)
{
	cr_env_setup_flags(_metadata, &self->env, "cr_unix", CR_ENV_SUBREAPER);
}

FIXTURE_TEARDOWN(usock)
{
	cr_env_teardown(&self->env);
}

/* Writes @n bytes to @p's stdin: one for each process to check. */
static void poke(struct __test_metadata *_metadata, struct proc *p, int n)
{
	ASSERT_EQ(n, write(p->in, "gg", n));
}

/* Reads @n lines of @p, which must be exactly the @want ones, in any order. */
static void expect_lines(struct __test_metadata *_metadata, struct proc *p,
			 const char *const *want, int n, const char *when)
{
	bool seen[8] = { false };
	char line[512];
	int i, k;

	for (i = 0; i < n; i++) {
		next_line(_metadata, p, line, sizeof(line), START_TIMEOUT);
		for (k = 0; k < n && (seen[k] || strcmp(line, want[k])); k++)
			;
		if (k == n)
			show_stderr(_metadata, p);
		ASSERT_GT(n, k) TH_LOG("%s: unexpected \"%s\"", when, line);
		seen[k] = true;
	}
}

static void pair(struct __test_metadata *_metadata, struct cr_env *env,
		 const char *type, int split)
{
	static const char *const want[] = { "CHECK A ok", "CHECK B ok", "ALIVE A", "ALIVE B" };
	char img[PATH_MAX], line[256], name[64];
	struct proc *orig, *copy;
	pid_t a = 0, b = 0;
	int i;

	snprintf(name, sizeof(name), "pair-%s-%d.img", type, split);
	tmp_path(env, img, name);
	orig = start_prog(_metadata, env, "unix", "pair", type, split ? "1" : "0", NULL);
	for (i = 0; i < 1 + split; i++) {
		pid_t who;
		char end;

		next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
		ASSERT_EQ(2, sscanf(line, "READY %c %d", &end, &who)) TH_LOG("%s", line);
		if (end == 'A')
			a = who;
		else
			b = who;
	}
	ASSERT_EQ(orig->pid, a);

	/* Left running: nothing consumed, every byte still there. */
	checkpoint_ex(_metadata, env, orig->pid, img, LEAVE_RUNNING);
	poke(_metadata, orig, 1 + split);
	expect_lines(_metadata, orig, want, 4, "the original after the checkpoint");
	expect_exit(_metadata, orig, 0);
	forget(env, orig);

	copy = restart(_metadata, env, img, 0);
	poke(_metadata, copy, 1 + split);
	expect_lines(_metadata, copy, want, 4, "the restored tree");
	expect_exit(_metadata, copy, 0);
	TH_LOG("%s pair%s: every queued byte received exactly, after a checkpoint and after a restart",
	       type, split ? " across two processes" : " in one process");
	(void)b;
	check_dmesg(_metadata);
}

TEST_F_TIMEOUT(usock, pair_stream_split, TEST_TIMEOUT) { pair(_metadata, &self->env, "stream", 1); }
TEST_F_TIMEOUT(usock, pair_dgram_split, TEST_TIMEOUT) { pair(_metadata, &self->env, "dgram", 1); }
TEST_F_TIMEOUT(usock, pair_seqpacket_split, TEST_TIMEOUT) { pair(_metadata, &self->env, "seqpacket", 1); }
TEST_F_TIMEOUT(usock, pair_stream_one, TEST_TIMEOUT) { pair(_metadata, &self->env, "stream", 0); }
TEST_F_TIMEOUT(usock, pair_dgram_one, TEST_TIMEOUT) { pair(_metadata, &self->env, "dgram", 0); }
TEST_F_TIMEOUT(usock, pair_seqpacket_one, TEST_TIMEOUT) { pair(_metadata, &self->env, "seqpacket", 0); }

TEST_F_TIMEOUT(usock, options, TEST_TIMEOUT)
{
	char img[PATH_MAX], before[256], line[256];
	struct proc *orig, *copy;
	struct json j;
	int k, n = 0;

	orig = start_prog(_metadata, &self->env, "unix", "opts", NULL);
	long long rt, st;
	int rcv, snd, cred, peek;

	next_line(_metadata, orig, before, sizeof(before), START_TIMEOUT);
	/* SO_SNDTIMEO 0.25 s reads back rounded up to whole jiffies. */
	ASSERT_EQ(6, sscanf(before, "OPTS %d %d %lld %lld %d %d", &rcv, &snd, &rt, &st,
			    &cred, &peek)) TH_LOG("%s", before);
	ASSERT_TRUE(rcv == 24690 && snd == 108642 && rt == 1500000 && st >= 250000 &&
		    st < 260000 && cred == 1 && peek == 5) TH_LOG("before: %s", before);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("READY", line);
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "opts.img"));
	expect_sigkill(_metadata, orig);
	forget(&self->env, orig);

	/* crctl info shows the sockets: 4, one connected to each other. */
	crctl_info(_metadata, &self->env, img, &j);
	for (k = json_find(&j, 0, "unix_sockets"), k = k >= 0 ? j.v[k].child : -1; k >= 0;
	     k = j.v[k].next) {
		uint64_t peer;

		ASSERT_TRUE(json_num(&j, k, "peer", &peer));
		ASSERT_NE(0, peer);
		n++;
	}
	json_free(&j);
	EXPECT_EQ(4, n) TH_LOG("crctl info --json lists %d unix sockets", n);

	copy = restart(_metadata, &self->env, img, 0);
	poke(_metadata, copy, 1);
	next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
	EXPECT_STREQ(before, line);
	next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
	EXPECT_STREQ("PEEK  world", line);
	next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
	EXPECT_STREQ("SHUT last 0 32", line);
	expect_exit(_metadata, copy, 0);
	TH_LOG("options after restart: %s", before);
	check_dmesg(_metadata);
}

/* Starts "unix MODE [ARG]", waits for READY, and expects its checkpoint refused with @why. */
static void refused(struct __test_metadata *_metadata, struct cr_env *env,
		    const char *mode, const char *arg, int fd, const char *why)
{
	char img[PATH_MAX], err[4096], line[256], at[64];
	struct proc *orig;

	orig = start_prog(_metadata, env, "unix", mode, arg, NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("READY", line);
	checkpoint_refused(_metadata, env, orig->pid, tmp_path(env, img, "refused.img"),
			   err, sizeof(err));
	snprintf(at, sizeof(at), "pid %d fd %d:", orig->pid, fd);
	EXPECT_NE(NULL, strstr(err, at)) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, why)) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "EOPNOTSUPP")) TH_LOG("%s", err);
	/* Unharmed: it still runs, and goes on when told to. */
	EXPECT_FALSE(reap(orig, 0));
	poke(_metadata, orig, 1);
	expect_exit(_metadata, orig, 0);
	err[strcspn(err, "\n")] = 0;
	TH_LOG("refused: \"%s\"", err);
	check_dmesg(_metadata);
}

TEST_F_TIMEOUT(usock, rights_refused, TEST_TIMEOUT)
{
	refused(_metadata, &self->env, "rights", NULL, 5, "file descriptors in flight (SCM_RIGHTS)");
}

TEST_F_TIMEOUT(usock, outside_refused, TEST_TIMEOUT)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char path[PATH_MAX], want[PATH_MAX + 64];
	int l, c;

	tmp_path(&self->env, path, "daemon.sock");
	ASSERT_GT(sizeof(a.sun_path), strlen(path));
	memcpy(a.sun_path, path, strlen(path));
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, bind(l, (void *)&a, sizeof(a)));
	ASSERT_EQ(0, listen(l, 4));
	/* The connection is accepted once the program said READY. */
	snprintf(want, sizeof(want), "unix socket connected to %s: not supported (peer outside the tree)",
		 path);
	{
		char img[PATH_MAX], err[4096], line[256];
		struct proc *orig;

		orig = start_prog(_metadata, &self->env, "unix", "connect", path, NULL);
		next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
		ASSERT_STREQ("READY", line);
		c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		ASSERT_LE(0, c);
		checkpoint_refused(_metadata, &self->env, orig->pid,
				   tmp_path(&self->env, img, "outside.img"), err, sizeof(err));
		EXPECT_NE(NULL, strstr(err, want)) TH_LOG("%s", err);
		EXPECT_NE(NULL, strstr(err, "EOPNOTSUPP")) TH_LOG("%s", err);
		EXPECT_FALSE(reap(orig, 0));
		poke(_metadata, orig, 1);
		expect_exit(_metadata, orig, 0);
		err[strcspn(err, "\n")] = 0;
		TH_LOG("refused: \"%s\"", err);
	}
	close(c);
	close(l);
	check_dmesg(_metadata);
}

/* Connects to @addr (a path or "@name") as @type and sends "hi". */
static void say_hi(struct __test_metadata *_metadata, const char *addr, int type)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(a);
	int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	ASSERT_LE(0, s);
	ASSERT_GT(sizeof(a.sun_path), strlen(addr));
	memcpy(a.sun_path, addr, strlen(addr));
	if (addr[0] == '@') {
		a.sun_path[0] = 0;
		len = offsetof(struct sockaddr_un, sun_path) + strlen(addr);
	}
	ASSERT_EQ(0, connect(s, (void *)&a, len)) TH_LOG("connect %s: %s", addr, strerror(errno));
	ASSERT_EQ(2, send(s, "hi", 2, 0));
	close(s);
}

/*
 * "unix MODE ADDR" (listen or dgram) checkpointed with --kill and
 * restarted: bound to the same address again (a path only once its stale
 * socket file is gone: restart never removes it, and says so), and it
 * takes a new connection or datagram there.
 */
static void named(struct __test_metadata *_metadata, struct cr_env *env,
		  const char *mode, const char *addr)
{
	char img[PATH_MAX], line[256], want[PATH_MAX + 16], err[4096];
	char *argv[] = { "crctl", "restart", "-i", img, NULL };
	struct proc *orig, *copy;
	int status;

	tmp_path(env, img, "named.img");
	orig = start_prog(_metadata, env, "unix", mode, addr, NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("READY", line);
	checkpoint(_metadata, env, orig->pid, img);
	expect_sigkill(_metadata, orig);
	forget(env, orig);
	if (addr[0] == '/') {
		status = run(_metadata, env, argv, -1, err, sizeof(err));
		EXPECT_TRUE(status > 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
			TH_LOG("restart with %s still there: %#x %s", addr, status, err);
		}
		EXPECT_NE(NULL, strstr(err, "EADDRINUSE")) TH_LOG("%s", err);
		EXPECT_NE(NULL, strstr(err, addr)) TH_LOG("%s", err);
		err[strcspn(err, "\n")] = 0;
		TH_LOG("with the stale socket file: \"%s\"", err);
		ASSERT_EQ(0, unlink(addr));
	}
	copy = restart(_metadata, env, img, 0);
	poke(_metadata, copy, 1);
	next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
	snprintf(want, sizeof(want), "NAME %s", addr);
	EXPECT_STREQ(want, line);
	say_hi(_metadata, addr, strcmp(mode, "dgram") ? SOCK_STREAM : SOCK_DGRAM);
	next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
	EXPECT_STREQ(strcmp(mode, "dgram") ? "ACCEPTED hi" : "GOT hi", line);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

TEST_F_TIMEOUT(usock, listen_path, TEST_TIMEOUT)
{
	char path[PATH_MAX];

	named(_metadata, &self->env, "listen", tmp_path(&self->env, path, "l.sock"));
}

TEST_F_TIMEOUT(usock, listen_abstract, TEST_TIMEOUT)
{
	char name[64];

	snprintf(name, sizeof(name), "@cr_unix.%d", getpid());
	named(_metadata, &self->env, "listen", name);
}

TEST_F_TIMEOUT(usock, dgram_bound_path, TEST_TIMEOUT)
{
	char path[PATH_MAX];

	named(_metadata, &self->env, "dgram", tmp_path(&self->env, path, "d.sock"));
}

/*
 * A listening socket and a connection it accepted, the client in a child:
 * after restart the accepted socket has the listener's name again, the
 * client's peer name is it, the bytes each sent are there, and the
 * connection carries new ones.
 */
static void accepted(struct __test_metadata *_metadata, struct cr_env *env, const char *addr)
{
	char img[PATH_MAX], line[256], srv[PATH_MAX + 32], cli[PATH_MAX + 32];
	const char *want[] = { srv, cli, "ALIVE C", "ALIVE S" };
	struct proc *orig, *copy;
	struct tree t;
	int i;

	tmp_path(env, img, "accepted.img");
	snprintf(srv, sizeof(srv), "SERVER %s c2s", addr);
	snprintf(cli, sizeof(cli), "CLIENT %s s2c", addr);
	orig = start_prog(_metadata, env, "unix", "server", addr, NULL);
	for (i = 0; i < 2; i++) {
		next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
		ASSERT_EQ(0, strncmp(line, "READY ", 6)) TH_LOG("%s", line);
	}
	checkpoint(_metadata, env, orig->pid, img);
	expect_sigkill(_metadata, orig);
	forget(env, orig);
	read_tree(_metadata, env, img, &t);
	ASSERT_EQ(2, t.n);
	tree_gone(_metadata, &t);
	if (addr[0] == '/')
		ASSERT_EQ(0, unlink(addr));
	copy = restart(_metadata, env, img, 0);
	poke(_metadata, copy, 2);
	expect_lines(_metadata, copy, want, 4, "the restored server and client");
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

TEST_F_TIMEOUT(usock, accepted_abstract, TEST_TIMEOUT)
{
	char name[64];

	snprintf(name, sizeof(name), "@cr_unix.acc.%d", getpid());
	accepted(_metadata, &self->env, name);
}

TEST_F_TIMEOUT(usock, accepted_path, TEST_TIMEOUT)
{
	char path[PATH_MAX];

	accepted(_metadata, &self->env, tmp_path(&self->env, path, "acc.sock"));
}

/*
 * Two connections queued on a listening socket, not accepted yet, their
 * clients in the tree: after restart accept() returns them in order, each
 * with the bytes its client sent (and the first's end of file: its client
 * shut down writing), connected to the right client.
 */
static void queued(struct __test_metadata *_metadata, struct cr_env *env, const char *addr)
{
	char img[PATH_MAX], line[256], want[PATH_MAX + 64];
	struct proc *orig, *copy;

	tmp_path(env, img, "queued.img");
	orig = start_prog(_metadata, env, "unix", "queued", addr, NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("READY", line);
	checkpoint(_metadata, env, orig->pid, img);
	expect_sigkill(_metadata, orig);
	forget(env, orig);
	if (addr[0] == '/')
		ASSERT_EQ(0, unlink(addr));
	copy = restart(_metadata, env, img, 0);
	poke(_metadata, copy, 1);
	next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
	snprintf(want, sizeof(want), "QUEUED %s one 0 two back", addr);
	EXPECT_STREQ(want, line);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

TEST_F_TIMEOUT(usock, listen_queued_path, TEST_TIMEOUT)
{
	char path[PATH_MAX];

	queued(_metadata, &self->env, tmp_path(&self->env, path, "q.sock"));
}

TEST_F_TIMEOUT(usock, listen_queued_abstract, TEST_TIMEOUT)
{
	char name[64];

	snprintf(name, sizeof(name), "@cr_unix.q.%d", getpid());
	queued(_metadata, &self->env, name);
}

/* A connection queued on a listening socket whose client is outside the tree: refused by name. */
TEST_F_TIMEOUT(usock, listen_queued_outside_refused, TEST_TIMEOUT)
{
	char img[PATH_MAX], err[4096], line[256], path[PATH_MAX];
	struct proc *orig;

	tmp_path(&self->env, path, "q.sock");
	orig = start_prog(_metadata, &self->env, "unix", "listen", path, NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("READY", line);
	say_hi(_metadata, path, SOCK_STREAM);
	checkpoint_refused(_metadata, &self->env, orig->pid,
			   tmp_path(&self->env, img, "q.img"), err, sizeof(err));
	EXPECT_NE(NULL, strstr(err, "not accepted yet, from a socket outside the tree")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "EOPNOTSUPP")) TH_LOG("%s", err);
	EXPECT_FALSE(reap(orig, 0));
	poke(_metadata, orig, 1);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	EXPECT_STREQ("ACCEPTED hi", line);
	expect_exit(_metadata, orig, 0);
	err[strcspn(err, "\n")] = 0;
	TH_LOG("refused: \"%s\"", err);
	check_dmesg(_metadata);
}

TEST_HARNESS_MAIN
