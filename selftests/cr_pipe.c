// SPDX-License-Identifier: GPL-2.0
/*
 * Anonymous pipes: saved with their capacity and the bytes buffered in
 * them, and restored as pipes, when every end is in the tree.
 *
 * progs/pipes.c holds, between a parent and a child, a stream pipe (with a
 * dup'd write end and an O_NONBLOCK read end), an O_DIRECT packet pipe, a
 * 256 KiB pipe (F_SETPIPE_SZ) holding 200000 bytes, and a pipe on the
 * child's fd 0; on SIGUSR1 the child checks every byte, flag and capacity.
 * The checkpoint leaves the original running by default: its bytes must
 * still be all there (peeked, not consumed), and so must the restored
 * copy's. A pipe whose other end is outside the tree, above fd 2, is
 * refused by name, unless named with crctl checkpoint --external: then
 * restart --inherit-fd gives it a pipe of the caller's. A FIFO whose path
 * was unlinked comes back unlinked, with its bytes. Real programs: a seq | awk pipeline that checks every
 * number it reads (nothing lost or repeated in the pipe), a yes | awk one,
 * and make -j2 (whose jobserver is a pipe) over 30 targets, each built
 * exactly once across the restart.
 *
 * The VM the tests run in is emulated (TCG), 10-30 times slower than
 * native: every wait has a generous timeout and nothing waits forever.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300

FIXTURE(pipe) {
	struct cr_env env;
};

FIXTURE_SETUP(pipe)
{
	cr_env_setup(_metadata, &self->env, "cr_pipe");
}

FIXTURE_TEARDOWN(pipe)
{
	cr_env_teardown(&self->env);
}

/* After a checkpoint --kill of @img's tree: every pid of it free again. */
static void image_tree_gone(struct __test_metadata *_metadata, struct cr_env *env,
			    const char *img)
{
	struct tree t;

	read_tree(_metadata, env, img, &t);
	tree_gone(_metadata, &t);
}

/* Waits until @pid catches SIGUSR1 (a restored handler is installed). */
static void wait_catches_usr1(struct __test_metadata *_metadata, pid_t pid)
{
	char path[64], line[256];
	long long stop = now_ms() + START_TIMEOUT;
	unsigned long long cgt;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	for (;; usleep(20000)) {
		cgt = 0;
		f = fopen(path, "re");
		if (f) {
			while (fgets(line, sizeof(line), f))
				if (sscanf(line, "SigCgt: %llx", &cgt) == 1)
					break;
			fclose(f);
		}
		if (cgt & (1ULL << (SIGUSR1 - 1)))
			return;
		ASSERT_GT(stop, now_ms()) TH_LOG("pid %d never catches SIGUSR1", pid);
	}
}

/* The image's pipes, from crctl info --json: how many, and their bytes. */
static void image_pipes(struct __test_metadata *_metadata, struct cr_env *env,
			const char *img, int *n, uint64_t *bytes, uint64_t *maxcap)
{
	struct json j;
	uint64_t v;
	int a, e;

	crctl_info(_metadata, env, img, &j);
	*n = 0;
	*bytes = 0;
	*maxcap = 0;
	a = json_find(&j, 0, "pipes");
	ASSERT_LE(0, a);
	for (e = j.v[a].child; e >= 0; e = j.v[e].next) {
		(*n)++;
		ASSERT_TRUE(json_num(&j, e, "data_len", &v));
		*bytes += v;
		ASSERT_TRUE(json_num(&j, e, "capacity", &v));
		if (v > *maxcap)
			*maxcap = v;
	}
	json_free(&j);
}

