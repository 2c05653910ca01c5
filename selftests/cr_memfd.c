// SPDX-License-Identifier: GPL-2.0
/*
 * cr selftests: files with no name to reopen (memfds, deleted files),
 * O_PATH descriptors and directories read halfway.  Each test starts
 * progs/memfd.c on one case, checkpoints it (--kill), restarts it, and
 * lets it check itself; the restart is also compared with the original by
 * the fidelity check (cr_test.h).
 *
 * The VM the tests run in is emulated (TCG), 10-30 times slower than
 * native: every wait has a generous timeout and nothing waits forever.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300	/* s: one whole test */

FIXTURE(cr) {
	struct cr_env env;
};

FIXTURE_SETUP(cr)
{
	cr_env_setup_flags(_metadata, &self->env, "cr_memfd", 0);
}

FIXTURE_TEARDOWN(cr)
{
	cr_env_teardown(&self->env);
}

/*
 * Runs progs/memfd.c on @mode (with @arg), checkpoints it with --kill (or,
 * with @leave, leaves it running and lets it check itself first: the
 * checkpoint changed nothing), restarts it and lets it check itself.
 * @info, if not NULL, gets the image's "crctl info --json" (json_free()
 * it).
 */
static void round_trip_ex(struct __test_metadata *_metadata,
			  FIXTURE_DATA(cr) *self, const char *mode,
			  const char *arg, struct json *info, bool leave)
{
	char img[PATH_MAX], name[64];
	struct proc *orig, *copy;
	pid_t pid;

	snprintf(name, sizeof(name), "memfd-%s.img", mode);
	tmp_path(&self->env, img, name);
	orig = start_prog(_metadata, &self->env, "memfd", mode, arg, NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	pid = orig->pid;
	/* A tree (fork) may meet a checkpoint that says EAGAIN: try again. */
	checkpoint_ex(_metadata, &self->env, pid, img,
		      (strcmp(mode, "fork") ? NO_RETRY : 0) |
		      (leave ? LEAVE_RUNNING : 0));
	if (leave) {
		ASSERT_EQ(0, kill(pid, SIGUSR1));
		expect_ok_exit(_metadata, orig);
	} else {
		expect_sigkill(_metadata, orig);
	}
	if (info)
		crctl_info(_metadata, &self->env, img, info);

	copy = restart(_metadata, &self->env, img, 0);
	/* restart() waited for the restored copy (the fidelity check). */
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	expect_ok_exit(_metadata, copy);
}

static void round_trip(struct __test_metadata *_metadata,
		       FIXTURE_DATA(cr) *self, const char *mode,
		       const char *arg, struct json *info)
{
	round_trip_ex(_metadata, self, mode, arg, info, false);
}

/* How many elements of the list @list of @j have "type" @type. */
static int count_type(const struct json *j, const char *list, const char *type)
{
	int l = json_member(j, 0, list), e, n = 0;
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

/*
 * A sealed memfd (data, a hole, a trailing hole, mode, offset) comes back
 * with its name, size, contents, holes and seals (F_SEAL_WRITE really
 * refuses writes); an unsealed one open through a shared description and
 * a reopened one shares its contents across them again.
 */
TEST_F_TIMEOUT(cr, memfd, TEST_TIMEOUT)
{
	struct json j;

	round_trip(_metadata, self, "memfd", NULL, &j);
	EXPECT_EQ(2, count_type(&j, "file_objects", "memfd"));
	json_free(&j);
}

/*
 * A file opened twice then unlinked comes back unlinked: readlink says
 * "(deleted)", nlink 0, the same contents, mode and offsets, and a write
 * through one fd is seen through the other; its name stays free.
 */
TEST_F_TIMEOUT(cr, deleted, TEST_TIMEOUT)
{
	char path[PATH_MAX];
	struct json j;

	tmp_path(&self->env, path, "deleted.tmp");
	round_trip(_metadata, self, "deleted", path, &j);
	EXPECT_EQ(1, count_type(&j, "file_objects", "deleted"));
	json_free(&j);
	EXPECT_NE(0, access(path, F_OK));
}

/*
 * Checkpoint reads the contents through descriptions of its own: a target
 * left running finds its memfds and deleted file as it left them (offsets
 * too), and the image restores as well.
 */
TEST_F_TIMEOUT(cr, leave_running, TEST_TIMEOUT)
{
	char path[PATH_MAX];

	round_trip_ex(_metadata, self, "memfd", NULL, NULL, true);
	tmp_path(&self->env, path, "deleted-lr.tmp");
	round_trip_ex(_metadata, self, "deleted", path, NULL, true);
}

/*
 * A memfd in two processes of a tree: one description they share (fork),
 * another the child opened: saved once, restored once, so the child's
 * write and offset change are the parent's to see.
 */
TEST_F_TIMEOUT(cr, memfd_in_a_tree, TEST_TIMEOUT)
{
	struct json j;

	round_trip(_metadata, self, "fork", NULL, &j);
	EXPECT_EQ(1, count_type(&j, "file_objects", "memfd"));
	json_free(&j);
}

/*
 * O_PATH descriptors (a directory, a symbolic link itself) are reopened
 * with O_PATH; a directory read halfway goes on with the next entries.
 */
TEST_F_TIMEOUT(cr, paths_and_directory, TEST_TIMEOUT)
{
	char dir[PATH_MAX];

	tmp_path(&self->env, dir, "dir");
	ASSERT_EQ(0, mkdir(dir, 0755));
	round_trip(_metadata, self, "paths", dir, NULL);
}

/*
 * A deleted file with more data than an image carries is refused by name
 * (EOPNOTSUPP), and the target runs on.
 */
TEST_F_TIMEOUT(cr, deleted_over_limit_refused, TEST_TIMEOUT)
{
	char img[PATH_MAX], path[PATH_MAX], line[256], pidstr[16], err[4096];
	char *argv[] = { "crctl", "checkpoint", "-o", img, pidstr, NULL };
	char needle[32], how[64];
	struct proc *orig;
	int fd, status;
	long n1, n2;

	tmp_path(&self->env, path, "big.tmp");
	tmp_path(&self->env, img, "big.img");
	orig = start_prog(_metadata, &self->env, "memfd", "big", path, NULL);
	ASSERT_EQ(1, read_line(&orig->out, line, sizeof(line), START_TIMEOUT * 2));
	ASSERT_EQ(1, sscanf(line, "FD %d", &fd)) TH_LOG("memfd big: %s", line);
	ASSERT_EQ(1, read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT));
	n1 = atol(line);

	snprintf(pidstr, sizeof(pidstr), "%d", orig->pid);
	status = run(_metadata, &self->env, argv, -1, err, sizeof(err));
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) {
		TH_LOG("crctl checkpoint: %s",
		       status < 0 ? "timeout" : describe(status, how, sizeof(how)));
	}
	snprintf(needle, sizeof(needle), "fd %d:", fd);
	EXPECT_TRUE(strstr(err, needle) && strstr(err, "deleted file") &&
		    strstr(err, "more than 64 MiB") && strstr(err, "EOPNOTSUPP")) {
		TH_LOG("crctl checkpoint stderr: %s", err);
	}
	/* The target runs on. */
	do {
		ASSERT_EQ(1, read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT));
		n2 = atol(line);
	} while (n2 < n1 + 3);
	EXPECT_FALSE(reap(orig, 0));
}

