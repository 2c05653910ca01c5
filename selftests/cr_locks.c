// SPDX-License-Identifier: GPL-2.0
/*
 * File locks and signal owners: flock, POSIX and OFD locks held at
 * checkpoint time are held again by the restored processes, with their
 * ranges and types, as another process (the test) sees them; F_SETOWN
 * and F_SETSIG come back; a restart whose lock someone else took
 * meanwhile fails before the point of no return, saying why; a lease is
 * refused at checkpoint.  The target is progs/locker.c.
 */
#define _GNU_SOURCE
#include <sys/file.h>
#include <sys/syscall.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300

FIXTURE(locks) {
	struct cr_env env;
};

FIXTURE_SETUP(locks)
{
	cr_env_setup(_metadata, &self->env, "cr_locks");
}

FIXTURE_TEARDOWN(locks)
{
	cr_env_teardown(&self->env);
}

static void make_file(struct __test_metadata *_metadata, const char *path)
{
	char buf[256] = { 0 };
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(buf), write(fd, buf, sizeof(buf)));
	close(fd);
}

static void next(struct __test_metadata *_metadata, struct proc *p,
		 char *line, size_t size)
{
	next_line(_metadata, p, line, size, START_TIMEOUT);
}

/*
 * F_GETLK (or F_OFD_GETLK) of a @type lock on @start, @len of @fd: the
 * conflicting lock must be @want (F_UNLCK: none) held by @pid over
 * @wstart, @wlen.
 */
static void expect_getlk(struct __test_metadata *_metadata, int fd, int cmd,
			 short type, off_t start, off_t len, short want,
			 pid_t pid, off_t wstart, off_t wlen)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = start, .l_len = len };

	ASSERT_EQ(0, fcntl(fd, cmd, &fl)) TH_LOG("F_GETLK: %s", strerror(errno));
	EXPECT_EQ(want, fl.l_type) TH_LOG("lock at %ld+%ld", (long)start, (long)len);
	if (want == F_UNLCK || fl.l_type != want)
		return;
	EXPECT_EQ(pid, fl.l_pid) TH_LOG("lock at %ld+%ld", (long)start, (long)len);
	EXPECT_EQ(wstart, fl.l_start);
	EXPECT_EQ(wlen, fl.l_len);
}

/*
 * The locks progs/locker.c takes, as another process sees them: @pid's
 * flock, POSIX locks on 10-19 (read) and 100-EOF (write), an OFD write
 * lock on 50-59 and, if @kid, the child's POSIX read lock on 30-39.
 */
static void probe(struct __test_metadata *_metadata, const char *path,
		  pid_t pid, pid_t kid)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, flock(fd, LOCK_SH | LOCK_NB));
	EXPECT_EQ(EWOULDBLOCK, errno);
	expect_getlk(_metadata, fd, F_GETLK, F_WRLCK, 10, 10, F_RDLCK, pid, 10, 10);
	expect_getlk(_metadata, fd, F_GETLK, F_RDLCK, 10, 10, F_UNLCK, 0, 0, 0);
	expect_getlk(_metadata, fd, F_GETLK, F_RDLCK, 100, 0, F_WRLCK, pid, 100, 0);
	expect_getlk(_metadata, fd, F_GETLK, F_WRLCK, 0, 5, F_UNLCK, 0, 0, 0);
	expect_getlk(_metadata, fd, F_GETLK, F_WRLCK, 20, 10, F_UNLCK, 0, 0, 0);
	expect_getlk(_metadata, fd, F_OFD_GETLK, F_RDLCK, 50, 10, F_WRLCK, -1, 50, 10);
	expect_getlk(_metadata, fd, F_GETLK, F_WRLCK, 30, 10,
		     kid ? F_RDLCK : F_UNLCK, kid, 30, 10);
	close(fd);
}

/*
 * The pid /proc/locks names as the holder of the flock lock on @path (0:
 * none): the process that called flock(), which restart must name again.
 */
static pid_t flock_holder(struct __test_metadata *_metadata, const char *path)
{
	char line[512], kind[32];
	unsigned long ino;
	struct stat st;
	pid_t pid = 0;
	FILE *f;
	int p;

	if (stat(path, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*d: %31s %*s %*s %d %*x:%*x:%lu", kind, &p, &ino) == 3 &&
		    !strcmp(kind, "FLOCK") && ino == st.st_ino)
			pid = p;
	}
	fclose(f);
	return pid;
}

