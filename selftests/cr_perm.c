// SPDX-License-Identifier: GPL-2.0
/*
 * The permission matrix of CR_IOC_CHECKPOINT and CR_IOC_RESTART.
 *
 * Checkpoint: callers of uid 0, 1000 (the targets' own user) and 1001 (some
 * other user), each with no capability, with CAP_CHECKPOINT_RESTORE,
 * CAP_SYS_ADMIN or CAP_SYS_PTRACE only (and root with all of them), against
 * targets of uid 1000 that are dumpable (progs/counter, exec'd) or not (a
 * forked counting loop that called prctl(PR_SET_DUMPABLE, 0): exec would
 * make it dumpable again), plus root's counter.  The model
 * (rust/cr_kapi.c cr_may_checkpoint, Documentation/cr/ioctl.rst
 * "Permission"): allowed iff the caller has CAP_CHECKPOINT_RESTORE or
 * CAP_SYS_ADMIN, or its real uid and gid equal all of the target's, the
 * target's capabilities are a subset of the caller's permitted set and the
 * target is dumpable, or it has CAP_SYS_PTRACE over the target's user
 * namespace (which also overrides non-dumpability); else EPERM with a log
 * line saying why, and not a byte written.  An allowed checkpoint writes an
 * image, and the target counts on undisturbed either way.
 *
 * Restart: images of counters of uid 1000, 1001 and root, restored by
 * callers of uid 0 and 1000.  The model (rust/task.rs TaskPlan::check):
 * restart never changes credentials, so it is allowed only if the image's
 * uids, gids, groups, capabilities and securebits are exactly the
 * caller's; else EPERM with a log line naming the difference, and the
 * caller is unchanged: it goes on running its own code after the failed
 * ioctl.  So root restoring another user's image is refused too.  An
 * allowed restart continues the counter with the number after the last
 * one the original printed.
 *
 * Callers are forked children that set their ids with setresuid() and
 * their capabilities with the raw capset() system call (PR_SET_KEEPCAPS to
 * keep them across the uid change, cleared afterwards: it is a securebit),
 * and check with capget() that the effective set is what the cell says.
 * Every cell is one entry of a table with its expected errno; the results
 * are printed as a matrix.
 */
#define _GNU_SOURCE
#define CR_TEST_IOCTL
#include <grp.h>
#include <inttypes.h>
#include <sys/ioctl.h>
#include <linux/capability.h>
#include <linux/cr.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	900	/* s: one whole matrix, on TCG */

#define USER		1000	/* the targets' user */
#define OTHER		1001	/* another user */

#define IMAGE_MAGIC	"\177CRIMG\r\n"
#define MAGIC_LEN	8

/* Capabilities of a caller. */
enum caps { K_ALL, K_NONE, K_CR, K_ADMIN, K_PTRACE, NCAPS };

static const char *caps_names[NCAPS] = {
	[K_ALL] = "all caps",
	[K_NONE] = "no caps",
	[K_CR] = "CAP_CHECKPOINT_RESTORE",
	[K_ADMIN] = "CAP_SYS_ADMIN",
	[K_PTRACE] = "CAP_SYS_PTRACE",
};

static uint64_t caps_mask(enum caps k)
{
	switch (k) {
	case K_CR: return 1ULL << CAP_CHECKPOINT_RESTORE;
	case K_ADMIN: return 1ULL << CAP_SYS_ADMIN;
	case K_PTRACE: return 1ULL << CAP_SYS_PTRACE;
	default: return 0;
	}
}

/* Checkpoint targets. */
enum target { T_COUNTER, T_NODUMP, T_FORKED, T_ROOT, NTARGETS };

static const char *target_names[NTARGETS] = {
	[T_COUNTER] = "counter uid 1000",
	[T_NODUMP] = "non-dumpable uid 1000",
	[T_FORKED] = "forked loop uid 1000",
	[T_ROOT] = "counter root",
};

struct ckpt_cell {
	uid_t uid;		/* caller */
	enum caps caps;
	enum target target;
	int expect;		/* 0 or the errno */
	const char *reason;	/* words of the log line, '|'-separated */
};

#define DENY_IDS	"another user"
#define DENY_CAPS	"capabilities the caller lacks"
#define DENY_DUMP	"not dumpable"

/*
 * The checkpoint matrix, from the model.  Every caller row against the
 * dumpable and the non-dumpable target of uid 1000; then root's target;
 * then a control: the forked loop, dumpable, shows that only dumpability
 * differs between the two kinds of target.
 */