static void tree_round(struct __test_metadata *_metadata, struct cr_env *env, int flags)
{
	char img[PATH_MAX], line[256];
	struct proc *orig, *copy;
	uint64_t bytes, maxcap;
	pid_t child;
	int n;

	orig = start_prog(_metadata, env, "pipes", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, sscanf(line, "READY %d", &child)) TH_LOG("%s", line);
	checkpoint_ex(_metadata, env, orig->pid, tmp_path(env, img, "pipes.img"), flags);
	image_pipes(_metadata, env, img, &n, &bytes, &maxcap);
	EXPECT_EQ(4, n);
	EXPECT_EQ(strlen("stream-data-0123456789") + 3 + 5 + 8 + 200000 + 11, bytes);
	EXPECT_EQ(256 * 1024, maxcap);
	if (flags & LEAVE_RUNNING) {
		/* Unharmed: every byte still in the original's pipes. */
		ASSERT_EQ(0, kill(child, SIGUSR1));
		expect_line(_metadata, orig, "CHILD OK", START_TIMEOUT);
		expect_line(_metadata, orig, "PARENT OK 0", START_TIMEOUT);
		ASSERT_TRUE(reap(orig, START_TIMEOUT));
		ASSERT_TRUE(WIFEXITED(orig->status) && WEXITSTATUS(orig->status) == 0);
	} else {
		expect_sigkill(_metadata, orig);
		image_tree_gone(_metadata, env, img);
	}
	copy = restart(_metadata, env, img, NULL_STDIN);
	wait_catches_usr1(_metadata, child);
	ASSERT_EQ(0, kill(child, SIGUSR1));
	expect_line(_metadata, copy, "CHILD OK", START_TIMEOUT);
	expect_line(_metadata, copy, "PARENT OK 0", START_TIMEOUT);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

TEST_F_TIMEOUT(pipe, tree_leave_running, TEST_TIMEOUT)
{
	tree_round(_metadata, &self->env, LEAVE_RUNNING);
}

TEST_F_TIMEOUT(pipe, tree_killed, TEST_TIMEOUT)
{
	tree_round(_metadata, &self->env, 0);
}

/* One process, a pipe to itself, restored exec-style (the single path). */
TEST_F_TIMEOUT(pipe, self_exec_style, TEST_TIMEOUT)
{
	char img[PATH_MAX], line[256];
	struct proc *orig, *copy;
	pid_t pid;

	orig = start_prog(_metadata, &self->env, "pipes", "self", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, sscanf(line, "READY %d", &pid)) TH_LOG("%s", line);
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "self.img"));
	expect_sigkill(_metadata, orig);
	copy = restart(_metadata, &self->env, img, NULL_STDIN | NEW_PID);
	wait_catches_usr1(_metadata, copy->pid);
	ASSERT_EQ(0, kill(copy->pid, SIGUSR1));
	expect_line(_metadata, copy, "SELF OK", START_TIMEOUT);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

/* A pipe to the test itself on fd 7: refused by name, the target unharmed. */
TEST_F_TIMEOUT(pipe, outside_end_refused, TEST_TIMEOUT)
{
	char *argv[] = { "crctl", "checkpoint", "-o", NULL, NULL, NULL };
	char img[PATH_MAX], err[4096], line[256], pidstr[16], at[64];
	struct proc *orig;
	int status;
	pid_t pid;

	orig = start_prog(_metadata, &self->env, "pipes", "stdin7", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, sscanf(line, "READY %d", &pid)) TH_LOG("%s", line);
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	argv[3] = tmp_path(&self->env, img, "outside.img");
	argv[4] = pidstr;
	status = run(_metadata, &self->env, argv, -1, err, sizeof(err));
	ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) TH_LOG("%s", err);
	snprintf(at, sizeof(at), "pid %d fd 7: pipe:[", pid);
	EXPECT_NE(NULL, strstr(err, at)) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "whose other end is outside the tree")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "(EOPNOTSUPP)")) TH_LOG("%s", err);
	EXPECT_FALSE(reap(orig, 0));
	EXPECT_EQ('S', proc_state(pid));
}

/*
 * crctl checkpoint --external pipe:[INO] records the pipe to the test on
 * fd 5 as an external object (its other end is outside the tree); a
 * restart without --inherit-fd for it fails before anything is restored,
 * saying so; with --inherit-fd N:pipe:[INO] on a new pipe, the restored
 * program reads what the test writes into that pipe, then its EOF.
 * A name that is not the tree's is the caller's mistake and said so, at
 * checkpoint (the target runs on) and at restart (nothing restored).
 */