/* The restored locker's output to its end must be "OK", and it exits 0. */
static void expect_ok(struct __test_metadata *_metadata, struct proc *p)
{
	char line[256];
	int r, ok = 0;

	while ((r = read_line(&p->out, line, sizeof(line), START_TIMEOUT)) == 1) {
		if (!strcmp(line, "OK"))
			ok++;
		else
			TH_LOG("%s: %s", p->name, line);
	}
	EXPECT_EQ(1, ok);
	ASSERT_TRUE(reap(p, START_TIMEOUT));
	EXPECT_TRUE(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0) {
		show_stderr(_metadata, p);
	}
}

static void round_trip(struct __test_metadata *_metadata,
		       FIXTURE_DATA(locks) *self, const char *mode)
{
	char img[PATH_MAX], path[PATH_MAX], line[256];
	struct proc *orig, *copy;
	pid_t kid = 0, holder;

	tmp_path(&self->env, path, "locked");
	tmp_path(&self->env, img, "locks.img");
	make_file(_metadata, path);
	orig = start_prog(_metadata, &self->env, "locker", path, mode, NULL);
	next(_metadata, orig, line, sizeof(line));
	if (sscanf(line, "KID %d", &kid) == 1)
		next(_metadata, orig, line, sizeof(line));
	ASSERT_STREQ("READY", line);
	probe(_metadata, path, orig->pid, kid);
	holder = flock_holder(_metadata, path);
	ASSERT_NE(0, holder) TH_LOG("no FLOCK line for %s in /proc/locks", path);
	checkpoint_ex(_metadata, &self->env, orig->pid, img, NO_RETRY);
	expect_sigkill(_metadata, orig);
	if (kid)
		ASSERT_TRUE(wait_gone(kid, START_TIMEOUT));
	/* Every lock went with the killed tree. */
	{
		int fd = open(path, O_RDWR | O_CLOEXEC);

		ASSERT_LE(0, fd);
		EXPECT_EQ(0, flock(fd, LOCK_EX | LOCK_NB));
		close(fd);
	}

	copy = restart(_metadata, &self->env, img, 0);
	/* The restored tree's locks, seen from outside, once it runs. */
	{
		long long end = now_ms() + START_TIMEOUT;
		int fd = open(path, O_RDWR | O_CLOEXEC);

		ASSERT_LE(0, fd);
		while (!flock(fd, LOCK_SH | LOCK_NB)) {
			flock(fd, LOCK_UN);
			ASSERT_GT(end, now_ms()) {
				show_stderr(_metadata, copy);
				TH_LOG("the restored locker holds no flock lock");
			}
			usleep(20000);
		}
		close(fd);
	}
	/* The POSIX locks are taken just after the flock one: wait for them. */
	usleep(200000);
	probe(_metadata, path, orig->pid, kid);
	/* /proc/locks names the same holder (it used to name crctl). */
	EXPECT_EQ(holder, flock_holder(_metadata, path));
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	if (kid)
		ASSERT_EQ(0, kill(kid, SIGUSR1));
	expect_ok(_metadata, copy);
}

TEST_F_TIMEOUT(locks, one_process, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "");
}

/* Parent and child of one tree hold locks on one shared file. */
TEST_F_TIMEOUT(locks, parent_and_child, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "child");
}

/* crctl info shows the locks and the owner, in text and JSON. */
TEST_F_TIMEOUT(locks, info, TEST_TIMEOUT)
{
	char img[PATH_MAX], path[PATH_MAX], line[256], out[16384];
	char *argv[] = { "crctl", "info", img, NULL };
	struct proc *orig;
	uint64_t pid = 0, sig = 0;
	struct json j;
	int i, n = 0, p[2];
	const char *kind;

	tmp_path(&self->env, path, "locked");
	tmp_path(&self->env, img, "locks.img");
	make_file(_metadata, path);
	orig = start_prog(_metadata, &self->env, "locker", path, NULL);
	next(_metadata, orig, line, sizeof(line));
	ASSERT_STREQ("READY", line);
	checkpoint_ex(_metadata, &self->env, orig->pid, img, NO_RETRY);
	expect_sigkill(_metadata, orig);

	crctl_info(_metadata, &self->env, img, &j);
	i = json_find(&j, 0, "locks");
	ASSERT_LE(0, i);
	for (int e = j.v[i].child; e >= 0; e = j.v[e].next) {
		kind = json_str(&j, e, "kind");
		EXPECT_NE(NULL, kind);
		n++;
	}
	EXPECT_EQ(4, n);
	i = json_find(&j, 0, "owners");
	ASSERT_LE(0, i);
	ASSERT_LE(0, j.v[i].child);
	EXPECT_TRUE(json_num(&j, j.v[i].child, "pid", &pid));
	EXPECT_EQ(orig->pid, (pid_t)pid);
	EXPECT_TRUE(json_num(&j, j.v[i].child, "signum", &sig));
	EXPECT_EQ(SIGUSR2, sig);
	json_free(&j);

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, run(_metadata, &self->env, argv, p[1], out, sizeof(out)));
	close(p[1]);
	n = slurp(p[0], out, sizeof(out) - 1, START_TIMEOUT);
	close(p[0]);
	out[n] = 0;
	EXPECT_NE(NULL, strstr(out, "lock: file 4 flock LOCK_EX 0-EOF")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "F_RDLCK 10-19")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "posix F_WRLCK 100-EOF")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "ofd F_WRLCK 50-59")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "owner: file 4 pid")) TH_LOG("%s", out);
}

