// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the cr selftests: see cr_test.h.  Compiled once and
 * linked into every test program.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <asm/prctl.h>
/*
 * The harness for its ASSERT and EXPECT macros only: its runner functions
 * are static and unused here, and its one global (the list of fixtures)
 * belongs to the test program, so this file's copy gets another name.
 */
#define _fixture_global cr_test_unused_fixture_global
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#undef _fixture_global
#define CR_TEST_IOCTL
#include "cr_test.h"

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Reads one line (without its '\n') into @line.  Returns 1, 0 at end of
 * file, -ETIMEDOUT if no whole line came within @timeout ms (0: only what
 * is there already), or another -errno.  An unterminated last line is
 * returned as a line.
 */
int read_line(struct lbuf *lb, char *line, size_t size, int timeout)
{
	long long end = now_ms() + timeout, left;
	struct pollfd pfd = { .fd = lb->fd, .events = POLLIN };
	size_t n;
	ssize_t r;
	char *nl;

	for (;;) {
		nl = memchr(lb->buf, '\n', lb->len);
		if (nl || lb->len == sizeof(lb->buf)) {
			n = nl ? (size_t)(nl - lb->buf) : lb->len;
			snprintf(line, size, "%.*s", (int)n, lb->buf);
			n += !!nl;
			memmove(lb->buf, lb->buf + n, lb->len - n);
			lb->len -= n;
			return 1;
		}
		left = end - now_ms();
		r = poll(&pfd, 1, left > 0 ? left : 0);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			continue;
		r = read(lb->fd, lb->buf + lb->len, sizeof(lb->buf) - lb->len);
		if (r < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (r == 0) {
			if (!lb->len)
				return 0;
			snprintf(line, size, "%.*s", (int)lb->len, lb->buf);
			lb->len = 0;
			return 1;
		}
		if (r > 0)
			lb->len += r;
	}
}

/*
 * Reads @fd until end of file or @timeout ms into @buf (NUL-terminated,
 * truncated to fit; the rest is read and dropped).  Returns the length kept.
 */
size_t slurp(int fd, char *buf, size_t size, int timeout)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long long end = now_ms() + timeout, left;
	size_t len = 0;
	char drop[512];
	ssize_t r;

	buf[0] = 0;
	for (;;) {
		left = end - now_ms();
		r = poll(&pfd, 1, left > 0 ? left : 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (len < size - 1)
			r = read(fd, buf + len, size - 1 - len);
		else
			r = read(fd, drop, sizeof(drop));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		if (len < size - 1)
			len += r;
	}
	buf[len] = 0;
	return len;
}

const char *describe(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "wait status %#x", status);
	return buf;
}

/*
 * Reads /proc/@pid/stat into @buf as a string (one read(2) of at most
 * @size - 1 bytes); false if @pid is gone.  Works for a zombie too.
 */
bool read_proc_stat(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/* State, parent, process group and session of @pid; false if it is gone. */
bool proc_ids(pid_t pid, struct ids *ids)
{
	char buf[512], *p;

	if (!read_proc_stat(pid, buf, sizeof(buf)))
		return false;
	p = strrchr(buf, ')');
	return p && sscanf(p + 1, " %c %d %d %d", &ids->state, &ids->ppid,
			   &ids->pgid, &ids->sid) == 4;
}

char proc_state(pid_t pid)
{
	struct ids ids;

	return proc_ids(pid, &ids) ? ids.state : 0;
}

pid_t parent_of(pid_t pid)
{
	struct ids ids;

	return proc_ids(pid, &ids) ? ids.ppid : 0;
}

/* SIGKILLs every descendant of @parent, the deepest first. */
void kill_descendants(pid_t parent)
{
	struct dirent *e;
	DIR *d;
	pid_t pid;

	d = opendir("/proc");
	if (!d)
		return;
	while ((e = readdir(d))) {
		pid = atoi(e->d_name);
		if (pid > 0 && parent_of(pid) == parent) {
			kill_descendants(pid);
			kill(pid, SIGKILL);
		}
	}
	closedir(d);
}

/*
 * Waits up to @timeout ms for the child @pid to end and reaps it, its wait
 * status in *@status (if not NULL); false if it is still running.
 */
bool reap_pid(pid_t pid, int *status, int timeout)
{
	long long end = now_ms() + timeout;
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
		if (now_ms() >= end)
			return false;
		usleep(10000);
	}
}

/* Waits up to @timeout ms for @p to end; false if it is still running. */
bool reap(struct proc *p, int timeout)
{
	if (!p->reaped && !reap_pid(p->pid, &p->status, timeout))
		return false;
	p->reaped = true;
	return true;
}

/*
 * A child the test forked itself (not with start(): no struct proc) is
 * noted with kid_add(), so that the teardown kills it if it is still
 * there, and forgotten with kid_del() once reaped.
 */
