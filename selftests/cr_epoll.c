// SPDX-License-Identifier: GPL-2.0
/*
 * Event notification descriptors (progs/epoll.c).
 *
 * An inotify instance watching three directories, one watch removed again
 * (watch descriptors 1 and 3, next 4), blocked in read() at checkpoint
 * time: after restart it reports files created in the watched directories
 * with the right watch descriptors, never sees EINTR, keeps its blocking
 * mode (and a second, non-blocking instance its O_NONBLOCK), and its next
 * new watch gets descriptor 4. Epoll sets, with every kind of watch, are
 * restored (crctl's helper adds the watches) and an epoll_wait() goes on
 * across checkpoint and restart. Refused by name, the target unharmed: an
 * inotify instance with events queued, a fanotify group, and a fired
 * EPOLLONESHOT watch.
 */
#define _GNU_SOURCE
#include <sys/stat.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300

FIXTURE(cr) {
	struct cr_env env;
};

FIXTURE_SETUP(cr)
{
	cr_env_setup(_metadata, &self->env, "cr_epoll");
}

FIXTURE_TEARDOWN(cr)
{
	cr_env_teardown(&self->env);
}

static void touch(struct __test_metadata *_metadata, const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	close(fd);
}

/* How many elements of "file_objects" of @j have "type" @type. */
static int count_type(const struct json *j, const char *type)
{
	int l = json_member(j, 0, "file_objects"), e, n = 0;
	const char *t;

	if (l < 0)
		return -1;
	for (e = j->v[l].child; e >= 0; e = j->v[e].next) {
		t = json_str(j, e, "type");
		if (t && !strcmp(t, type))
			n++;
	}
	return n;
}