static const struct ckpt_cell ckpt_cells[] = {
	/* root */
	{ 0, K_ALL, T_COUNTER, 0, NULL },
	{ 0, K_ALL, T_NODUMP, 0, NULL },
	{ 0, K_NONE, T_COUNTER, EPERM, DENY_IDS },
	{ 0, K_NONE, T_NODUMP, EPERM, DENY_IDS },
	{ 0, K_CR, T_COUNTER, 0, NULL },
	{ 0, K_CR, T_NODUMP, 0, NULL },
	{ 0, K_ADMIN, T_COUNTER, 0, NULL },
	{ 0, K_ADMIN, T_NODUMP, 0, NULL },
	{ 0, K_PTRACE, T_COUNTER, 0, NULL },
	{ 0, K_PTRACE, T_NODUMP, 0, NULL },
	/* the targets' own user */
	{ USER, K_NONE, T_COUNTER, 0, NULL },
	{ USER, K_NONE, T_NODUMP, EPERM, DENY_DUMP },
	{ USER, K_CR, T_COUNTER, 0, NULL },
	{ USER, K_CR, T_NODUMP, 0, NULL },
	{ USER, K_ADMIN, T_COUNTER, 0, NULL },
	{ USER, K_ADMIN, T_NODUMP, 0, NULL },
	{ USER, K_PTRACE, T_COUNTER, 0, NULL },
	{ USER, K_PTRACE, T_NODUMP, 0, NULL },
	/* another user */
	{ OTHER, K_NONE, T_COUNTER, EPERM, DENY_IDS },
	{ OTHER, K_NONE, T_NODUMP, EPERM, DENY_IDS },
	{ OTHER, K_CR, T_COUNTER, 0, NULL },
	{ OTHER, K_CR, T_NODUMP, 0, NULL },
	{ OTHER, K_ADMIN, T_COUNTER, 0, NULL },
	{ OTHER, K_ADMIN, T_NODUMP, 0, NULL },
	{ OTHER, K_PTRACE, T_COUNTER, 0, NULL },
	{ OTHER, K_PTRACE, T_NODUMP, 0, NULL },
	/*
	 * root's target: same ids as a root caller, but more capabilities
	 * than a capless one; CAP_SYS_PTRACE lets anyone past both checks.
	 */
	{ 0, K_ALL, T_ROOT, 0, NULL },
	{ 0, K_NONE, T_ROOT, EPERM, DENY_CAPS },
	{ 0, K_CR, T_ROOT, 0, NULL },
	{ 0, K_ADMIN, T_ROOT, 0, NULL },
	{ 0, K_PTRACE, T_ROOT, 0, NULL },
	{ USER, K_NONE, T_ROOT, EPERM, DENY_IDS },
	{ USER, K_CR, T_ROOT, 0, NULL },
	{ USER, K_ADMIN, T_ROOT, 0, NULL },
	{ USER, K_PTRACE, T_ROOT, 0, NULL },
	{ OTHER, K_NONE, T_ROOT, EPERM, DENY_IDS },
	{ OTHER, K_CR, T_ROOT, 0, NULL },
	{ OTHER, K_ADMIN, T_ROOT, 0, NULL },
	{ OTHER, K_PTRACE, T_ROOT, 0, NULL },
	/* control: the forked loop, dumpable */
	{ USER, K_NONE, T_FORKED, 0, NULL },
	{ OTHER, K_NONE, T_FORKED, EPERM, DENY_IDS },
};

/* Restart images: counters of these users. */
enum image { I_USER, I_OTHER, I_ROOT, NIMAGES };

static const uid_t image_uids[NIMAGES] = { USER, OTHER, 0 };
static const char *image_names[NIMAGES] = {
	[I_USER] = "image of uid 1000",
	[I_OTHER] = "image of uid 1001",
	[I_ROOT] = "image of root",
};

struct restart_cell {
	uid_t uid;		/* caller */
	enum caps caps;
	enum image image;
	int expect;		/* 0 or the errno */
	const char *reason;	/* words of the log line */
};

#define DIFF_UIDS	"differ from the caller's in their uids"
#define DIFF_CAPS	"differ from the caller's in their capabilities"

/*
 * The restart matrix, from the model.  The refusals first (none of them
 * may consume an image), the two restores last.
 */
static const struct restart_cell restart_cells[] = {
	{ 0, K_ALL, I_USER, EPERM, DIFF_UIDS },		/* root, a user's image */
	{ 0, K_ALL, I_OTHER, EPERM, DIFF_UIDS },
	{ 0, K_NONE, I_ROOT, EPERM, DIFF_CAPS },	/* root without its caps */
	{ USER, K_NONE, I_OTHER, EPERM, DIFF_UIDS },	/* another user's image */
	{ USER, K_NONE, I_ROOT, EPERM, DIFF_UIDS },	/* root's image */
	{ USER, K_CR, I_USER, EPERM, DIFF_CAPS },	/* own image, more caps */
	{ OTHER, K_NONE, I_USER, EPERM, DIFF_UIDS },
	{ 0, K_ALL, I_ROOT, 0, NULL },			/* own image */
	{ USER, K_NONE, I_USER, 0, NULL },		/* own image */
};