void kid_add(struct cr_env *env, pid_t pid)
{
	int i;

	for (i = 0; i < MAX_KIDS; i++) {
		if (!env->kids[i]) {
			env->kids[i] = pid;
			return;
		}
	}
}

void kid_del(struct cr_env *env, pid_t pid)
{
	int i;

	for (i = 0; i < MAX_KIDS; i++) {
		if (env->kids[i] == pid)
			env->kids[i] = 0;
	}
}

/* SIGKILLs the kid @pid and reaps it within @timeout ms; false if it stays. */
bool kill_kid(struct cr_env *env, pid_t pid, int *status,
	      int timeout)
{
	kill(pid, SIGKILL);
	if (!reap_pid(pid, status, timeout))
		return false;
	kid_del(env, pid);
	return true;
}

/*
 * Waits up to @timeout ms until no task has the id @pid any more (reaping
 * it if it is a child of ours, e.g. reparented to us, the subreaper).
 */
bool wait_gone(pid_t pid, int timeout)
{
	long long end = now_ms() + timeout;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", pid);
	for (;;) {
		waitpid(pid, NULL, WNOHANG | __WALL);
		if (access(path, F_OK) && errno == ENOENT)
			return true;
		if (now_ms() >= end)
			return false;
		usleep(10000);
	}
}

void show_stderr(struct __test_metadata *_metadata, struct proc *p)
{
	char buf[4096];

	if (slurp(p->err, buf, sizeof(buf), 200))
		TH_LOG("stderr of %s (pid %d):\n%s", p->name, p->pid, buf);
}

void child_setup(int in, int out, int err)
{
	sigset_t none;

	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* "crctl restart", the program's path or "forked child", for messages. */
char *proc_name(char *const argv[])
{
	char *name;

	if (!argv)
		return strdup("forked child");
	if (strcmp(argv[0], "crctl") || !argv[1])
		return strdup(argv[0]);
	return asprintf(&name, "crctl %s", argv[1]) < 0 ? NULL : name;
}

/*
 * Forks a child with stdin on @in_fd, stdout on @out_fd (each a new pipe
 * if -1) and stderr on a new pipe, as uid and gid 65534 with AS_NOBODY in
 * @flags.  The child runs @fn(@arg) and exits with its return value if @fn
 * is set (@argv may then be NULL), and execs @argv (on PATH) if not.
 * Every fd of the test is O_CLOEXEC, so an exec'd child has exactly these
 * three.  The child is killed in the teardown if it is still there.
 */
struct proc *start_ex(struct __test_metadata *_metadata,
		      struct cr_env *env, char *const argv[],
		      int (*fn)(void *), void *arg,
		      int in_fd, int out_fd, int flags)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2];
	struct proc *p;

	ASSERT_GT(MAX_PROCS, env->nprocs);
	p = calloc(1, sizeof(*p));
	ASSERT_NE(NULL, p);
	p->name = proc_name(argv);
	ASSERT_NE(NULL, p->name);
	if (in_fd < 0) {
		ASSERT_EQ(0, pipe2(in, O_CLOEXEC));
		in_fd = in[0];
	}
	if (out_fd < 0) {
		ASSERT_EQ(0, pipe2(out, O_CLOEXEC));
		out_fd = out[1];
	}
	ASSERT_EQ(0, pipe2(err, O_CLOEXEC));
	fflush(stdout);
	fflush(stderr);
	p->pid = fork();
	ASSERT_LE(0, p->pid);
	if (p->pid == 0) {
		child_setup(in_fd, out_fd, err[1]);
		if ((flags & AS_NOBODY) &&
		    (setgroups(0, NULL) || setgid(65534) || setuid(65534))) {
			dprintf(2, "dropping privileges: %m\n");
			_exit(126);
		}
		if (fn)
			_exit(fn(arg));
		execvp(argv[0], argv);
		dprintf(2, "exec %s: %m\n", argv[0]);
		_exit(127);
	}
	if (in[0] >= 0)
		close(in[0]);
	if (out[1] >= 0)
		close(out[1]);
	close(err[1]);
	p->in = in[1];
	p->out.fd = out[0];
	p->err = err[0];
	env->procs[env->nprocs++] = p;
	return p;
}

/* start_ex() of @argv, as root. */
struct proc *start(struct __test_metadata *_metadata,
		   struct cr_env *env, char *const argv[],
		   int in_fd, int out_fd)
{
	return start_ex(_metadata, env, argv, NULL, NULL, in_fd, out_fd, 0);
}

/* Closes the test's ends of @p's pipes and frees @p. */
void free_proc(struct proc *p)
{
	if (p->in >= 0)
		close(p->in);
	if (p->out.fd >= 0)
		close(p->out.fd);
	close(p->err);
	free(p->name);
	free(p);
}