TEST_F_TIMEOUT(pipe, external_inherit_fd, TEST_TIMEOUT)
{
	char img[PATH_MAX], err[4096], line[256], pidstr[16], ext[64], map[96], want[128];
	char bogus_map[96];
	char *ck[] = { "crctl", "checkpoint", "--kill", "--external", ext, "-o", img,
		       pidstr, NULL };
	char *ck_bogus[] = { "crctl", "checkpoint", "--external", ext, "--external",
			     "pipe:[1]", "-o", img, pidstr, NULL };
	char *bare[] = { "crctl", "restart", "-i", img, NULL };
	char *rs[] = { "crctl", "restart", "--inherit-fd", map, "-i", img, NULL };
	char *rs_bogus[] = { "crctl", "restart", "--inherit-fd", map, "--inherit-fd",
			     bogus_map, "-i", img, NULL };
	struct proc *orig, *copy;
	struct stat st;
	int status, q[2];
	pid_t pid;

	orig = start_prog(_metadata, &self->env, "pipes", "ext5", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, sscanf(line, "READY %d", &pid)) TH_LOG("%s", line);
	ASSERT_EQ(0, fstat(orig->in, &st));
	snprintf(ext, sizeof(ext), "pipe:[%lu]", (unsigned long)st.st_ino);
	ASSERT_EQ(4, write(orig->in, "one\n", 4));
	expect_line(_metadata, orig, "GOT one", START_TIMEOUT);
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	tmp_path(&self->env, img, "external.img");
	/* A name no pipe of the tree has: refused, and the target runs on. */
	status = run(_metadata, &self->env, ck_bogus, -1, err, sizeof(err));
	ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "--external pipe:[1]: no process of the tree")) TH_LOG("%s", err);
	ASSERT_EQ(6, write(orig->in, "one.5\n", 6));
	expect_line(_metadata, orig, "GOT one.5", START_TIMEOUT);
	fidelity_snapshot(&self->env, pid, img);
	status = run(_metadata, &self->env, ck, -1, err, sizeof(err));
	ASSERT_EQ(0, status) TH_LOG("crctl checkpoint --external %s: %s", ext, err);
	expect_sigkill(_metadata, orig);

	/* No --inherit-fd for it: a clear line, nothing restored. */
	status = run(_metadata, &self->env, bare, -1, err, sizeof(err));
	ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) TH_LOG("%s", err);
	snprintf(want, sizeof(want), "image needs --inherit-fd for %s", ext);
	EXPECT_NE(NULL, strstr(err, want)) TH_LOG("%s", err);
	ASSERT_TRUE(wait_gone(pid, START_TIMEOUT));

	/* A new pipe: its read end is crctl's fd q[0]. */
	ASSERT_EQ(0, pipe(q));
	ASSERT_EQ(0, fcntl(q[1], F_SETFD, FD_CLOEXEC));
	snprintf(map, sizeof(map), "%d:%s", q[0], ext);
	/* One more mapping, for a pipe the image does not have: said so. */
	snprintf(bogus_map, sizeof(bogus_map), "%d:pipe:[1]", q[0]);
	status = run(_metadata, &self->env, rs_bogus, -1, err, sizeof(err));
	ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "the image has no external pipe pipe:[1]")) TH_LOG("%s", err);
	EXPECT_TRUE(wait_gone(pid, 0));
	copy = start(_metadata, &self->env, rs, -1, -1);
	close(q[0]);
	fidelity_check(_metadata, &self->env, img, copy);
	ASSERT_EQ(4, write(q[1], "two\n", 4));
	expect_line(_metadata, copy, "GOT two", START_TIMEOUT);
	close(q[1]);
	expect_line(_metadata, copy, "EOF", START_TIMEOUT);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

/*
 * A shell pipeline checkpointed in full flow: awk checks that every number
 * seq writes comes exactly once, in order, and prints every 20000th. The
 * restored pipeline goes on from where it was.
 */