/* ------------------------------------------------------------ helpers */

FIXTURE(perm) {
	struct cr_env env;
};

/* slurp() without the trailing newlines: the logs are printed inline. */
static size_t slurp_text(int fd, char *buf, size_t size, int timeout)
{
	size_t len = slurp(fd, buf, size, timeout);

	while (len && buf[len - 1] == '\n')
		buf[--len] = 0;
	return len;
}

/* ------------------------------------------------------------ identities */

/*
 * In a child: becomes @uid (gid the same, no supplementary groups) with
 * exactly the capabilities @k in its permitted and effective sets (K_ALL:
 * root's own, untouched).  Returns 0, or -1 with a message on stderr.
 */
static int become(uid_t uid, enum caps k)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	uint64_t want = caps_mask(k), eff, prm;

	if (setgroups(0, NULL)) {
		dprintf(2, "setgroups: %m\n");
		return -1;
	}
	if (k == K_ALL) {
		if (uid != 0) {
			dprintf(2, "all caps only for root\n");
			return -1;
		}
		return 0;
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) ||
	    setresgid(uid, uid, uid) || setresuid(uid, uid, uid)) {
		dprintf(2, "becoming uid %u: %m\n", uid);
		return -1;
	}
	/* Keep-caps is a securebit, which restart compares: clear it. */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)) {
		dprintf(2, "PR_SET_KEEPCAPS 0: %m\n");
		return -1;
	}
	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = (uint32_t)want;
	d[1].effective = d[1].permitted = (uint32_t)(want >> 32);
	if (syscall(SYS_capset, &h, d)) {
		dprintf(2, "capset %#" PRIx64 ": %m\n", want);
		return -1;
	}
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d)) {
		dprintf(2, "capget: %m\n");
		return -1;
	}
	eff = d[0].effective | (uint64_t)d[1].effective << 32;
	prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	if (eff != want || prm != want) {
		dprintf(2, "caps: effective %#" PRIx64 " permitted %#" PRIx64 ", want %#" PRIx64 "\n",
			eff, prm, want);
		return -1;
	}
	return 0;
}

/*
 * In a child: stdio on @in/@out/@err, @log (if >= 0) on fd 3, default
 * signals, nothing else open.
 */
static void child_stdio(int in, int out, int err, int log)
{
	int s, fd, hi[4] = { -1, -1, -1, -1 };
	sigset_t none;

	/* Out of the way first, so that no dup2() clobbers a source. */
	hi[0] = fcntl(in, F_DUPFD, 1000);
	hi[1] = fcntl(out, F_DUPFD, 1000);
	hi[2] = fcntl(err, F_DUPFD, 1000);
	if (log >= 0)
		hi[3] = fcntl(log, F_DUPFD, 1000);
	if (hi[0] < 0 || hi[1] < 0 || hi[2] < 0 || (log >= 0 && hi[3] < 0))
		_exit(126);
	if (dup2(hi[0], 0) < 0 || dup2(hi[1], 1) < 0 || dup2(hi[2], 2) < 0 ||
	    (log >= 0 && dup2(hi[3], 3) != 3))
		_exit(126);
	for (fd = log >= 0 ? 4 : 3; fd < 1100; fd++)
		close(fd);
	for (s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* ------------------------------------------------------------ targets */

struct prog {
	pid_t pid;
	struct lbuf out;
	long last;		/* last number it printed */
};

/* What a forked target runs: progs/counter's loop. */
static void count_forever(void)
{
	unsigned long i = 0;

	for (;;) {
		printf("%lu\n", ++i);
		if (fflush(stdout))
			_exit(1);
		usleep(20000);
	}
}

/*
 * Starts a counter of @uid in the scratch directory: progs/counter exec'd,
 * or (@forked) the same loop in a fork of the test, dumpable or not.
 * Stdin and stderr are /dev/null, stdout a pipe to the test.
 */
static void start_target(struct __test_metadata *_metadata,
			 FIXTURE_DATA(perm) *self, struct prog *p, uid_t uid,
			 bool forked, bool dumpable)
{
	char exe[PATH_MAX + 16];
	int out[2], null;

	snprintf(exe, sizeof(exe), "%s/counter", self->env.bin);
	ASSERT_EQ(0, pipe2(out, O_CLOEXEC));
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, null);
	fflush(stdout);
	fflush(stderr);
	p->pid = fork();
	ASSERT_LE(0, p->pid);
	if (p->pid == 0) {
		child_stdio(null, out[1], null, -1);
		if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
		    setresuid(uid, uid, uid) || chdir(self->env.dir))
			_exit(125);
		if (!forked) {
			execl(exe, "counter", NULL);
			_exit(127);
		}
		/* A uid change made it non-dumpable (fs.suid_dumpable 0). */
		if (prctl(PR_SET_DUMPABLE, dumpable ? 1 : 0, 0, 0, 0))
			_exit(124);
		count_forever();
	}
	kid_add(&self->env, p->pid);
	close(out[1]);
	close(null);
	p->out.fd = out[0];
	p->out.len = 0;
	p->last = 0;
}