static void inotify_round(struct __test_metadata *_metadata, struct cr_env *env, bool leave)
{
	char img[PATH_MAX], d[3][PATH_MAX];
	struct proc *orig, *copy;
	struct json j;
	int i, o;
	uint64_t v;

	for (i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "d%d", i + 1);
		tmp_path(env, d[i], name);
		ASSERT_EQ(0, mkdir(d[i], 0755));
	}
	tmp_path(env, img, "inotify.img");
	orig = start_prog(_metadata, env, "epoll", "inotify", d[0], d[1], d[2], NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	checkpoint_ex(_metadata, env, orig->pid, img, NO_RETRY | (leave ? LEAVE_RUNNING : 0));
	if (leave) {
		/* Unharmed: its read() goes on and sees what comes next. */
		touch(_metadata, d[0], "early");
		expect_line(_metadata, orig, "EVENT 1 100 early", START_TIMEOUT);
		touch(_metadata, d[2], "late");
		expect_line(_metadata, orig, "EVENT 3 100 late", START_TIMEOUT);
		expect_line(_metadata, orig, "DONE", START_TIMEOUT);
		expect_exit(_metadata, orig, 0);
	} else {
		expect_sigkill(_metadata, orig);
	}

	crctl_info(_metadata, env, img, &j);
	EXPECT_EQ(2, count_type(&j, "inotify"));
	EXPECT_EQ(2, count_type(&j, "inotify-watch"));
	o = json_member(&j, 0, "file_objects");
	ASSERT_LE(0, o);
	for (i = j.v[o].child; i >= 0; i = j.v[i].next) {
		const char *t = json_str(&j, i, "type");

		if (t && !strcmp(t, "inotify") && json_num(&j, i, "watches", &v) && v == 2) {
			EXPECT_TRUE(json_num(&j, i, "next_wd", &v));
			EXPECT_EQ(4, v);
		}
	}
	json_free(&j);

	copy = restart(_metadata, env, img, NULL_STDIN);
	/* restart() waited for the restored copy (the fidelity check). */
	touch(_metadata, d[2], "three");
	expect_line(_metadata, copy, "EVENT 3 100 three", START_TIMEOUT);
	touch(_metadata, d[1], "unwatched");
	touch(_metadata, d[0], "one");
	expect_line(_metadata, copy, "EVENT 1 100 one", START_TIMEOUT);
	expect_line(_metadata, copy, "DONE", START_TIMEOUT);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

TEST_F_TIMEOUT(cr, inotify, TEST_TIMEOUT)
{
	inotify_round(_metadata, &self->env, false);
}

TEST_F_TIMEOUT(cr, inotify_leave_running, TEST_TIMEOUT)
{
	inotify_round(_metadata, &self->env, true);
}

/*
 * Runs progs/epoll.c @mode (@arg), expects its checkpoint to be refused
 * with @what (and EOPNOTSUPP) naming fd @fd, and the target to run on.
 */
static void refused(struct __test_metadata *_metadata, struct cr_env *env,
		    const char *mode, const char *arg, int fd, const char *what)
{
	char img[PATH_MAX], line[256], pidstr[16], err[4096], needle[32], how[64];
	char *argv[] = { "crctl", "checkpoint", "-o", img, pidstr, NULL };
	struct proc *orig;
	int status;

	tmp_path(env, img, "refused.img");
	orig = start_prog(_metadata, env, "epoll", mode, arg, NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	if (!strcmp(line, "NOFAN"))
		SKIP(return, "no fanotify in this kernel");
	ASSERT_STREQ("READY", line);
	snprintf(pidstr, sizeof(pidstr), "%d", orig->pid);
	status = run(_metadata, env, argv, -1, err, sizeof(err));
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) {
		TH_LOG("crctl checkpoint: %s",
		       status < 0 ? "timeout" : describe(status, how, sizeof(how)));
	}
	snprintf(needle, sizeof(needle), "fd %d: ", fd);
	EXPECT_TRUE(strstr(err, needle) && strstr(err, what) && strstr(err, "EOPNOTSUPP")) {
		TH_LOG("crctl checkpoint stderr: %s", err);
	}
	/* The target runs on. */
	usleep(200000);
	EXPECT_FALSE(reap(orig, 0));
}

TEST_F_TIMEOUT(cr, inotify_queued_refused, TEST_TIMEOUT)
{
	char dir[PATH_MAX];

	tmp_path(&self->env, dir, "q");
	ASSERT_EQ(0, mkdir(dir, 0755));
	refused(_metadata, &self->env, "queued", dir, 20,
		"inotify with 1 events queued (not yet read): not supported yet");
}

TEST_F_TIMEOUT(cr, fanotify_refused, TEST_TIMEOUT)
{
	refused(_metadata, &self->env, "fanotify", NULL, 22, "fanotify: not supported yet");
}

/*
 * An epoll set with every kind of watch (see progs/epoll.c "set") is
 * restored with each watch's fd, events and data: the copy's set reports
 * each watched file getting ready, and its fdinfo has exactly the
 * original's watches.
 */
static void epoll_round(struct __test_metadata *_metadata, struct cr_env *env, bool leave)
{
	char img[PATH_MAX];
	struct proc *orig, *copy;
	struct json j;

	tmp_path(env, img, "epoll.img");
	orig = start_prog(_metadata, env, "epoll", "set", NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	checkpoint_ex(_metadata, env, orig->pid, img, NO_RETRY | (leave ? LEAVE_RUNNING : 0));
	if (leave) {
		ASSERT_EQ(3, write(orig->in, "go\n", 3));
		expect_line(_metadata, orig, "OK", START_TIMEOUT);
		expect_exit(_metadata, orig, 0);
	} else {
		expect_sigkill(_metadata, orig);
	}
	crctl_info(_metadata, env, img, &j);
	EXPECT_EQ(2, count_type(&j, "epoll"));
	EXPECT_EQ(7, count_type(&j, "epoll-watch"));
	json_free(&j);

	copy = restart(_metadata, env, img, 0);
	ASSERT_EQ(3, write(copy->in, "go\n", 3));
	expect_line(_metadata, copy, "OK", START_TIMEOUT);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

TEST_F_TIMEOUT(cr, epoll_set, TEST_TIMEOUT)
{
	epoll_round(_metadata, &self->env, false);
}

TEST_F_TIMEOUT(cr, epoll_set_leave_running, TEST_TIMEOUT)
{
	epoll_round(_metadata, &self->env, true);
}

/* A oneshot watch that fired cannot be made by epoll_ctl(): refused. */
TEST_F_TIMEOUT(cr, epoll_oneshot_fired_refused, TEST_TIMEOUT)
{
	refused(_metadata, &self->env, "fired", NULL, 23,
		"epoll watch on fd 24: an EPOLLONESHOT watch that already fired");
}

/*
 * A watch whose fd was closed and reused by another description of the
 * same inode (the other end of its pipe): the set's fdinfo names the
 * reused fd, so the watch cannot be told from one on the new file there:
 * refused, not restored on the wrong end.
 */
TEST_F_TIMEOUT(cr, epoll_fd_reused_refused, TEST_TIMEOUT)
{
	refused(_metadata, &self->env, "reused", NULL, 23,
		"epoll watch on fd 24: cannot tell which open file description it watches");
}

/*
 * The checkpoint does not make an epoll_wait() with no signal to deliver
 * fail with EINTR (it did: unlike most calls, epoll_wait returns EINTR,
 * not a restart code), in the original left running nor in the copy,
 * which waits on in the restored set.
 */
TEST_F_TIMEOUT(cr, epoll_wait_not_interrupted, TEST_TIMEOUT)
{
	char img[PATH_MAX];
	struct proc *orig, *copy;

	tmp_path(&self->env, img, "wait.img");
	orig = start_prog(_metadata, &self->env, "epoll", "wait", NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	checkpoint_ex(_metadata, &self->env, orig->pid, img, NO_RETRY | LEAVE_RUNNING);
	usleep(200000);
	ASSERT_EQ(6, write(orig->in, "hello\n", 6));
	expect_line(_metadata, orig, "EVENT hello", START_TIMEOUT);
	expect_exit(_metadata, orig, 0);

	copy = restart(_metadata, &self->env, img, 0);
	usleep(200000);
	ASSERT_EQ(6, write(copy->in, "again\n", 6));
	expect_line(_metadata, copy, "EVENT again", START_TIMEOUT);
	expect_exit(_metadata, copy, 0);
}

TEST_HARNESS_MAIN