/* Closes what the test holds of @p, which is reaped, and forgets it. */
void forget(struct cr_env *env, struct proc *p)
{
	int i;

	for (i = 0; i < env->nprocs && env->procs[i] != p; i++)
		;
	if (i == env->nprocs || !p->reaped)
		return;
	env->procs[i] = env->procs[--env->nprocs];
	free_proc(p);
}

/* Starts progs/@name with the NULL-terminated arguments that follow. */
struct proc *start_prog(struct __test_metadata *_metadata,
			struct cr_env *env, const char *name, ...)
{
	char path[PATH_MAX + 64], *argv[8];
	va_list ap;
	int argc = 1;

	snprintf(path, sizeof(path), "%s/%s", env->bin, name);
	argv[0] = path;
	va_start(ap, name);
	while (argc < 7 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	return start(_metadata, env, argv, -1, -1);
}

/*
 * Runs @argv to its end with stdin on /dev/null, stdout on @out_fd (or
 * /dev/null if -1) and its stderr into @err, as nobody with AS_NOBODY in
 * @flags.  Returns the wait status, or -1 if it did not end within
 * START_TIMEOUT.
 */
int run_ex(struct __test_metadata *_metadata, struct cr_env *env,
	   char *const argv[], int out_fd, int flags, char *err,
	   size_t size)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), status;
	struct proc *p;

	ASSERT_LE(0, null);
	p = start_ex(_metadata, env, argv, NULL, NULL, null,
		     out_fd < 0 ? null : out_fd, flags);
	close(null);
	slurp(p->err, err, size, START_TIMEOUT);
	if (!reap(p, START_TIMEOUT)) {
		TH_LOG("%s did not finish in %d ms", argv[0], START_TIMEOUT);
		return -1;
	}
	status = p->status;
	forget(env, p);
	return status;
}

/* run_ex() of @argv, as root. */
int run(struct __test_metadata *_metadata, struct cr_env *env,
	char *const argv[], int out_fd, char *err, size_t size)
{
	return run_ex(_metadata, env, argv, out_fd, 0, err, size);
}

char *tmp_path(struct cr_env *env, char *buf, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", env->dir, name);
	return buf;
}

/* Takes the fidelity snapshot of the tree of @pid for @image (cr_proc.h). */
void fidelity_snapshot(struct cr_env *env, pid_t pid, const char *image)
{
	int i;

	for (i = 0; i < env->nsnaps; i++)
		if (!strcmp(env->snaps[i].image, image))
			break;
	if (i == MAX_SNAPS)
		i = 0;
	else if (i == env->nsnaps)
		env->nsnaps++;
	free(env->snaps[i].s.buf);
	snprintf(env->snaps[i].image, PATH_MAX, "%s", image);
	env->snaps[i].root = pid;
	env->snaps[i].s = snap_tree(pid);
}

/* Whether @pid is @anc or one of its descendants (up to 3 levels down). */
bool fidelity_under(pid_t pid, pid_t anc)
{
	int i;

	for (i = 0; i < 4 && pid > 1; i++, pid = parent_of(pid))
		if (pid == anc)
			return true;
	return false;
}

/*
 * The fidelity check of a restart of @image by crctl @p: finds the
 * restored root (the image's pid, crctl's own for an exec-style restore,
 * or a descendant of crctl in a new pid namespace) once its memory map is
 * the image's, and compares what the tree shows in /proc with the
 * snapshot checkpoint_ex() took.  No snapshot, a restart that fails or a
 * root that never appears: nothing to compare.
 */
void fidelity_check(struct __test_metadata *_metadata,
		    struct cr_env *env, const char *image,
		    struct proc *p)
{
	const struct snap *before = NULL;
	char first[512], got[512], diff[4096];
	long long end = now_ms() + START_TIMEOUT;
	pid_t root = 0, orig = 0, cand[64];
	struct snap after = { 0 };
	const char *l;
	int i, n, nd = 0;