static void pipeline(struct __test_metadata *_metadata, struct cr_env *env,
		     const char *cmd, const char *what, long step)
{
	char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
	char img[PATH_MAX], line[256], *end;
	struct proc *orig, *copy;
	long last = 0, v;
	int i, r;

	orig = start(_metadata, env, argv, -1, -1);
	for (i = 0; i < 3; i++) {
		next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
		v = strtol(line, &end, 10);
		ASSERT_TRUE(end != line && !*end) TH_LOG("%s: not a number: \"%s\"", what, line);
		ASSERT_EQ(last + step, v);
		last = v;
	}
	checkpoint(_metadata, env, orig->pid, tmp_path(env, img, "pipeline.img"));
	expect_sigkill(_metadata, orig);
	while ((r = read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT)) == 1) {
		v = strtol(line, &end, 10);
		ASSERT_TRUE(end != line && !*end) TH_LOG("%s: not a number: \"%s\"", what, line);
		ASSERT_EQ(last + step, v);
		last = v;
	}
	image_tree_gone(_metadata, env, img);
	copy = restart(_metadata, env, img, NULL_STDIN);
	for (i = 0; i < 4; i++) {
		next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
		v = strtol(line, &end, 10);
		ASSERT_TRUE(end != line && !*end) TH_LOG("%s: not a number: \"%s\"", what, line);
		ASSERT_EQ(last + step, v);
		last = v;
	}
	TH_LOG("%s: %ld after the restart", what, last);
	check_dmesg(_metadata);
}

TEST_F_TIMEOUT(pipe, seq_awk, TEST_TIMEOUT)
{
	pipeline(_metadata, &self->env,
		 "seq 1 1000000000 | awk '$1 != n + 1 { print \"BAD\", n, $1; exit 1 } "
		 "{ n = $1 } n % 20000 == 0 { print n; fflush() }'",
		 "seq | awk", 20000);
}

TEST_F_TIMEOUT(pipe, yes_awk, TEST_TIMEOUT)
{
	pipeline(_metadata, &self->env,
		 "yes | awk '$0 != \"y\" { print \"BAD\", NR, $0; exit 1 } "
		 "NR % 20000 == 0 { print NR; fflush() }'",
		 "yes | awk", 20000);
}

/*
 * checkpoint --kill of @pid, tried again while it catches make with a
 * signal pending (SIGCHLD of a finished job, which that refusal is about:
 * not this test's). No fidelity snapshot: make, running, changes its
 * memory map between the snapshot and the checkpoint.
 */
static void checkpoint_settled(struct __test_metadata *_metadata, struct cr_env *env,
			       pid_t pid, const char *img)
{
	char *argv[] = { "crctl", "checkpoint", "--kill", "-o", (char *)img, NULL, NULL };
	char pidstr[16], err[4096];
	int status, tries;

	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	argv[5] = pidstr;
	for (tries = 1;; tries++) {
		status = run(_metadata, env, argv, -1, err, sizeof(err));
		if (status == 0)
			return;
		ASSERT_TRUE(tries < 40 && (strstr(err, "has pending signals") ||
					   strstr(err, "(EAGAIN)"))) {
			TH_LOG("checkpoint %d, try %d: %s", pid, tries, err);
		}
		usleep(37000 * (tries % 5 + 1));
	}
}

/*
 * make -j2 over 30 targets whose recipes sleep: checkpointed mid-build
 * (its jobserver is a pipe holding tokens), it finishes after the restart,
 * every target built exactly once.
 */