/*
 * A lock someone else took between checkpoint and restart: the restart
 * fails before the point of no return, saying which lock, and no restored
 * task is left.
 */
static void taken(struct __test_metadata *_metadata, FIXTURE_DATA(locks) *self,
		  bool posix)
{
	char img[PATH_MAX], path[PATH_MAX], line[256], err[4096];
	char *argv[] = { "crctl", "restart", "-i", img, NULL };
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 12, .l_len = 1 };
	struct proc *orig;
	int fd, status;

	tmp_path(&self->env, path, "locked");
	tmp_path(&self->env, img, "locks.img");
	make_file(_metadata, path);
	orig = start_prog(_metadata, &self->env, "locker", path, NULL);
	next(_metadata, orig, line, sizeof(line));
	ASSERT_STREQ("READY", line);
	checkpoint_ex(_metadata, &self->env, orig->pid, img, NO_RETRY);
	expect_sigkill(_metadata, orig);

	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	if (posix) {
		ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));
	} else {
		ASSERT_EQ(0, flock(fd, LOCK_SH | LOCK_NB));
	}
	status = run(_metadata, &self->env, argv, -1, err, sizeof(err));
	EXPECT_NE(0, status);
	EXPECT_NE(NULL, strstr(err, "someone else holds a conflicting lock")) {
		TH_LOG("crctl restart: %s", err);
	}
	EXPECT_NE(NULL, strstr(err, posix ? "posix F_RDLCK lock on bytes 10-19" :
			       "flock LOCK_EX")) TH_LOG("%s", err);
	EXPECT_TRUE(wait_gone(orig->pid, START_TIMEOUT));
	close(fd);
}

TEST_F_TIMEOUT(locks, flock_taken, TEST_TIMEOUT)
{
	taken(_metadata, self, false);
}

TEST_F_TIMEOUT(locks, posix_taken, TEST_TIMEOUT)
{
	taken(_metadata, self, true);
}

/* A lease is refused at checkpoint, by name. */
TEST_F_TIMEOUT(locks, lease_refused, TEST_TIMEOUT)
{
	char img[PATH_MAX], path[PATH_MAX], line[256], err[4096];
	char *argv[] = { "crctl", "checkpoint", "-o", img, line, NULL };
	struct proc *orig;

	tmp_path(&self->env, path, "leased");
	tmp_path(&self->env, img, "lease.img");
	make_file(_metadata, path);
	orig = start_prog(_metadata, &self->env, "locker", path, "lease", NULL);
	next(_metadata, orig, line, sizeof(line));
	ASSERT_STREQ("READY", line);
	snprintf(line, sizeof(line), "%d", orig->pid);
	EXPECT_NE(0, run(_metadata, &self->env, argv, -1, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "lease or delegation (F_SETLEASE) not supported yet")) {
		TH_LOG("crctl checkpoint: %s", err);
	}
	EXPECT_NE(NULL, strstr(err, "EOPNOTSUPP")) TH_LOG("%s", err);
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	next(_metadata, orig, line, sizeof(line));
	EXPECT_STREQ("OK", line);
}

/*
 * A flock or OFD lock whose description lives on only in a mapping (its
 * fd closed): restart reopens a mapping's file as another description, so
 * the lock would be lost: refused at checkpoint, by name.
 */