	for (i = 0; i < env->nsnaps; i++) {
		if (!strcmp(env->snaps[i].image, image)) {
			before = &env->snaps[i].s;
			orig = env->snaps[i].root;
		}
	}
	if (!before || !before->buf || !(l = snap_find(before->buf, "root maps ")))
		return;
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(l, "\n"), l);
	while (!root && now_ms() < end) {
		char st = proc_state(p->pid);

		if (st == 0 || st == 'Z' || st == 'X')
			return;		/* crctl is gone: the restart failed */
		n = 0;
		cand[n++] = orig;
		/*
		 * A tree restart restores the root's pid: then only it will
		 * do (a child of a forked root has the same first maps line,
		 * and may be restored first).
		 */
		if (!fidelity_under(orig, p->pid))
			cand[n++] = p->pid;
		if (n > 1) {
			int ids[1024], k, m = snap_ids("/proc", ids, 1024);

			for (k = 0; k < m && n < 64; k++)
				if (ids[k] != p->pid && fidelity_under(ids[k], p->pid))
					cand[n++] = ids[k];
		}
		for (i = 0; i < n && !root; i++) {
			struct snap s = { 0 };
			char who[32];
			const char *m;

			if (!fidelity_under(cand[i], p->pid))
				continue;
			snprintf(who, sizeof(who), "/proc/%d", cand[i]);
			snap_file(&s, "root", who, "maps", "maps", NULL);
			m = s.buf ? s.buf : "";
			snprintf(got, sizeof(got), "%.*s", (int)strcspn(m, "\n"), m);
			if (!strcmp(got, first))
				root = cand[i];
			free(s.buf);
		}
		if (!root)
			usleep(20000);
	}
	if (!root) {
		TH_LOG("fidelity: no restored copy of %s found", image);
		return;
	}
	/*
	 * Every task may still be finishing its part (its memory mapped, the
	 * rest still being filled in, slowly on a loaded emulated machine):
	 * let them settle. Only a real difference waits the whole time.
	 */
	for (end = now_ms() + START_TIMEOUT;;) {
		free(after.buf);
		after = snap_tree(root);
		nd = snap_diff(before, &after, diff, sizeof(diff), 8);
		if (!nd || now_ms() > end)
			break;
		usleep(100000);
	}
	free(after.buf);
	env->fidelity_checked++;
	EXPECT_EQ(0, nd) {
		TH_LOG("fidelity: the restored tree of %s (root %d) differs from the original in %d facts:\n%s",
		       image, root, nd, diff);
	}
}

/*
 * crctl checkpoint --kill -o @image @pid, which must succeed; without
 * --kill with LEAVE_RUNNING in @flags.  A checkpoint that meets a tree
 * changing under it (a task exiting, an execve()) fails with EAGAIN: try
 * again.  One that fails with ESRCH because a child was reaped while the
 * tree was being collected ("not visible in the caller's pid namespace")
 * is tried again too, but counted: that is a kernel race that fork_heavy
 * reports.  Up to CKPT_TRIES tries; only one with NO_RETRY, for a target
 * that has no children, where neither may happen.
 */
void checkpoint_ex(struct __test_metadata *_metadata,
		   struct cr_env *env, pid_t pid,
		   const char *image, int flags)
{
	char *argv[] = { "crctl", "checkpoint", "--kill", "-o", (char *)image,
			 NULL, NULL };
	const char *kill_opt = " --kill";
	char pidstr[16], err[4096], how[64];
	bool changed = false;
	int status, tries;

	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	argv[5] = pidstr;
	if (flags & LEAVE_RUNNING) {
		memmove(&argv[2], &argv[3], 4 * sizeof(argv[0]));
		kill_opt = "";
	}
	for (tries = 1;; tries++) {
		fidelity_snapshot(env, pid, image);
		status = run(_metadata, env, argv, -1, err, sizeof(err));
		if (status == 0)
			return;
		if (changed && strstr(err, "did not reach a safe point"))
			TH_LOG("the checkpoint that said \"the tree changed\" left tasks parked");
		changed = strstr(err, "the tree changed");
		if (tries >= CKPT_TRIES || status < 0 || (flags & NO_RETRY))
			break;
		if (strstr(err, "(EAGAIN)")) {
			env->ckpt_eagain++;
		} else if (strstr(err, "not visible in the caller's pid namespace")) {
			env->ckpt_esrch++;
		} else {
			break;
		}
		TH_LOG("checkpoint %d, try %d: %s", pid, tries, err);
		usleep(50000);
	}
	ASSERT_EQ(0, status) {
		TH_LOG("crctl checkpoint%s %d (try %d): %s\n%s", kill_opt, pid,
		       tries,
		       status < 0 ? "timeout" : describe(status, how, sizeof(how)),
		       err);
	}
}

void checkpoint(struct __test_metadata *_metadata,
		struct cr_env *env, pid_t pid, const char *image)
{
	checkpoint_ex(_metadata, env, pid, image, 0);
}

/*
 * Starts "crctl restart [--stopped] [--new-pid] -i @image" in a child whose
 * stdout is a new pipe, and stdin a pipe that never gets data (or
 * /dev/null with NULL_STDIN).  A single process gets its original pid (the
 * child is crctl, its parent) unless NEW_PID asks for the exec-style
 * restore (the child becomes it).
 */
struct proc *restart(struct __test_metadata *_metadata,
		     struct cr_env *env, const char *image,
		     int flags)
{
	char *argv[8] = { "crctl", "restart" };
	struct proc *p;
	int null = -1, argc = 2;

	if (flags & STOPPED)
		argv[argc++] = "--stopped";
	if (flags & NEW_PID)
		argv[argc++] = "--new-pid";
	argv[argc++] = "-i";
	argv[argc++] = (char *)image;
	argv[argc] = NULL;
	if (flags & NULL_STDIN) {
		null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, null);
	}
	p = start(_metadata, env, argv, null, -1);
	if (null >= 0)
		close(null);
	fidelity_check(_metadata, env, image, p);
	return p;
}