TEST_F_TIMEOUT(pipe, make_j2, TEST_TIMEOUT)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], img[PATH_MAX], line[256];
	char *argv[] = { "/usr/bin/make", "-s", "-j2", "-C", dir, NULL };
	int built[32] = { 0 }, i, n, lines;
	struct proc *orig, *copy;
	long long stop;
	FILE *f;

	if (access(argv[0], X_OK))
		SKIP(return, "no %s", argv[0]);
	tmp_path(&self->env, dir, "make");
	ASSERT_EQ(0, mkdir(dir, 0755));
	snprintf(path, sizeof(path), "%s/Makefile", dir);
	f = fopen(path, "we");
	ASSERT_NE(NULL, f);
	fprintf(f, "all:");
	for (i = 1; i <= 30; i++)
		fprintf(f, " t%d", i);
	fprintf(f, "\n\nt%%:\n\tsleep 0.5\n\techo $@ >> log\n\ttouch $@\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/log", dir);

	orig = start(_metadata, &self->env, argv, -1, -1);
	for (stop = now_ms() + START_TIMEOUT;; usleep(50000)) {
		lines = 0;
		f = fopen(path, "re");
		if (f) {
			while (fgets(line, sizeof(line), f))
				lines++;
			fclose(f);
		}
		if (lines >= 6)
			break;
		ASSERT_GT(stop, now_ms()) TH_LOG("make built %d targets", lines);
	}
	checkpoint_settled(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "make.img"));
	expect_sigkill(_metadata, orig);
	image_tree_gone(_metadata, &self->env, img);
	copy = restart(_metadata, &self->env, img, NULL_STDIN);
	ASSERT_TRUE(reap(copy, 4 * START_TIMEOUT));
	ASSERT_TRUE(WIFEXITED(copy->status) && WEXITSTATUS(copy->status) == 0) {
		show_stderr(_metadata, copy);
	}
	f = fopen(path, "re");
	ASSERT_NE(NULL, f);
	lines = 0;
	while (fgets(line, sizeof(line), f)) {
		ASSERT_EQ(1, sscanf(line, "t%d", &n)) TH_LOG("%s", line);
		ASSERT_TRUE(n >= 1 && n <= 30);
		built[n]++;
		lines++;
	}
	fclose(f);
	for (i = 1; i <= 30; i++)
		EXPECT_EQ(1, built[i]) TH_LOG("t%d built %d times", i, built[i]);
	TH_LOG("make: %d targets, checkpointed after %d", lines, 6);
	check_dmesg(_metadata);
}

/* Writes @text into the FIFO at @path (the reader holds it open). */
static void fifo_say(struct __test_metadata *_metadata, const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	ASSERT_LE(0, fd) TH_LOG("open %s: %m", path);
	ASSERT_EQ((ssize_t)strlen(text), write(fd, text, strlen(text)));
	close(fd);
}

/*
 * bash reading commands from a FIFO it holds open both ways (exec
 * 3<>fifo): checkpointed while a command sleeps and the next one waits in
 * the FIFO, the restored bash keeps its variables, runs the waiting
 * command and reads new ones written to the same path.
 */
TEST_F_TIMEOUT(pipe, bash_fifo, TEST_TIMEOUT)
{
	char fifo[PATH_MAX], cmd[PATH_MAX + 128], img[PATH_MAX], line[256];
	char *argv[] = { "/bin/bash", "-c", cmd, NULL };
	struct proc *orig, *copy;
	long long stop;
	pid_t sleeper;

	if (access(argv[0], X_OK))
		SKIP(return, "no %s", argv[0]);
	tmp_path(&self->env, fifo, "cmds");
	ASSERT_EQ(0, mkfifo(fifo, 0600));
	snprintf(cmd, sizeof(cmd),
		 "n=0; exec 3<>%s; while read -r line <&3; do n=$((n+1)); eval \"$line\"; done",
		 fifo);
	orig = start(_metadata, &self->env, argv, -1, -1);
	/* bash holds the FIFO once it opened it: then writers never wait. */
	for (stop = now_ms() + START_TIMEOUT;; usleep(20000)) {
		int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

		if (fd >= 0) {
			close(fd);
			break;
		}
		ASSERT_GT(stop, now_ms()) TH_LOG("bash never opened %s", fifo);
	}
	fifo_say(_metadata, fifo, "v=42; echo start $v $n\n");
	expect_line(_metadata, orig, "start 42 1", START_TIMEOUT);
	fifo_say(_metadata, fifo, "sleep 5\necho waiting $v $n\n");
	for (stop = now_ms() + LINE_TIMEOUT;; usleep(20000)) {
		sleeper = child_running(orig->pid, "sleep");
		if (sleeper && proc_state(sleeper) == 'S')
			break;
		ASSERT_GT(stop, now_ms()) TH_LOG("no sleep child");
	}
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "bash.img"));
	expect_sigkill(_metadata, orig);
	image_tree_gone(_metadata, &self->env, img);
	copy = restart(_metadata, &self->env, img, NULL_STDIN);
	next_line(_metadata, copy, line, sizeof(line), 2 * START_TIMEOUT);
	ASSERT_STREQ("waiting 42 3", line);
	fifo_say(_metadata, fifo, "echo after $v $n\n");
	expect_line(_metadata, copy, "after 42 4", START_TIMEOUT);
	fifo_say(_metadata, fifo, "exit 7\n");
	expect_exit(_metadata, copy, 7);
	check_dmesg(_metadata);
}