/*
 * A memfd that a process outside the tree has open for writing through a
 * description of its own (here the test, through /proc/PID/fd) is refused
 * by name: restart would give the tree a new memfd, and the two would no
 * longer see each other's writes. So is one it has open for reading only.
 * The target runs on; once the outside description is closed, the
 * checkpoint goes through.
 */
TEST_F_TIMEOUT(cr, memfd_writer_outside_refused, TEST_TIMEOUT)
{
	char img[PATH_MAX], path[PATH_MAX], link[PATH_MAX], err[4096];
	struct proc *orig;
	struct dirent *d;
	int fd = -1, n = -1;
	DIR *dir;
	ssize_t l;

	tmp_path(&self->env, img, "writer.img");
	orig = start_prog(_metadata, &self->env, "memfd", "memfd", NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	snprintf(path, sizeof(path), "/proc/%d/fd", orig->pid);
	dir = opendir(path);
	ASSERT_NE(NULL, dir);
	while ((d = readdir(dir)) && n < 0) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", orig->pid, d->d_name);
		l = readlink(path, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = 0;
			if (!strcmp(link, "/memfd:shared (deleted)"))
				n = atoi(d->d_name);
		}
	}
	closedir(dir);
	ASSERT_LE(0, n) TH_LOG("no /memfd:shared in the target's fds");
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", orig->pid, n);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);

	checkpoint_refused(_metadata, &self->env, orig->pid, img, err, sizeof(err));
	EXPECT_TRUE(strstr(err, "memfd /memfd:shared (deleted): open for writing by 1 open file description outside the tree") &&
		    strstr(err, "EOPNOTSUPP")) {
		TH_LOG("crctl checkpoint stderr: %s", err);
	}
	close(fd);
	/* A reader outside is refused too: it would not see the tree's writes. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	checkpoint_refused(_metadata, &self->env, orig->pid, img, err, sizeof(err));
	EXPECT_TRUE(strstr(err, "memfd /memfd:shared (deleted): open by 1 open file description outside the tree") &&
		    strstr(err, "EOPNOTSUPP")) {
		TH_LOG("crctl checkpoint stderr: %s", err);
	}
	close(fd);
	checkpoint_ex(_metadata, &self->env, orig->pid, img, NO_RETRY | LEAVE_RUNNING);
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	expect_ok_exit(_metadata, orig);
}

TEST_HARNESS_MAIN