/* The original after checkpoint --kill: dead, of SIGKILL. */
void expect_sigkill(struct __test_metadata *_metadata, struct proc *p)
{
	char how[64];

	ASSERT_TRUE(reap(p, START_TIMEOUT)) {
		TH_LOG("%s (pid %d) still runs after checkpoint --kill",
		       p->name, p->pid);
	}
	ASSERT_TRUE(WIFSIGNALED(p->status) && WTERMSIG(p->status) == SIGKILL) {
		TH_LOG("%s: %s, not SIGKILL", p->name,
		       describe(p->status, how, sizeof(how)));
	}
}

/* @p (a crctl restart) must end with exit status @code. */
void expect_exit(struct __test_metadata *_metadata, struct proc *p,
		 int code)
{
	char how[64];

	ASSERT_TRUE(reap(p, START_TIMEOUT)) {
		TH_LOG("%s (pid %d) did not end", p->name, p->pid);
	}
	if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != code)
		show_stderr(_metadata, p);
	ASSERT_TRUE(WIFEXITED(p->status) && WEXITSTATUS(p->status) == code) {
		TH_LOG("%s: %s, want exit status %d", p->name,
		       describe(p->status, how, sizeof(how)), code);
	}
}

/* The next line of @p, which must come within @timeout ms. */
void next_line(struct __test_metadata *_metadata, struct proc *p,
	       char *line, size_t size, int timeout)
{
	int r = read_line(&p->out, line, size, timeout);

	if (r != 1) {
		show_stderr(_metadata, p);
		ASSERT_EQ(1, r) {
			TH_LOG("%s (pid %d): %s", p->name, p->pid,
			       r ? strerror(-r) : "end of output");
		}
	}
}

/* Skips lines that start with "T " up to the next other one, @want. */
void expect_line_after_ticks(struct __test_metadata *_metadata,
			     struct proc *p, const char *want)
{
	char line[512];
	int ticks = 0;

	do {
		next_line(_metadata, p, line, sizeof(line), LINE_TIMEOUT);
		ASSERT_GT(1000, ticks++);
	} while (!strncmp(line, "T ", 2));
	ASSERT_STREQ(want, line);
}

/* "crctl info --json @image": the image's tree, with each thread's comm. */
void read_tree(struct __test_metadata *_metadata,
	       struct cr_env *env, const char *image,
	       struct tree *t)
{
	int tree, v, n = 0, i;
	uint64_t x[7], tid;
	struct tentry *e;
	const char *comm;
	struct json j;

	memset(t, 0, sizeof(*t));
	crctl_info(_metadata, env, image, &j);
	tree = json_find(&j, -1, "tree");
	for (v = tree >= 0 ? j.v[tree].child : -1; v >= 0; v = j.v[v].next, n++) {
		if (t->n >= MAX_TASKS)
			continue;
		e = &t->e[t->n];
		if (!json_num(&j, v, "pid", &x[0]) || !json_num(&j, v, "tgid", &x[1]) ||
		    !json_num(&j, v, "ppid", &x[2]) || !json_num(&j, v, "pgid", &x[3]) ||
		    !json_num(&j, v, "sid", &x[4]) || !json_num(&j, v, "zombie", &x[5]))
			continue;
		e->pid = x[0];
		e->tgid = x[1];
		e->ppid = x[2];
		e->pgid = x[3];
		e->sid = x[4];
		snprintf(e->kind, sizeof(e->kind), "%s",
			 x[5] ? "zombie" : e->pid == e->tgid ? "process" : "thread");
		if (x[5]) {
			ASSERT_TRUE(json_num(&j, v, "exit_code", &x[6])) {
				TH_LOG("crctl info %s: zombie %d without exit_code", image, e->pid);
				json_free(&j);
			}
			e->exit_status = x[6];
		}
		t->n++;
	}
	for (v = json_find(&j, -1, "threads"), v = v >= 0 ? j.v[v].child : -1; v >= 0;
	     v = j.v[v].next) {
		comm = json_str(&j, v, "comm");
		if (!json_num(&j, v, "tid", &tid) || !comm)
			continue;
		for (i = 0; i < t->n; i++) {
			if (t->e[i].pid == (pid_t)tid)
				snprintf(t->e[i].comm, sizeof(t->e[i].comm), "%s", comm);
		}
	}
	json_free(&j);
	ASSERT_LT(0, t->n) TH_LOG("crctl info %s: no tree", image);
	ASSERT_EQ(n, t->n) TH_LOG("crctl info %s: tree of %d tasks, %d listed",
				  image, n, t->n);
}

struct tentry *tree_find(struct tree *t, pid_t pid)
{
	int i;