/* Reads @n more numbers of @p, each one more than the last. */
static int read_counts(struct prog *p, int n, int timeout, char *why, size_t size)
{
	char line[256], *end;
	int got = 0, r;
	long v;

	while (got < n) {
		r = read_line(&p->out, line, sizeof(line), timeout);
		if (r != 1) {
			snprintf(why, size, "%s after %d lines (last %ld)",
				 r ? strerror(-r) : "end of output", got, p->last);
			return got;
		}
		errno = 0;
		v = strtol(line, &end, 10);
		if (end == line || *end || errno) {
			snprintf(why, size, "\"%.80s\" is not a number (after %ld)", line, p->last);
			return got;
		}
		if (p->last && v != p->last + 1) {
			snprintf(why, size, "%ld follows %ld", v, p->last);
			return got;
		}
		p->last = v;
		got++;
	}
	return got;
}

/* Whether /proc/@pid/status has dumpability @want... via the dumpable flag. */
static int dumpable_of(pid_t pid)
{
	char path[64];
	struct stat st;

	/* /proc/PID files of a non-dumpable task belong to root. */
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	if (stat(path, &st))
		return -1;
	return st.st_uid != 0;
}

/* ------------------------------------------------------------ the ioctls */

struct ckpt_args {
	pid_t target;
	const char *image;
	int logfd;
	uint32_t flags;
};

/* In a child: CR_IOC_CHECKPOINT into a new file; exits 0 or with errno. */
static int do_checkpoint(const struct ckpt_args *a)
{
	struct cr_checkpoint_args args;
	int dev, fd;

	dev = open(CR_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		dprintf(2, "open %s: %m\n", CR_DEVICE);
		return 200;
	}
	fd = open(a->image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		dprintf(2, "open %s: %m\n", a->image);
		return 201;
	}
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.flags = a->flags;
	args.pid = a->target;
	args.fd = fd;
	args.logfd = a->logfd;
	return ioctl(dev, CR_IOC_CHECKPOINT, &args) ? errno : 0;
}

/*
 * Runs a checkpoint of @target as @uid with @k; returns its exit code
 * (0, an errno, or >= 200 for a setup failure) or -1; the log in @log.
 */
static int checkpoint_as(struct __test_metadata *_metadata,
			 FIXTURE_DATA(perm) *self, uid_t uid, enum caps k,
			 pid_t target, const char *image, uint32_t flags,
			 char *log, size_t size, char *err, size_t esize)
{
	int logp[2], errp[2], null, status;
	struct ckpt_args a;
	pid_t c;

	if (pipe2(logp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC))
		return -1;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	fflush(stdout);
	fflush(stderr);
	c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		child_stdio(null, null, errp[1], logp[1]);
		if (become(uid, k))
			_exit(202);
		a.target = target;
		a.image = image;
		a.logfd = 3;
		a.flags = flags;
		_exit(do_checkpoint(&a));
	}
	kid_add(&self->env, c);
	close(logp[1]);
	close(errp[1]);
	close(null);
	slurp_text(logp[0], log, size, START_TIMEOUT);
	slurp_text(errp[0], err, esize, 1000);
	close(logp[0]);
	close(errp[0]);
	if (!reap_pid(c, &status, START_TIMEOUT)) {
		kill_kid(&self->env, c, NULL, LINE_TIMEOUT);
		return -1;
	}
	kid_del(&self->env, c);
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

static bool has_magic(const char *path)
{
	char m[MAGIC_LEN];
	bool ok;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = read(fd, m, MAGIC_LEN) == MAGIC_LEN && !memcmp(m, IMAGE_MAGIC, MAGIC_LEN);
	close(fd);
	return ok;
}

/* ------------------------------------------------------------ fixture */

/*
 * Not a subreaper: every caller and target is a child of the test, and
 * none of them forks.
 */