static void mapped(struct __test_metadata *_metadata, FIXTURE_DATA(locks) *self,
		   const char *mode, const char *kind)
{
	char img[PATH_MAX], path[PATH_MAX], line[256], err[4096], want[PATH_MAX + 64];
	char *argv[] = { "crctl", "checkpoint", "-o", img, line, NULL };
	struct proc *orig;

	/*
	 * On tmpfs: on the VM's overlayfs /tmp, a mapping holds the real
	 * file, not the locked overlay description, so the lock goes with
	 * the fd (the kernel's behaviour, not cr's).
	 */
	snprintf(path, sizeof(path), "/dev/shm/cr_locks_mapped.%d", getpid());
	tmp_path(&self->env, img, "mapped.img");
	make_file(_metadata, path);
	orig = start_prog(_metadata, &self->env, "locker", path, mode, NULL);
	next(_metadata, orig, line, sizeof(line));
	ASSERT_STREQ("READY", line);
	snprintf(line, sizeof(line), "%d", orig->pid);
	EXPECT_NE(0, run(_metadata, &self->env, argv, -1, err, sizeof(err)));
	snprintf(want, sizeof(want), "pid %d: %s lock on %s held only through a mapping",
		 orig->pid, kind, path);
	EXPECT_NE(NULL, strstr(err, want)) TH_LOG("crctl checkpoint: %s", err);
	EXPECT_NE(NULL, strstr(err, "EOPNOTSUPP")) TH_LOG("%s", err);
	/* The original still holds its lock and runs on. */
	{
		int fd = open(path, O_RDWR | O_CLOEXEC);

		ASSERT_LE(0, fd);
		if (!strcmp(kind, "flock")) {
			EXPECT_EQ(-1, flock(fd, LOCK_SH | LOCK_NB));
		} else {
			expect_getlk(_metadata, fd, F_OFD_GETLK, F_RDLCK, 0, 10,
				     F_WRLCK, -1, 0, 10);
		}
		close(fd);
	}
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	next(_metadata, orig, line, sizeof(line));
	EXPECT_STREQ("OK", line);
	unlink(path);
}

TEST_F_TIMEOUT(locks, flock_only_mapped_refused, TEST_TIMEOUT)
{
	mapped(_metadata, self, "mapped", "flock");
}

TEST_F_TIMEOUT(locks, ofd_only_mapped_refused, TEST_TIMEOUT)
{
	mapped(_metadata, self, "mapped-ofd", "ofd");
}

/*
 * A task blocked in F_SETLKW (then flock) holds no lock: its wait is its
 * interrupted system call, which the restored task makes again, and it
 * gets the lock once the test releases it.
 */
TEST_F_TIMEOUT(locks, blocked_waiter, TEST_TIMEOUT)
{
	char img[PATH_MAX], path[PATH_MAX], line[256];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 10 };
	struct proc *orig, *copy;
	long long end;
	struct flock q;
	int fd, fd2;

	tmp_path(&self->env, path, "locked");
	tmp_path(&self->env, img, "wait.img");
	make_file(_metadata, path);
	fd = open(path, O_RDWR | O_CLOEXEC);
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));
	ASSERT_EQ(0, flock(fd2, LOCK_EX | LOCK_NB));
	orig = start_prog(_metadata, &self->env, "locker", path, "wait", NULL);
	next(_metadata, orig, line, sizeof(line));
	ASSERT_STREQ("WAITING", line);
	usleep(300000);
	checkpoint_ex(_metadata, &self->env, orig->pid, img, NO_RETRY);
	expect_sigkill(_metadata, orig);

	copy = restart(_metadata, &self->env, img, 0);
	/* Still waiting: nothing to read for a while. */
	EXPECT_EQ(-ETIMEDOUT, read_line(&copy->out, line, sizeof(line), 1000)) {
		TH_LOG("restored locker said \"%s\" while the test holds the lock", line);
	}
	fl.l_type = F_UNLCK;
	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));
	/* It has the POSIX lock, and waits for the flock one. */
	end = now_ms() + START_TIMEOUT;
	for (;;) {
		q = (struct flock){ .l_type = F_RDLCK, .l_whence = SEEK_SET,
				    .l_start = 0, .l_len = 10 };
		ASSERT_EQ(0, fcntl(fd, F_GETLK, &q));
		if (q.l_type == F_WRLCK)
			break;
		ASSERT_GT(end, now_ms()) TH_LOG("the restored waiter never got its lock");
		usleep(20000);
	}
	EXPECT_EQ(orig->pid, q.l_pid);
	ASSERT_EQ(0, flock(fd2, LOCK_UN));
	next(_metadata, copy, line, sizeof(line));
	EXPECT_STREQ("GOT", line);
	usleep(100000);
	{
		char st[4096], *l;
		FILE *f;

		snprintf(st, sizeof(st), "/proc/%d/status", orig->pid);
		f = fopen(st, "r");
		while (f && fgets(st, sizeof(st), f))
			if ((l = strstr(st, "Sig")) == st || strstr(st, "State"))
				TH_LOG("%s", st);
		if (f)
			fclose(f);
	}
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	expect_ok(_metadata, copy);
	close(fd);
	close(fd2);
}