	for (i = 0; i < t->n; i++) {
		if (t->e[i].pid == pid)
			return &t->e[i];
	}
	return NULL;
}

/* Every pid of @t must be free (reaped) before a restart can use it. */
void tree_gone(struct __test_metadata *_metadata, struct tree *t)
{
	int i;

	for (i = 0; i < t->n; i++) {
		ASSERT_TRUE(wait_gone(t->e[i].pid, START_TIMEOUT)) {
			TH_LOG("pid %d (%s) still there after checkpoint --kill (state %c)",
			       t->e[i].pid, t->e[i].kind, proc_state(t->e[i].pid));
		}
	}
}

/* The tids of process @pid, sorted; returns how many. */
int task_ids(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	struct dirent *e;
	int n = 0, i, j;
	pid_t t;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		t = atoi(e->d_name);
		if (t > 0 && n < max)
			tids[n++] = t;
	}
	closedir(d);
	for (i = 1; i < n; i++) {
		for (j = i; j > 0 && tids[j - 1] > tids[j]; j--) {
			t = tids[j];
			tids[j] = tids[j - 1];
			tids[j - 1] = t;
		}
	}
	return n;
}

/* Whether @s contains one of the '|'-separated @words, in any case. */
bool has_word(const char *s, const char *words)
{
	char buf[256], *w, *save;

	snprintf(buf, sizeof(buf), "%s", words);
	for (w = strtok_r(buf, "|", &save); w; w = strtok_r(NULL, "|", &save)) {
		if (strcasestr(s, w))
			return true;
	}
	return false;
}

void expect_line(struct __test_metadata *_metadata, struct proc *p,
		 const char *want, int timeout)
{
	char line[512];

	next_line(_metadata, p, line, sizeof(line), timeout);
	ASSERT_STREQ(want, line);
}

void expect_ok_exit(struct __test_metadata *_metadata, struct proc *p)
{
	int r, lines = 0, ok = 0;
	char line[256], how[64];

	while ((r = read_line(&p->out, line, sizeof(line), START_TIMEOUT)) == 1) {
		lines++;
		if (!strcmp(line, "OK"))
			ok++;
		else
			TH_LOG("%s: %s", p->name, line);
	}
	EXPECT_EQ(0, r) TH_LOG("%s: %s", p->name, strerror(-r));
	EXPECT_EQ(1, lines);
	EXPECT_EQ(1, ok);
	ASSERT_TRUE(reap(p, START_TIMEOUT));
	EXPECT_TRUE(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0) {
		TH_LOG("%s: %s", p->name, describe(p->status, how, sizeof(how)));
	}
	if (!lines || ok != lines)
		show_stderr(_metadata, p);
}

void checkpoint_refused(struct __test_metadata *_metadata,
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

pid_t child_running(pid_t parent, const char *word)
{
	char path[64], cmd[256];
	struct dirent *e;
	pid_t pid, found = 0;
	ssize_t n, i;
	DIR *d;
	int fd;

	d = opendir("/proc");
	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		pid = atoi(e->d_name);
		if (pid <= 0 || parent_of(pid) != parent)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (i = 0; i < n; i++)
			cmd[i] = cmd[i] ? cmd[i] : ' ';
		cmd[n] = 0;
		if (strstr(cmd, word))
			found = pid;
	}
	closedir(d);
	return found;
}

void loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (!ioctl(s, SIOCGIFFLAGS, &ifr) && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

void check_dmesg(struct __test_metadata *_metadata)
{
	char buf[4096];
	size_t n;
	FILE *f;

	f = popen("dmesg 2>/dev/null | grep -E 'Oops|BUG:|WARNING:|Call Trace'", "r");
	ASSERT_NE(NULL, f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	pclose(f);
	EXPECT_EQ(0, n) TH_LOG("kernel log:\n%s", buf);
}

/*
 * Fills in @env for a test: fds 0-2 open (so that no pipe of ours is one
 * of them), SIGPIPE ignored, with CR_ENV_SUBREAPER in @flags the test a
 * child subreaper (orphans of a killed tree come to it, to be reaped), the
 * progs' directory and a new scratch directory /tmp/@name.XXXXXX.
 */
void cr_env_setup_flags(struct __test_metadata *_metadata,
			struct cr_env *env, const char *name,
			int flags)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;
	int fd;

	/* The pipes we make must never be fds 0-2. */
	for (fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0) {
			ASSERT_EQ(fd, open("/dev/null", O_RDWR));
		}
	}
	signal(SIGPIPE, SIG_IGN);
	/* Orphans of a killed tree come to us, to be reaped. */
	if (flags & CR_ENV_SUBREAPER)
		ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, n);
	exe[n] = 0;
	slash = strrchr(exe, '/');
	ASSERT_NE(NULL, slash);
	*slash = 0;
	memcpy(env->bin, exe, slash - exe + 1);
	snprintf(env->dir, sizeof(env->dir), "/tmp/%s.XXXXXX", name);
	ASSERT_NE(NULL, mkdtemp(env->dir));
}

