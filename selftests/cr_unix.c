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
 *  - listen_refused: a listening socket is refused by name (not yet
 *    restored).
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

/* "crctl checkpoint -o @image @pid", which must be refused (exit status 1). */
static void checkpoint_refused(struct __test_metadata *_metadata,
			       struct cr_env *env, pid_t pid, const char *image,
			       char *err, size_t size)
{
	char *argv[] = { "crctl", "checkpoint", "-o", (char *)image, NULL, NULL };
	char pidstr[16], how[64];
	int status;

	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	argv[4] = pidstr;
	status = run(_metadata, env, argv, -1, err, size);
	ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) {
		TH_LOG("crctl checkpoint %d: %s, want exit status 1 (a refusal); stderr: %s",
		       pid, status < 0 ? "timeout" : describe(status, how, sizeof(how)),
		       err);
	}
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
	pid_t a, b = 0;
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
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
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

TEST_F_TIMEOUT(usock, listen_refused, TEST_TIMEOUT)
{
	char path[PATH_MAX];

	refused(_metadata, &self->env, "listen", tmp_path(&self->env, path, "l.sock"), 3,
		"unix socket listening on");
}

TEST_HARNESS_MAIN