/* A signal owner outside the tree is refused at checkpoint, by name. */
TEST_F_TIMEOUT(locks, owner_outside_refused, TEST_TIMEOUT)
{
	char img[PATH_MAX], path[PATH_MAX], line[256], err[4096], want[128];
	char *argv[] = { "crctl", "checkpoint", "-o", img, line, NULL };
	struct proc *orig;

	tmp_path(&self->env, path, "owned");
	tmp_path(&self->env, img, "owner.img");
	make_file(_metadata, path);
	orig = start_prog(_metadata, &self->env, "locker", path, "owner", NULL);
	next(_metadata, orig, line, sizeof(line));
	ASSERT_STREQ("READY", line);
	snprintf(line, sizeof(line), "%d", orig->pid);
	EXPECT_NE(0, run(_metadata, &self->env, argv, -1, err, sizeof(err)));
	snprintf(want, sizeof(want),
		 "signal owner (F_SETOWN) process %d outside the tree: not supported",
		 getpid());
	EXPECT_NE(NULL, strstr(err, want)) TH_LOG("crctl checkpoint: %s", err);
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	next(_metadata, orig, line, sizeof(line));
	EXPECT_STREQ("OK", line);
}

/*
 * A description the test shares with the target (taken with
 * pidfd_getfd(), as a process it passed the fd to would hold it) cannot
 * be shared again after a restart, and its flock would no longer be the
 * test's too: refused at checkpoint, by name; once the test closes its
 * copy, the checkpoint goes through.
 */
TEST_F_TIMEOUT(locks, shared_outside_refused, TEST_TIMEOUT)
{
	char img[PATH_MAX], path[PATH_MAX], line[256], err[4096], want[PATH_MAX + 256];
	char *argv[] = { "crctl", "checkpoint", "-o", img, line, NULL };
	struct proc *orig;
	int pidfd, fd;

	tmp_path(&self->env, path, "shared");
	tmp_path(&self->env, img, "shared.img");
	make_file(_metadata, path);
	orig = start_prog(_metadata, &self->env, "locker", path, "", NULL);
	next(_metadata, orig, line, sizeof(line));
	ASSERT_STREQ("READY", line);
	snprintf(line, sizeof(line), "%d", orig->pid);
	pidfd = syscall(SYS_pidfd_open, orig->pid, 0);
	ASSERT_LE(0, pidfd) TH_LOG("pidfd_open: %s", strerror(errno));
	/* The locker's first open, fd 3, holds its flock. */
	fd = syscall(SYS_pidfd_getfd, pidfd, 3, 0);
	ASSERT_LE(0, fd) TH_LOG("pidfd_getfd: %s", strerror(errno));
	EXPECT_NE(0, run(_metadata, &self->env, argv, -1, err, sizeof(err)));
	snprintf(want, sizeof(want),
		 "pid %d fd 3: regular %s, with a lock,: open file description shared with a process outside the tree (1 reference outside it): not supported",
		 orig->pid, path);
	EXPECT_NE(NULL, strstr(err, want)) TH_LOG("crctl checkpoint: %s", err);
	EXPECT_NE(NULL, strstr(err, "EOPNOTSUPP")) TH_LOG("%s", err);
	/* The lock is still the locker's (and the test's, through fd). */
	EXPECT_EQ(0, flock(fd, LOCK_EX | LOCK_NB));
	close(fd);
	close(pidfd);
	EXPECT_EQ(0, run(_metadata, &self->env, argv, -1, err, sizeof(err))) {
		TH_LOG("crctl checkpoint: %s", err);
	}
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	next(_metadata, orig, line, sizeof(line));
	EXPECT_STREQ("OK", line);
}

TEST_HARNESS_MAIN