FIXTURE_SETUP(perm)
{
	if (geteuid() != 0)
		SKIP(return, "needs root (runs in the test VM)");
	cr_env_setup_flags(_metadata, &self->env, "cr_perm", 0);
	/* Everyone's images go here. */
	ASSERT_EQ(0, chmod(self->env.dir, 01777));
}

FIXTURE_TEARDOWN(perm)
{
	cr_env_teardown(&self->env);
}

static const char *uid_name(uid_t uid, char *buf, size_t size)
{
	if (uid == 0)
		snprintf(buf, size, "root");
	else
		snprintf(buf, size, "uid %u", uid);
	return buf;
}

static const char *result_name(int r, char *buf, size_t size)
{
	if (r == 0)
		snprintf(buf, size, "allowed");
	else if (r > 0 && r < 200)
		snprintf(buf, size, "%s", strerrorname_np(r) ? strerrorname_np(r) : "errno?");
	else
		snprintf(buf, size, "setup failure %d", r);
	return buf;
}

/* A cell of a matrix as print_matrix() shows it. */
struct mcell {
	uid_t uid;
	int caps;		/* index into caps_names */
	int col;		/* the target or image */
	int expect;		/* 0 or EPERM */
	int result;		/* 0, an errno, 200+ setup failure, <0 nothing */
	bool ok;
};

/*
 * Prints a matrix: a row per caller (uid, capabilities) that has a cell, a
 * column per @cols entry, each cell "expected/got" and " *" on a mismatch.
 */
static void print_matrix(const char *title, const char *corner,
			 const char *const *cols, int ncols, int width,
			 const struct mcell *cells, size_t ncells)
{
	static const uid_t uids[] = { 0, USER, OTHER };
	char line[512], cell[64], got[32], who[32];
	size_t u, i;
	int k, c, n;
	bool any;

	ksft_print_msg("%s permission matrix (expected/got; * = mismatch):\n", title);
	n = snprintf(line, sizeof(line), "%-34s", corner);
	for (c = 0; c < ncols; c++)
		n += snprintf(line + n, sizeof(line) - n, " | %-*s", width, cols[c]);
	ksft_print_msg("%s\n", line);
	for (u = 0; u < ARRAY_SIZE(uids); u++) {
		for (k = 0; k < NCAPS; k++) {
			n = snprintf(line, sizeof(line), "%-8s %-25s",
				     uid_name(uids[u], who, sizeof(who)), caps_names[k]);
			for (any = false, c = 0; c < ncols; c++) {
				cell[0] = 0;
				for (i = 0; i < ncells; i++) {
					const struct mcell *m = &cells[i];

					if (m->uid != uids[u] || m->caps != k || m->col != c)
						continue;
					snprintf(cell, sizeof(cell), "%s/%s%s",
						 m->expect ? "EPERM" : "ok",
						 m->result == 0 ? "ok" :
						 m->result == EPERM ? "EPERM" :
						 m->result < 0 ? "?" :
						 result_name(m->result, got, sizeof(got)),
						 m->ok ? "" : " *");
					any = true;
				}
				n += snprintf(line + n, sizeof(line) - n, " | %-*s",
					      width, cell[0] ? cell : "-");
			}
			if (any)
				ksft_print_msg("%s\n", line);
		}
	}
	for (i = 0, n = 0; i < ncells; i++)
		n += cells[i].ok;
	ksft_print_msg("figures: %s permission matrix: %zu cells, %d as documented\n",
		       title, ncells, n);
}

/*
 * The checkpoint matrix: each cell checkpoints a running target as its
 * caller; the target counts on, undisturbed, whatever the outcome.
 */