/* cr_env_setup_flags(), the test a subreaper: for trees of processes. */
void cr_env_setup(struct __test_metadata *_metadata,
		  struct cr_env *env, const char *name)
{
	cr_env_setup_flags(_metadata, env, name, CR_ENV_SUBREAPER);
}

/*
 * Kills whatever the test started, and every descendant; reaps them all
 * and removes the scratch directory.
 */
void cr_env_teardown(struct cr_env *env)
{
	long long end;
	struct dirent *e;
	struct proc *p;
	DIR *d;
	int i;

	for (i = 0; i < MAX_KIDS; i++) {
		if (env->kids[i]) {
			kill(env->kids[i], SIGKILL);
			reap_pid(env->kids[i], NULL, LINE_TIMEOUT);
			env->kids[i] = 0;
		}
	}
	for (i = 0; i < env->nprocs; i++) {
		p = env->procs[i];
		if (!p->reaped) {
			kill_descendants(p->pid);
			kill(p->pid, SIGKILL);
			reap(p, LINE_TIMEOUT);
		}
		free_proc(p);
	}
	env->nprocs = 0;
	for (i = 0; i < env->nsnaps; i++) {
		free(env->snaps[i].s.buf);
		env->snaps[i].s.buf = NULL;
	}
	env->nsnaps = 0;
	/* Restored trees whose launcher is gone, orphans: all ours. */
	kill_descendants(getpid());
	for (end = now_ms() + LINE_TIMEOUT; now_ms() < end;) {
		pid_t r = waitpid(-1, NULL, WNOHANG | __WALL);

		if (r < 0 && errno != EINTR)
			break;
		if (r == 0)
			usleep(10000);
	}
	d = opendir(env->dir);
	if (d) {
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
		rmdir(env->dir);
	}
}

/* Little-endian fields of an image. */
uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

/*
 * Moves our [vvar] and [vdso] to @lo, where the image has them, as crctl
 * restart does: CR_IOC_RESTART requires it, since programs keep pointers
 * into the vdso.  Nothing may call into the vdso afterwards (no time
 * functions).  Returns 0, or -1 with a message on stderr.
 */