/*
 * A FIFO whose path is gone (opened both ways, then unlinked), with bytes
 * buffered in it: restart makes a FIFO at the path again (its mode kept),
 * opens it, unlinks it and writes the bytes back, so the restored bash
 * reads them from the same fd, which still reads "<path> (deleted)". A
 * restart while the name is taken fails before anything is restored,
 * saying so.
 */
TEST_F_TIMEOUT(pipe, deleted_fifo, TEST_TIMEOUT)
{
	char fifo[PATH_MAX], cmd[2 * PATH_MAX + 256], img[PATH_MAX], err[4096];
	char line[PATH_MAX + 64], want[PATH_MAX + 64];
	char *argv[] = { "/bin/bash", "-c", cmd, NULL };
	char *rs[] = { "crctl", "restart", "-i", img, NULL };
	struct proc *orig, *copy;
	int status, fd;

	if (access(argv[0], X_OK))
		SKIP(return, "no %s", argv[0]);
	tmp_path(&self->env, fifo, "gone");
	ASSERT_EQ(0, mkfifo(fifo, 0640));
	ASSERT_EQ(0, chmod(fifo, 0640));
	snprintf(cmd, sizeof(cmd),
		 "exec 3<>%s; rm %s; echo buffered >&3; echo ready; read -r x; read -r l <&3; "
		 "echo got $l; readlink /proc/$$/fd/3; stat -L -c %%a /proc/$$/fd/3",
		 fifo, fifo);
	orig = start(_metadata, &self->env, argv, -1, -1);
	expect_line(_metadata, orig, "ready", START_TIMEOUT);
	ASSERT_NE(0, access(fifo, F_OK));
	tmp_path(&self->env, img, "gone.img");
	checkpoint(_metadata, &self->env, orig->pid, img);
	expect_sigkill(_metadata, orig);

	/* The name taken meanwhile: a clear failure, nothing restored. */
	fd = open(fifo, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	close(fd);
	status = run(_metadata, &self->env, rs, -1, err, sizeof(err));
	ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) TH_LOG("%s", err);
	snprintf(want, sizeof(want), "deleted FIFO %s: cannot make it again", fifo);
	EXPECT_NE(NULL, strstr(err, want)) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "(EEXIST)")) TH_LOG("%s", err);
	ASSERT_EQ(0, unlink(fifo));
	ASSERT_TRUE(wait_gone(orig->pid, START_TIMEOUT));

	copy = restart(_metadata, &self->env, img, 0);
	ASSERT_NE(0, access(fifo, F_OK)) TH_LOG("the FIFO's name is back");
	ASSERT_EQ(1, write(copy->in, "\n", 1));
	expect_line(_metadata, copy, "got buffered", START_TIMEOUT);
	snprintf(want, sizeof(want), "%s (deleted)", fifo);
	next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
	EXPECT_STREQ(want, line);
	expect_line(_metadata, copy, "640", START_TIMEOUT);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

TEST_HARNESS_MAIN