TEST_F_TIMEOUT(perm, checkpoint_matrix, TEST_TIMEOUT)
{
	char img[PATH_MAX], log[2048], err[1024], why[256], got[32], want[32], who[32];
	int results[ARRAY_SIZE(ckpt_cells)];
	struct mcell cells[ARRAY_SIZE(ckpt_cells)];
	struct prog targets[NTARGETS];
	bool ok[ARRAY_SIZE(ckpt_cells)];
	int t, r, bad = 0;
	size_t i;
	int n;

	start_target(_metadata, self, &targets[T_COUNTER], USER, false, true);
	start_target(_metadata, self, &targets[T_NODUMP], USER, true, false);
	start_target(_metadata, self, &targets[T_FORKED], USER, true, true);
	start_target(_metadata, self, &targets[T_ROOT], 0, false, true);
	for (t = 0; t < NTARGETS; t++) {
		ASSERT_EQ(3, read_counts(&targets[t], 3, START_TIMEOUT, why, sizeof(why))) {
			TH_LOG("target %s: %s", target_names[t], why);
		}
	}
	EXPECT_EQ(1, dumpable_of(targets[T_COUNTER].pid));
	EXPECT_EQ(0, dumpable_of(targets[T_NODUMP].pid));
	EXPECT_EQ(1, dumpable_of(targets[T_FORKED].pid));

	for (i = 0; i < ARRAY_SIZE(ckpt_cells); i++) {
		const struct ckpt_cell *c = &ckpt_cells[i];
		struct prog *p = &targets[c->target];
		off_t size;

		snprintf(img, sizeof(img), "%s/ckpt-%zu.img", self->env.dir, i);
		r = checkpoint_as(_metadata, self, c->uid, c->caps, p->pid, img, 0,
				  log, sizeof(log), err, sizeof(err));
		results[i] = r;
		ok[i] = r == c->expect;
		size = file_size(img);
		if (r == 0) {
			ok[i] &= size > MAGIC_LEN && has_magic(img);
			ok[i] &= !log[0];
		} else if (r > 0 && r < 200) {
			/* Refused: a reason, and not a byte of the image. */
			ok[i] &= log[0] && strstr(log, "cr: checkpoint: ") &&
				 (!c->reason || has_word(log, c->reason));
			ok[i] &= size == 0;
		}
		/* The target did not notice. */
		n = read_counts(p, 3, LINE_TIMEOUT, why, sizeof(why));
		if (n != 3) {
			ok[i] = false;
			TH_LOG("target %s after the checkpoint: %s", target_names[c->target], why);
		}
		ksft_print_msg("%s checkpoint: %s, %s -> %s: expected %s, got %s%s%s%s%s\n",
			       ok[i] ? "ok  " : "FAIL", uid_name(c->uid, who, sizeof(who)),
			       caps_names[c->caps], target_names[c->target],
			       result_name(c->expect, want, sizeof(want)),
			       result_name(r, got, sizeof(got)),
			       r == 0 ? ", image " : "",
			       r == 0 ? (size > MAGIC_LEN ? "written" : "EMPTY") : "",
			       log[0] ? "; log: " : "", log);
		if (err[0])
			ksft_print_msg("     caller stderr: %s\n", err);
		bad += !ok[i];
		unlink(img);
	}

	/* The matrix: callers by row, targets by column. */
	for (i = 0; i < ARRAY_SIZE(ckpt_cells); i++) {
		const struct ckpt_cell *c = &ckpt_cells[i];

		cells[i] = (struct mcell){ c->uid, c->caps, c->target, c->expect,
					   results[i], ok[i] };
	}
	print_matrix("checkpoint", "caller \\ target", target_names, NTARGETS, 22,
		     cells, ARRAY_SIZE(ckpt_cells));
	EXPECT_EQ(0, bad) TH_LOG("%d of %zu cells differ from the model", bad,
				 ARRAY_SIZE(ckpt_cells));
}

/* ------------------------------------------------------------ restart */

struct image_info {
	char path[PATH_MAX];
	char cwd[PATH_MAX];
	uint64_t vdso_lo, vdso_hi;
	long last;		/* the original's last number */
};

/* Finds the cwd and the [vvar]/[vdso] range of a valid image (crctl info --json). */
static bool image_info(struct __test_metadata *_metadata, struct cr_env *env,
		       struct image_info *ii, char *why, size_t size)
{
	uint64_t valid = 0, start, end;
	const char *cwd, *kind;
	struct json j;
	int v;
	bool ok;

	crctl_info(_metadata, env, ii->path, &j);
	ii->vdso_lo = ii->vdso_hi = 0;
	ii->cwd[0] = 0;
	v = json_find(&j, -1, "cwd");
	cwd = v >= 0 && j.v[v].kind == JSON_STR ? j.v[v].str : NULL;
	if (cwd && strlen(cwd) < sizeof(ii->cwd))
		strcpy(ii->cwd, cwd);
	for (v = json_find(&j, -1, "vmas"), v = v >= 0 ? j.v[v].child : -1; v >= 0;
	     v = j.v[v].next) {
		kind = json_str(&j, v, "kind");
		if (!kind || (strcmp(kind, "vdso") && strcmp(kind, "vvar") &&
			      strcmp(kind, "vvar_vclock")))
			continue;
		if (!json_num(&j, v, "start", &start) || !json_num(&j, v, "end", &end))
			continue;
		if (!ii->vdso_lo || start < ii->vdso_lo)
			ii->vdso_lo = start;
		if (end > ii->vdso_hi)
			ii->vdso_hi = end;
	}
	v = json_find(&j, -1, "valid");
	if (v >= 0)
		valid = j.v[v].num;
	ok = valid && ii->vdso_lo && ii->cwd[0];
	if (!ok)
		snprintf(why, size, "malformed image (valid %" PRIu64 ", vdso %#" PRIx64 ", cwd '%.100s')",
			 valid, ii->vdso_lo, ii->cwd);
	json_free(&j);
	return ok;
}