int move_vdso(uint64_t lo, uint64_t hi)
{
	unsigned long s, e, mine[4][2];
	int n = 0, i, at;
	char line[512];
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		if (strstr(line, "[vdso]") || strstr(line, "[vvar]") ||
		    strstr(line, "[vvar_vclock]")) {
			if (n < 4) {
				mine[n][0] = s;
				mine[n++][1] = e;
			}
		} else if (s < hi && lo < e) {
			dprintf(2, "the image's vdso %#lx-%#lx collides with %s",
				(unsigned long)lo, (unsigned long)hi, line);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	if (n && mine[0][0] == lo && mine[n - 1][1] == hi)
		return 0;
	for (i = 0; i < n; i++)
		munmap((void *)mine[i][0], mine[i][1] - mine[i][0]);
	at = syscall(SYS_arch_prctl, ARCH_MAP_VDSO_64, (unsigned long)lo);
	if (at < 0) {
		dprintf(2, "arch_prctl(ARCH_MAP_VDSO_64, %#lx): %m\n", (unsigned long)lo);
		return -1;
	}
	return 0;
}

/*
 * A minimal JSON reader, for "crctl info --json": enough of RFC 8259 for
 * what crctl prints (objects, arrays, strings with escapes, integers,
 * true, false, null).  Strings are unescaped in place in the document.
 */
static const char *json_ws(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s;
}

/* Unescapes the string at @s (after its quote) in place; NULL if malformed. */
static char *json_string(char *s, char **end)
{
	char *out = s;
	unsigned int u;

	for (;;) {
		if (!*s)
			return NULL;
		if (*s == '"')
			break;
		if (*s != '\\') {
			*out++ = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case '"': case '\\': case '/': *out++ = *s; break;
		case 'b': *out++ = '\b'; break;
		case 'f': *out++ = '\f'; break;
		case 'n': *out++ = '\n'; break;
		case 'r': *out++ = '\r'; break;
		case 't': *out++ = '\t'; break;
		case 'u':
			if (sscanf(s + 1, "%4x", &u) != 1)
				return NULL;
			*out++ = u < 0x80 ? (char)u : '?';
			s += 4;
			break;
		default:
			return NULL;
		}
		s++;
	}
	*end = s + 1;
	*out = 0;
	return out;
}

/* Parses the value at @s, member @key of @parent; returns its end or NULL. */
static char *json_value(struct json *j, char *s, int parent, const char *key)
{
	struct json_val *v;
	int me, prev = -1;
	char *k, *e;

	s = (char *)json_ws(s);
	if (j->n == j->cap) {
		int cap = j->cap ? 2 * j->cap : 256;
		struct json_val *nv = realloc(j->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		j->v = nv;
		j->cap = cap;
	}
	me = j->n++;
	v = &j->v[me];
	memset(v, 0, sizeof(*v));
	v->key = key;
	v->parent = parent;
	v->next = v->child = -1;
	if (*s == '{' || *s == '[') {
		bool obj = *s == '{';

		j->v[me].kind = obj ? JSON_OBJ : JSON_ARR;
		s = (char *)json_ws(s + 1);
		if (*s == (obj ? '}' : ']'))
			return s + 1;
		for (;;) {
			int child = j->n;

			k = NULL;
			if (obj) {
				if (*s != '"' || !json_string(s + 1, &e))
					return NULL;
				k = s + 1;
				s = (char *)json_ws(e);
				if (*s++ != ':')
					return NULL;
			}
			s = json_value(j, s, me, k);
			if (!s)
				return NULL;
			if (prev < 0)
				j->v[me].child = child;
			else
				j->v[prev].next = child;
			prev = child;
			s = (char *)json_ws(s);
			if (*s == ',') {
				s = (char *)json_ws(s + 1);
				continue;
			}
			if (*s != (obj ? '}' : ']'))
				return NULL;
			return s + 1;
		}
	}
	if (*s == '"') {
		v->kind = JSON_STR;
		v->str = s + 1;
		return json_string(s + 1, &e) ? e : NULL;
	}
	if (!strncmp(s, "true", 4) || !strncmp(s, "false", 5)) {
		v->kind = JSON_BOOL;
		v->num = *s == 't';
		return s + (*s == 't' ? 4 : 5);
	}
	if (!strncmp(s, "null", 4)) {
		v->kind = JSON_NULL;
		return s + 4;
	}
	if (*s == '-' || (*s >= '0' && *s <= '9')) {
		v->kind = JSON_NUM;
		errno = 0;
		if (*s == '-')
			v->num = strtoll(s, &e, 10);
		else
			v->num = strtoull(s, &e, 10);
		if (e == s || errno || *e == '.' || *e == 'e' || *e == 'E')
			return NULL;	/* crctl prints integers only */
		return e;
	}
	return NULL;
}

bool json_parse(struct json *j, char *text)
{
	char *end;

	memset(j, 0, sizeof(*j));
	end = json_value(j, text, -1, NULL);
	return end && !*json_ws(end);
}

void json_free(struct json *j)
{
	free(j->v);
	free(j->text);
	memset(j, 0, sizeof(*j));
}

int json_find(const struct json *j, int after, const char *key)
{
	int i;

	for (i = after + 1; i < j->n; i++) {
		if (j->v[i].key && !strcmp(j->v[i].key, key))
			return i;
	}
	return -1;
}

int json_member(const struct json *j, int obj, const char *key)
{
	int i;

	if (obj < 0 || j->v[obj].kind != JSON_OBJ)
		return -1;
	for (i = j->v[obj].child; i >= 0; i = j->v[i].next) {
		if (!strcmp(j->v[i].key, key))
			return i;
	}
	return -1;
}

bool json_num(const struct json *j, int obj, const char *key, uint64_t *out)
{
	int m = json_member(j, obj, key);

	if (m < 0 || (j->v[m].kind != JSON_NUM && j->v[m].kind != JSON_BOOL))
		return false;
	*out = j->v[m].num;
	return true;
}

const char *json_str(const struct json *j, int obj, const char *key)
{
	int m = json_member(j, obj, key);

	return m >= 0 && j->v[m].kind == JSON_STR ? j->v[m].str : NULL;
}

void crctl_info(struct __test_metadata *_metadata, struct cr_env *env,
		const char *image, struct json *j)
{
	char *argv[] = { "crctl", "info", "--json", (char *)image, NULL };
	char path[PATH_MAX], err[4096], *text;
	struct stat st;
	int status;
	bool ok;
	FILE *f;

	memset(j, 0, sizeof(*j));
	f = fopen(tmp_path(env, path, "info.json"), "w+e");
	ASSERT_NE(NULL, f);
	status = run(_metadata, env, argv, fileno(f), err, sizeof(err));
	ASSERT_EQ(0, fstat(fileno(f), &st));
	text = calloc(1, st.st_size + 1);
	ASSERT_NE(NULL, text);
	rewind(f);
	ASSERT_EQ((size_t)st.st_size, fread(text, 1, st.st_size, f));
	fclose(f);
	if (status != 0)
		free(text);
	ASSERT_EQ(0, status) TH_LOG("crctl info %s: %s", image, err);
	ok = json_parse(j, text);
	j->text = text;
	ASSERT_TRUE(ok) TH_LOG("crctl info --json %s: not JSON", image);
}