/*
 * In a child that is @uid with @k: CR_IOC_RESTART of @ii.  If the ioctl
 * returns, the caller is still itself: it says so on stdout ("ALIVE",
 * the errno, its uids) and exits 0.
 */
static void restart_child(const struct image_info *ii, uid_t uid, enum caps k, int logfd)
{
	struct cr_restart_args args;
	uid_t r, e, s;
	int dev, fd, err;

	if (become(uid, k))
		_exit(202);
	if (chdir(ii->cwd)) {
		dprintf(2, "chdir %s: %m\n", ii->cwd);
		_exit(203);
	}
	dev = open(CR_DEVICE, O_RDWR | O_CLOEXEC);
	fd = open(ii->path, O_RDONLY | O_CLOEXEC);
	if (dev < 0 || fd < 0) {
		dprintf(2, "open: %m\n");
		_exit(200);
	}
	if (move_vdso(ii->vdso_lo, ii->vdso_hi))
		_exit(204);
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.fd = fd;
	args.logfd = logfd;
	if (ioctl(dev, CR_IOC_RESTART, &args) == 0)
		_exit(201);
	err = errno;
	/* Our own code still runs, with our own identity. */
	if (getresuid(&r, &e, &s))
		_exit(205);
	dprintf(1, "ALIVE %d %u %u %u\n", err, r, e, s);
	_exit(0);
}

/* The uid line of /proc/@pid/status: "Uid: r e s fs". */
static bool proc_uids(pid_t pid, char *buf, size_t size)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Uid:", 4)) {
			snprintf(buf, size, "%.100s", line + 4);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

/*
 * Makes the restart images: a counter of each image user, checkpointed
 * by root with CR_CHECKPOINT_KILL, so the restored copy must go on with
 * the number after the original's last.
 */
static void make_images(struct __test_metadata *_metadata,
			FIXTURE_DATA(perm) *self, struct image_info *ii)
{
	char log[2048], err[1024], why[256];
	struct prog p;
	int i, r, status;

	for (i = 0; i < NIMAGES; i++) {
		start_target(_metadata, self, &p, image_uids[i], false, true);
		ASSERT_EQ(3, read_counts(&p, 3, START_TIMEOUT, why, sizeof(why))) {
			TH_LOG("counter of uid %u: %s", image_uids[i], why);
		}
		snprintf(ii[i].path, sizeof(ii[i].path), "%s/restart-%u.img",
			 self->env.dir, image_uids[i]);
		r = checkpoint_as(_metadata, self, 0, K_ALL, p.pid, ii[i].path,
				  CR_CHECKPOINT_KILL, log, sizeof(log), err, sizeof(err));
		ASSERT_EQ(0, r) TH_LOG("checkpoint of uid %u's counter: %d; %s %s",
				       image_uids[i], r, log, err);
		ASSERT_TRUE(reap_pid(p.pid, &status, START_TIMEOUT));
		kid_del(&self->env, p.pid);
		ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* Everything it printed before it died: the last is L. */
		while (read_counts(&p, 1, LINE_TIMEOUT, why, sizeof(why)) == 1)
			;
		close(p.out.fd);
		ii[i].last = p.last;
		ASSERT_EQ(0, chmod(ii[i].path, 0644));
		ASSERT_TRUE(image_info(_metadata, &self->env, &ii[i], why, sizeof(why)))
			TH_LOG("%s", why);
	}
}

/*
 * The restart matrix: refused cells leave the caller running its own code
 * with its own uids; allowed cells become the counter, which goes on where
 * the original stopped, with the image's (= the caller's) uids.
 */
TEST_F_TIMEOUT(perm, restart_matrix, TEST_TIMEOUT)
{
	char log[2048], err[1024], line[256], why[256], how[64], got[32], want[32],
	     who[32], uids[128], detail[512];
	bool ok[ARRAY_SIZE(restart_cells)];
	int results[ARRAY_SIZE(restart_cells)];
	struct mcell cells[ARRAY_SIZE(restart_cells)];
	struct image_info ii[NIMAGES];
	int out[2], logp[2], errp[2], null, status, bad = 0, e, n;
	unsigned int r, eu, s;
	size_t i;
	struct prog p;
	pid_t c;

	make_images(_metadata, self, ii);

	for (i = 0; i < ARRAY_SIZE(restart_cells); i++) {
		const struct restart_cell *cell = &restart_cells[i];

		detail[0] = 0;
		ASSERT_EQ(0, pipe2(out, O_CLOEXEC));
		ASSERT_EQ(0, pipe2(logp, O_CLOEXEC));
		ASSERT_EQ(0, pipe2(errp, O_CLOEXEC));
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, null);
		fflush(stdout);
		fflush(stderr);
		c = fork();
		ASSERT_LE(0, c);
		if (c == 0) {
			child_stdio(null, out[1], errp[1], logp[1]);
			restart_child(&ii[cell->image], cell->uid, cell->caps, 3);
		}
		kid_add(&self->env, c);
		close(out[1]);
		close(logp[1]);
		close(errp[1]);
		close(null);
		p.pid = c;
		p.out.fd = out[0];
		p.out.len = 0;
		p.last = 0;

		n = read_line(&p.out, line, sizeof(line), START_TIMEOUT);
		results[i] = -1;
		ok[i] = false;
		if (n == 1 && sscanf(line, "ALIVE %d %u %u %u", &e, &r, &eu, &s) == 4) {
			/* Refused; the caller is still itself. */
			results[i] = e;
			slurp_text(logp[0], log, sizeof(log), LINE_TIMEOUT);
			ok[i] = e == cell->expect && r == cell->uid && eu == cell->uid &&
				s == cell->uid && log[0] && strstr(log, "cr: restart: ") &&
				(!cell->reason || has_word(log, cell->reason));
			EXPECT_TRUE(reap_pid(c, &status, START_TIMEOUT));
			kid_del(&self->env, c);
			ok[i] &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
			snprintf(detail, sizeof(detail), "the caller went on (uid %u, %s)",
				 r, describe(status, how, sizeof(how)));
		} else if (n == 1) {
			/* Restored: the counter goes on, L + 1 first. */
			long first;

			results[i] = 0;
			log[0] = 0;
			p.last = ii[cell->image].last;
			first = atol(line);
			ok[i] = cell->expect == 0 && first == p.last + 1;
			p.last = first;
			e = read_counts(&p, 5, LINE_TIMEOUT, why, sizeof(why));
			ok[i] &= e == 5;
			uids[0] = 0;
			ok[i] &= proc_uids(c, uids, sizeof(uids));
			uids[strcspn(uids, "\n")] = 0;
			snprintf(detail, sizeof(detail),
				 "restored: first number %ld after the original's %ld, %d more in sequence%s%s; Uid:%s",
				 first, ii[cell->image].last, e, e == 5 ? "" : ": ",
				 e == 5 ? "" : why, uids);
			/* It runs with the image's (= the caller's) uid. */
			if (sscanf(uids, "%u %u %u", &r, &eu, &s) != 3 ||
			    r != image_uids[cell->image] || eu != r || s != r)
				ok[i] = false;
			kill_kid(&self->env, c, NULL, LINE_TIMEOUT);
		} else {
			slurp_text(logp[0], log, sizeof(log), 1000);
			if (reap_pid(c, &status, LINE_TIMEOUT)) {
				kid_del(&self->env, c);
				snprintf(detail, sizeof(detail), "no output: %s",
					 describe(status, how, sizeof(how)));
				if (WIFEXITED(status))
					results[i] = 200 + WEXITSTATUS(status) % 56;
			} else {
				kill_kid(&self->env, c, NULL, LINE_TIMEOUT);
				snprintf(detail, sizeof(detail), "no output in %d ms", START_TIMEOUT);
			}
		}
		slurp_text(errp[0], err, sizeof(err), 200);
		close(out[0]);
		close(logp[0]);
		close(errp[0]);
		ksft_print_msg("%s restart: %s, %s, %s: expected %s, got %s; %s%s%s%s%s\n",
			       ok[i] ? "ok  " : "FAIL", uid_name(cell->uid, who, sizeof(who)),
			       caps_names[cell->caps], image_names[cell->image],
			       result_name(cell->expect, want, sizeof(want)),
			       results[i] < 0 ? "nothing" : result_name(results[i], got, sizeof(got)),
			       detail, log[0] ? "; log: " : "", log,
			       err[0] ? "; stderr: " : "", err);
		bad += !ok[i];
	}

	for (i = 0; i < ARRAY_SIZE(restart_cells); i++) {
		const struct restart_cell *cell = &restart_cells[i];

		cells[i] = (struct mcell){ cell->uid, cell->caps, cell->image,
					   cell->expect, results[i], ok[i] };
	}
	print_matrix("restart", "caller \\ image", image_names, NIMAGES, 18,
		     cells, ARRAY_SIZE(restart_cells));
	EXPECT_EQ(0, bad) TH_LOG("%d of %zu cells differ from the model", bad,
				 ARRAY_SIZE(restart_cells));
}

TEST_HARNESS_MAIN
