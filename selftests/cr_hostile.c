// SPDX-License-Identifier: GPL-2.0
/*
 * Mutation testing of CR_IOC_RESTART: hostile images.
 *
 * The test makes valid images itself, by starting real programs of progs/
 * (counter, fpu, files and the programs of the newer records: see progs[])
 * and checkpointing them with crctl, has
 * cr_hostile_gen (tools/hostile: the cr-image crate, the very format code
 * the kernel runs) write mutated copies of them, in batches, with a
 * manifest that says how to deliver each and what may come of it, then
 * feeds them to CR_IOC_RESTART.  The ioctl is called directly (crctl's
 * own validation never gets a look), in forked children that
 * first do what crctl restart does: chdir to the image's working directory
 * and move [vvar]/[vdso] to the image's addresses.  So the kernel's own
 * validation is what is exercised.  The image comes through a memfd or a
 * pipe, sometimes partly through the prefix of the ioctl struct; the log
 * through a pipe.
 *
 * Mutation classes (each attempt is tagged with one; tools/hostile names them):
 * single bit flips anywhere; byte flips inside each record type (header or
 * payload); fields set to interesting values; truncation at every record
 * boundary and at random offsets; record lengths off by one, by 8, huge or
 * zero; records swapped, duplicated or dropped; VMAs overlapping their
 * predecessor, moved past the image's TASK_SIZE, across the 47-bit
 * boundary (user space only with 5-level paging) or to kernel addresses;
 * inconsistent page counts; absurd sizes (groups count, path lengths,
 * xstate size, ...); the task record's job-control stop flags; and absurd
 * prefix arguments of the ioctl struct.
 * About half of the image mutations get their checksums recomputed
 * (meta-end and tail, with the crate's Checksum, which the generator first
 * checks against the real images' own), so that they reach the semantic
 * checks.  This file has no knowledge of the image format: what crctl would
 * make for an image (restart objects, POSIX timers, CPU itimers) it makes
 * from the generator's "setup" lines, for the original image.
 *
 * Every attempt ends in one of:
 *  - an errno (EINVAL, EPERM, EOPNOTSUPP, ...) with a log line: refused
 *    before the point of no return;
 *  - SIGKILL with a log line: damage found after the point of no return;
 *  - restored: the child became the program.  Acceptable only for an image
 *    that is valid (unchanged bytes, or a consistent change with fixed
 *    checksums): "restored-ok" if the program then behaves (counter counts
 *    on, fpu ticks, files passes its self check, ...: enum judge),
 *    "restored-altered" if an
 *    image made valid by the checksum fix-up holds changed program state
 *    (registers, memory) and the program misbehaves, which is no fault of
 *    the kernel.  Restoring an image with an uncorrected corruption, or one
 *    that breaks the format whatever its checksums, is a failure;
 *  - anything else is a failure: no verdict within the timeout, another
 *    signal before the restore, an errno or SIGKILL without a log line, a
 *    kernel log problem (read from /dev/kmsg after every attempt).
 *
 * Environment:
 *   CR_HOSTILE_N           number of attempts (default 1500; a long run is
 *                          CR_HOSTILE_N=10000 or more)
 *   CR_HOSTILE_SEED        PRNG seed (default: time); printed.  It fixes the
 *                          choices of each attempt (cr_hostile_gen --seed),
 *                          not the images (those differ from run to run),
 *                          so every failure is printed with the exact
 *                          offsets and bytes it changed
 *   CR_HOSTILE_TIMEOUT_MS  per-attempt timeout (default 10000: TCG)
 *   CR_HOSTILE_JOBS        children at a time (default 2)
 *   CR_HOSTILE_VERBOSE     1: one line per attempt, 2: also when it starts
 *
 * Afterwards the kernel log must be clean, and slab growth is reported
 * (a failure only above 50 MB).  User-space fault messages of restored
 * programs whose state was altered ("traps: ... general protection") are
 * switched off for the run (debug.exception-trace = 0): they are expected,
 * and would look like kernel problems to the VM runner.
 */
#define _GNU_SOURCE
#define CR_TEST_IOCTL
#include <endian.h>
#include <inttypes.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <linux/cr.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define DEFAULT_N		1500
#define DEFAULT_TIMEOUT_MS	10000
#define DEFAULT_JOBS		2
#define MAX_JOBS		4
#define KILL_WAIT		5000	/* ms: a SIGKILLed child must be gone by then */
#define BATCH			100	/* hostile images generated at a time */
#define MAX_CLASSES		128
#define CHILD_MARK		"crh-child"	/* comm of a child before its ioctl */

/* Our comm: a child has it until it renames itself CHILD_MARK. */
static char my_comm[64];

/* Whether @comm is a child's own (not a restored program's). */
static bool own_comm(const char *comm)
{
	return !strcmp(comm, CHILD_MARK) || !strcmp(comm, my_comm);
}


/* ------------------------------------------------------------ classes */

/* The mutation classes, as cr_hostile_gen names them ("class C NAME"). */
static char class_names[MAX_CLASSES][32];
static int nclasses;

/* Outcomes. */
enum outcome {
	O_EINVAL,
	O_EPERM,
	O_EOPNOTSUPP,
	O_ERRNO,		/* another errno, with a log line */
	O_KILLED,		/* SIGKILL with a log line */
	O_RESTORED_OK,
	O_RESTORED_ALT,
	/* failures from here */
	F_NOLOG,
	F_TIMEOUT,
	F_CRASH,
	F_ACCEPTED,
	F_MISBEHAVES,
	F_RETURNED,
	F_REFUSED,
	F_SETUP,
	F_KERNEL,
	F_STUCK,
	NOUTCOMES
};
#define FIRST_FAILURE F_NOLOG

static const char *outcome_names[NOUTCOMES] = {
	[O_EINVAL] = "EINVAL",
	[O_EPERM] = "EPERM",
	[O_EOPNOTSUPP] = "EOPNOTSUPP",
	[O_ERRNO] = "other errno",
	[O_KILLED] = "SIGKILL+log",
	[O_RESTORED_OK] = "restored-ok",
	[O_RESTORED_ALT] = "restored-altered",
	[F_NOLOG] = "FAIL: no log line",
	[F_TIMEOUT] = "FAIL: timeout",
	[F_CRASH] = "FAIL: crash",
	[F_ACCEPTED] = "FAIL: wrongly accepted",
	[F_MISBEHAVES] = "FAIL: restored, misbehaves",
	[F_RETURNED] = "FAIL: ioctl returned 0",
	[F_REFUSED] = "FAIL: valid image refused",
	[F_SETUP] = "FAIL: child setup",
	[F_KERNEL] = "FAIL: kernel log",
	[F_STUCK] = "FAIL: unkillable",
};

/* ------------------------------------------------------------ processes */

/* Takes one complete line out of @lb (on a non-blocking fd), if there is one. */
static bool take_line(struct lbuf *lb, char *line, size_t size)
{
	char *nl = memchr(lb->buf, '\n', lb->len);
	size_t n;

	if (!nl && lb->len < sizeof(lb->buf))
		return false;
	n = nl ? (size_t)(nl - lb->buf) : lb->len;
	snprintf(line, size, "%.*s", (int)n, lb->buf);
	n += !!nl;
	memmove(lb->buf, lb->buf + n, lb->len - n);
	lb->len -= n;
	return true;
}

/* Reads what is there; returns false at end of file or on error. */
static bool fill_lbuf(struct lbuf *lb)
{
	ssize_t r;

	if (lb->fd < 0)
		return false;
	for (;;) {
		if (lb->len == sizeof(lb->buf))
			return true;
		r = read(lb->fd, lb->buf + lb->len, sizeof(lb->buf) - lb->len);
		if (r > 0) {
			lb->len += r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 && errno == EAGAIN;
	}
}

/* Appends what can be read now from non-blocking @fd to @buf. */
static void drain(int fd, char *buf, size_t *len, size_t size)
{
	char drop[512];
	ssize_t r;

	if (fd < 0)
		return;
	for (;;) {
		if (*len < size - 1)
			r = read(fd, buf + *len, size - 1 - *len);
		else
			r = read(fd, drop, sizeof(drop));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (*len < size - 1)
			*len += r;
	}
	buf[*len] = 0;
}

/* Field 2 (comm) of /proc/@pid/stat, also for a zombie. */
static bool proc_comm(pid_t pid, char *comm, size_t size)
{
	char buf[512], *a, *b;

	if (!read_proc_stat(pid, buf, sizeof(buf)))
		return false;
	a = strchr(buf, '(');
	b = strrchr(buf, ')');
	if (!a || !b || b < a)
		return false;
	snprintf(comm, size, "%.*s", (int)(b - a - 1), a + 1);
	return true;
}

/* Whether @pid catches signal @sig (SigCgt of /proc/PID/status). */
static bool catches(pid_t pid, int sig)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "SigCgt: %llx", &mask) == 1) {
			found = true;
			break;
		}
	}
	fclose(f);
	return found && (mask >> (sig - 1) & 1);
}

/* Child side: stdio on the given fds, default signals, nothing blocked. */
static void child_stdio(int in, int out, int err)
{
	sigset_t none;
	int s;

	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	for (s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

struct prog {
	pid_t pid;
	struct lbuf out;
	int err;
	int in;		/* the write end of its stdin, or -1 */
};

/*
 * Starts @argv in the scratch directory, stdout on a pipe, stdin (a pipe
 * that stays empty with @stdin_pipe) and stderr /dev/null.
 */
static bool spawn(struct cr_env *env, struct prog *p, char *const argv[],
		  bool stdin_pipe)
{
	int out[2], in[2] = { -1, -1 }, null;

	p->in = -1;
	if (pipe2(out, O_CLOEXEC) || (stdin_pipe && pipe2(in, O_CLOEXEC)))
		return false;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return false;
	fflush(stdout);
	fflush(stderr);
	p->pid = fork();
	if (p->pid < 0)
		return false;
	if (p->pid == 0) {
		child_stdio(in[0] >= 0 ? in[0] : null, out[1], null);
		if (chdir(env->dir))
			_exit(125);
		execv(argv[0], argv);
		_exit(127);
	}
	kid_add(env, p->pid);
	close(out[1]);
	close(null);
	if (in[0] >= 0)
		close(in[0]);
	p->in = in[1];
	p->out.fd = out[0];
	p->out.len = 0;
	fcntl(p->out.fd, F_SETFL, O_NONBLOCK);
	return true;
}

/* ------------------------------------------------------------ images */

enum {
	P_COUNTER, P_FPU, P_FILES, P_STOPPED, P_PIPE, P_UNIX, P_EVFD, P_SIGPEND,
	P_ITIMERS, P_PTIMERS, P_INOTIFY, P_INET, NPROGS
};

/* How a restored program shows that it behaves. */
enum judge {
	J_COUNT,	/* 1, 2, 3, ... on: three consecutive numbers */
	J_TICK,		/* lines starting with the word: two of them */
	J_LINE,		/* the word, as a line, after any number of others */
	J_ALIVE,	/* silent and alive for ALIVE_MS */
};

/*
 * The programs checkpointed for the images: a program of progs/ with its
 * arguments, what it prints when it is ready to be checkpointed (a line
 * starting with @ready, after which @want more lines), and how the
 * restored copy is judged.  @usr1: it checks itself on SIGUSR1, sent once
 * it catches it; @stdin_pipe: its stdin is a pipe, the other end open
 * (inet ends at end of file), holding one byte with @stdin_byte (unix
 * waits for it); @sig: sent to the original after @ready (a blocked signal that
 * stays pending: the image has a pending-signal record), @stop: stopped
 * (SIGSTOP) when checkpointed; @excl: one attempt at a time (a shared file,
 * a port).  Each holds records of the newer kinds: pipes (a pipe to itself),
 * unix sockets with queued data, eventfds, timerfds and a signalfd, a
 * pending signal, itimers, POSIX timers, inotify watches, inet sockets and
 * a job-control stop.  The objects of their images that crctl would make
 * (pipes, event descriptors, inotify instances, POSIX timers, CPU itimers)
 * the attempt child makes from the original image's "setup" lines.
 */
struct progdef {
	const char *name;		/* image name */
	const char *exe;		/* in progs/ */
	const char *args[6];
	const char *ready;
	int want;
	enum judge judge;
	const char *word;
	bool usr1, stdin_pipe, stdin_byte, stop, excl;
	int sig;
};

static const struct progdef progs[NPROGS] = {
	[P_COUNTER] = { "counter", "counter", { NULL }, NULL, 3, J_COUNT },
	/* Endless chunks of little work: a tick every few ms. */
	[P_FPU] = { "fpu", "fpu", { "1000000000", "2000", "20000" }, "START", 3,
		    J_TICK, "tick" },
	/* Arguments filled in by make_image(). */
	[P_FILES] = { "files", "files", { NULL }, "READY", 0, J_LINE, "OK",
		      .usr1 = true, .excl = true },
	[P_STOPPED] = { "stopped", "counter", { NULL }, NULL, 3, J_COUNT, .stop = true },
	[P_PIPE] = { "pipe", "pipes", { "self" }, "READY", 0, J_LINE, "SELF OK",
		     .usr1 = true },
	[P_UNIX] = { "unix", "unix", { "pair", "stream", "0" }, "READY A", 0, J_LINE,
		     "ALIVE A", .stdin_pipe = true, .stdin_byte = true },
	[P_EVFD] = { "evfd", "evfd", { "all" }, "READY", 0, J_TICK, "TICK" },
	[P_SIGPEND] = { "sigpend", "timers", { "sleep" }, "READY", 0, J_LINE, "OK",
			.sig = SIGUSR1 },
	[P_ITIMERS] = { "itimers", "timers", { "itimers" }, "READY", 0, J_ALIVE },
	[P_PTIMERS] = { "ptimers", "timers", { "ptimers" }, "READY", 0, J_ALIVE },
	/* Arguments filled in by make_image(). */
	[P_INOTIFY] = { "inotify", "epoll", { NULL }, "READY", 0, J_ALIVE },
	[P_INET] = { "inet", "inet", { "tcp,127.0.0.1,0", "udp,127.0.0.1,0" },
		     "READY", 0, J_ALIVE, .stdin_pipe = true, .excl = true },
};
static const char *prog_names[NPROGS];

#define MAX_SETUPS	32
#define ALIVE_MS	1500

/*
 * What the restoring process makes for an image ("setup" lines of the
 * manifest): a restart object of kind @kind (CR_RESTART_OBJ_*), or
 * SETUP_PTIMER / SETUP_ITIMER / SETUP_INOTIFY_WATCH.
 */
#define SETUP_PTIMER		100
#define SETUP_ITIMER		101
#define SETUP_INOTIFY_WATCH	108
struct setup {
	unsigned int kind, id;
	uint64_t n[6];
	char path[PATH_MAX];
};

/* A valid image, as checkpointed, and what cr_hostile_gen says of it. */
struct image {
	bool present;
	int prog;
	char path[PATH_MAX + 32];
	uint8_t *buf;
	size_t len;
	int nrecs, nvmas;
	uint64_t pages, task_size;
	uint64_t vdso_lo, vdso_hi;
	char cwd[PATH_MAX];
	struct setup setups[MAX_SETUPS];
	int nsetups;
	char types[1024];		/* its record types and counts */
};

/* One hostile image ("attempt" line of the manifest) and its delivery. */
struct mutation {
	int idx;			/* attempt number */
	int img;
	int cls;
	char desc[256];
	uint8_t *buf;			/* read when the attempt starts */
	size_t len;
	bool fixed;			/* the checksums were recomputed */
	bool expect_reject;		/* invalid whatever the checksums */
	bool must_restore;		/* valid and unchanged: must restore */
	size_t first_diff;		/* first byte that differs from the original */
	size_t prefix;			/* bytes passed as the ioctl prefix */
	bool use_pipe;
	/* ioctl argument overrides */
	bool raw_prefix;
	uint64_t prefix_ptr_off;	/* offset into buf, or an absolute value */
	bool prefix_ptr_abs;
	uint64_t prefix_len;
};

static bool read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		return false;
	*len = st.st_size;
	*buf = malloc(*len + 1);
	if (!*buf || read(fd, *buf, *len) != (ssize_t)*len) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* ------------------------------------------------------------ generator */

/*
 * Runs cr_hostile_gen on @nimg images of @im (their indices in the
 * manifest) for attempts @first to @first + @count (none: the images are
 * only checked and described), writing into the scratch directory, and
 * reads its manifest: the classes, the images (into @im) and the attempts
 * (into @q).  False with a message in @why.
 */
static bool generate(struct __test_metadata *_metadata, struct cr_env *env,
		     struct image *im, int nimg, unsigned long long seed,
		     int first, int count, struct mutation *q, char *why,
		     size_t size)
{
	char exe[PATH_MAX + 32], seedstr[32], firststr[16], countstr[16], err[2048], how[64];
	char path[PATH_MAX + 32], line[2048];
	char *argv[12 + NPROGS];
	unsigned int u[9];
	int i, k, n = 0, status, off;
	struct mutation *m;
	FILE *f;

	snprintf(exe, sizeof(exe), "%s/cr_hostile_gen", env->bin);
	snprintf(seedstr, sizeof(seedstr), "%#llx", seed);
	snprintf(firststr, sizeof(firststr), "%d", first);
	snprintf(countstr, sizeof(countstr), "%d", count);
	k = 0;
	argv[k++] = exe;
	argv[k++] = "--out";
	argv[k++] = env->dir;
	argv[k++] = "--seed";
	argv[k++] = seedstr;
	argv[k++] = "--first";
	argv[k++] = firststr;
	argv[k++] = "--count";
	argv[k++] = countstr;
	for (i = 0; i < nimg; i++)
		argv[k++] = im[i].path;
	argv[k] = NULL;
	status = run(_metadata, env, argv, -1, err, sizeof(err));
	if (status != 0) {
		snprintf(why, size, "%.200s: %s: %.2000s", exe,
			 status < 0 ? "timeout" : describe(status, how, sizeof(how)), err);
		return false;
	}
	snprintf(path, sizeof(path), "%s/manifest", env->dir);
	f = fopen(path, "re");
	if (!f) {
		snprintf(why, size, "%.200s: %s", path, strerror(errno));
		return false;
	}
	nclasses = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "class %d %31s", &k, class_names[nclasses % MAX_CLASSES]) == 2) {
			if (k != nclasses++ || k >= MAX_CLASSES)
				goto bad;
			continue;
		}
		if (!strncmp(line, "image ", 6)) {
			struct image *x;

			if (sscanf(line, "image %d%n", &k, &off) != 1 || k < 0 || k >= nimg)
				goto bad;
			x = &im[k];
			if (sscanf(line + off, "%zu %d %d %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %4095s",
				   &x->len, &x->nrecs, &x->nvmas, &x->pages, &x->task_size,
				   &x->vdso_lo, &x->vdso_hi, x->cwd) != 8)
				goto bad;
			x->nsetups = 0;
			continue;
		}
		if (!strncmp(line, "types ", 6)) {
			if (sscanf(line, "types %d%n", &k, &off) != 1 || k < 0 || k >= nimg)
				goto bad;
			snprintf(im[k].types, sizeof(im[k].types), "%s", line + off + 1);
			continue;
		}
		if (!strncmp(line, "setup ", 6)) {
			struct setup *u;

			if (sscanf(line, "setup %d%n", &k, &off) != 1 || k < 0 || k >= nimg ||
			    im[k].nsetups >= MAX_SETUPS)
				goto bad;
			u = &im[k].setups[im[k].nsetups];
			if (sscanf(line + off, "%u %u %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %4095s",
				   &u->kind, &u->id, &u->n[0], &u->n[1], &u->n[2], &u->n[3],
				   &u->n[4], &u->n[5], u->path) != 9)
				goto bad;
			if (!strcmp(u->path, "-"))
				u->path[0] = 0;
			im[k].nsetups++;
			continue;
		}
		if (strncmp(line, "attempt ", 8))
			goto bad;
		if (n >= count)
			goto bad;
		m = &q[n];
		memset(m, 0, sizeof(*m));
		if (sscanf(line, "attempt %d %d %d %zu %zu %u %u %u %zu %u %u %u %" SCNu64 " %" SCNu64 " %n",
			   &m->idx, &m->img, &m->cls, &m->len, &m->first_diff, &u[0], &u[1],
			   &u[2], &m->prefix, &u[3], &u[4], &u[5], &m->prefix_ptr_off,
			   &m->prefix_len, &off) != 14 ||
		    m->idx != first + n || m->img < 0 || m->img >= nimg ||
		    m->cls < 0 || m->cls >= nclasses)
			goto bad;
		m->fixed = u[0];
		m->expect_reject = u[1];
		m->must_restore = u[2];
		m->use_pipe = u[3];
		m->raw_prefix = u[4];
		m->prefix_ptr_abs = u[5];
		snprintf(m->desc, sizeof(m->desc), "%s", line + off);
		n++;
	}
	fclose(f);
	if (n != count || !nclasses) {
		snprintf(why, size, "%.200s: %d attempts of %d, %d classes", path, n, count, nclasses);
		return false;
	}
	return true;
bad:
	snprintf(why, size, "%.200s: cannot read \"%.200s\"", path, line);
	fclose(f);
	return false;
}

/* Reads the hostile image of attempt @m (and removes its file). */
static bool load_mutation(struct cr_env *env, struct mutation *m)
{
	char path[PATH_MAX + 32];
	size_t len;

	snprintf(path, sizeof(path), "%s/%d.img", env->dir, m->idx);
	if (!read_file(path, &m->buf, &len) || len != m->len)
		return false;
	unlink(path);
	return true;
}

/* ------------------------------------------------------------ attempts */

struct slot {
	bool busy;
	int idx;			/* attempt number */
	struct mutation m;
	pid_t pid;
	struct lbuf out;
	int logfd, errfd;
	char log[2048], err[1024];
	size_t loglen, errlen;
	long long t0, deadline;
	int infd;			/* the write end of its stdin, or -1 */
	bool restored, behaved, bad, usr1, cont;
	long long restored_at;
	int good;
	long last;
	char why[160];			/* what the restored program did */
	char first[64];			/* its first line */
};

struct stats {
	int count[MAX_CLASSES][NOUTCOMES];
	int tried[MAX_CLASSES];
	int fixed[MAX_CLASSES];
	int errnos[256];
	int by_path[2][NOUTCOMES];	/* [0] file (memfd), [1] stream (pipe) */
	int failures;
	int altered_shown;
	int last;			/* outcome of the last attempt */
	long long max_ms, total_ms;
	int done;
};

FIXTURE(hostile) {
	struct cr_env env;
	char afile[PATH_MAX];
	struct image img[NPROGS];
	int nimg;
	int kmsg;
	int exception_trace;		/* to restore, or -1 */
	int timeout;
	int jobs;
	int verbose;
	struct slot slots[MAX_JOBS];
	struct stats st;
	struct mutation queue[BATCH];	/* the current batch of attempts */
	bool taken[BATCH];
	int queued, left;		/* in the batch, not taken yet */
};

#define CRH_TFD_IOC_SET_TICKS	_IOW('T', 0, uint64_t)
#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS	77
#endif

/* An inotify instance as setup @u (with its watches) describes. */
static int make_inotify(const struct image *im, const struct setup *u)
{
	char gap[64], buf[4096];
	unsigned int next = 1, wd;
	int fd, g, i, w;

	fd = inotify_init1(IN_NONBLOCK);
	g = memfd_create("crh-inotify-gap", 0);
	if (fd < 0 || g < 0)
		return -1;
	snprintf(gap, sizeof(gap), "/proc/self/fd/%d", g);
	/* The watches in wd order (the generator lists them so), with gaps. */
	for (wd = 1; wd < u->n[0]; wd++) {
		const struct setup *x = NULL;

		for (i = 0; i < im->nsetups; i++)
			if (im->setups[i].kind == SETUP_INOTIFY_WATCH &&
			    im->setups[i].id == u->id && im->setups[i].n[0] == wd)
				x = &im->setups[i];
		if (x) {
			w = inotify_add_watch(fd, x->path, (uint32_t)x->n[1] | IN_DONT_FOLLOW);
		} else {
			w = inotify_add_watch(fd, gap, IN_ATTRIB);
			if (w >= 0 && inotify_rm_watch(fd, w))
				return -1;
		}
		if (w != (int)wd)
			return -1;
		next = wd + 1;
	}
	if (next != u->n[0])
		return -1;
	while (read(fd, buf, sizeof(buf)) > 0)
		;	/* the IN_IGNORED events of the gaps */
	close(g);
	return fd;
}

static int make_timerfd(const struct setup *u)
{
	uint64_t value = u->n[3] ? u->n[3] : u->n[4], ticks = u->n[2], v;
	bool abs = u->n[1] & 1;
	struct itimerspec its = { 0 };
	struct timespec now;
	int fd, flags = 0;

	fd = timerfd_create((clockid_t)u->n[0], 0);
	if (fd < 0)
		return -1;
	if (abs)
		flags |= TFD_TIMER_ABSTIME;
	if (u->n[1] & 2)
		flags |= TFD_TIMER_CANCEL_ON_SET;
	v = value;
	if (value && abs) {
		if (u->n[5]) {
			v = u->n[5];
		} else {
			clock_gettime((clockid_t)u->n[0], &now);
			v = now.tv_sec * 1000000000ULL + now.tv_nsec + value;
		}
	}
	its.it_value.tv_sec = v / 1000000000ULL;
	its.it_value.tv_nsec = v % 1000000000ULL;
	its.it_interval.tv_sec = u->n[4] / 1000000000ULL;
	its.it_interval.tv_nsec = u->n[4] % 1000000000ULL;
	if (timerfd_settime(fd, flags, &its, NULL))
		return -1;
	if (ticks && ioctl(fd, CRH_TFD_IOC_SET_TICKS, &ticks))
		return -1;
	return fd;
}

static bool make_ptimer(const struct setup *u)
{
	struct sigevent ev;
	int id = (int)u->id;

	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = (int)u->n[1];
	ev.sigev_signo = (int)u->n[2];
	ev.sigev_value.sival_ptr = (void *)(uintptr_t)u->n[3];
	if (ev.sigev_notify == SIGEV_THREAD_ID)
		ev._sigev_un._tid = gettid();
	return syscall(SYS_timer_create, (clockid_t)u->n[0], &ev, &id) == 0;
}

/*
 * In the child: makes what crctl would make for the image (from the
 * original image's setup lines: a mutated image is not asked): the restart
 * objects into @objs, the POSIX timers and CPU itimers in itself.  False on
 * a failure (a setup failure: the unchanged image must restore).
 */
static bool make_setups(const struct image *im, struct cr_restart_obj *objs, int *nobjs)
{
	bool ptimers = false;
	int i, fd, p[2];

	*nobjs = 0;
	for (i = 0; i < im->nsetups; i++) {
		const struct setup *u = &im->setups[i];

		fd = -1;
		switch (u->kind) {
		case CR_RESTART_OBJ_PIPE:
			if (pipe2(p, 0))
				return false;
			if (fcntl(p[0], F_GETPIPE_SZ) != (int)u->n[0] &&
			    fcntl(p[0], F_SETPIPE_SZ, (int)u->n[0]) < 0)
				return false;
			if (fcntl(p[0], F_GETPIPE_SZ) != (int)u->n[0])
				return false;
			close(p[1]);
			fd = p[0];
			break;
		case CR_RESTART_OBJ_EVENTFD:
			fd = eventfd(0, u->n[1] & 1 ? EFD_SEMAPHORE : 0);
			if (fd < 0 || (u->n[0] && write(fd, &u->n[0], 8) != 8))
				return false;
			break;
		case CR_RESTART_OBJ_TIMERFD:
			fd = make_timerfd(u);
			break;
		case CR_RESTART_OBJ_SIGNALFD: {
			sigset_t set;
			int sig;

			sigemptyset(&set);
			for (sig = 1; sig <= 64; sig++)
				if (u->n[0] >> (sig - 1) & 1)
					sigaddset(&set, sig);
			fd = signalfd(-1, &set, 0);
			break;
		}
		case CR_RESTART_OBJ_INOTIFY:
			fd = make_inotify(im, u);
			break;
		case SETUP_INOTIFY_WATCH:
			continue;
		case SETUP_PTIMER:
			if (!ptimers && prctl(PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0))
				return false;
			ptimers = true;
			if (!make_ptimer(u))
				return false;
			continue;
		case SETUP_ITIMER: {
			/* Armed far away; the module sets the time left. */
			struct itimerval it = { .it_value = { 1000, 0 } };

			if (setitimer(u->id == 1 ? ITIMER_VIRTUAL : ITIMER_PROF, &it, NULL))
				return false;
			continue;
		}
		default:
			return false;
		}
		if (fd < 0)
			return false;
		objs[*nobjs].kind = u->kind;
		objs[*nobjs].id = u->id;
		objs[*nobjs].fd = fd;
		objs[*nobjs].__pad = 0;
		(*nobjs)++;
	}
	if (ptimers)
		prctl(PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
	return true;
}

/* In the child: what crctl restart does, then the ioctl. */
static void attempt_child(FIXTURE_DATA(hostile) *self, const struct image *im,
			  const struct mutation *m, int imgfd, int logfd,
			  int infd, int outfd, int errfd)
{
	struct cr_restart_obj objs[MAX_SETUPS];
	struct cr_restart_args args;
	int null, dev, nobjs;

	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	child_stdio(infd >= 0 ? infd : null, outfd, errfd);
	prctl(PR_SET_NAME, CHILD_MARK);
	if (chdir(im->cwd)) {
		dprintf(2, "chdir %s: %m\n", im->cwd);
		_exit(203);
	}
	dev = open(CR_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		dprintf(2, "open %s: %m\n", CR_DEVICE);
		_exit(200);
	}
	if (move_vdso(im->vdso_lo, im->vdso_hi))
		_exit(202);
	if (!make_setups(im, objs, &nobjs)) {
		dprintf(2, "making the image's objects: %m\n");
		_exit(205);
	}
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.fd = imgfd;
	args.logfd = logfd;
	if (nobjs) {
		args.objs = (uintptr_t)objs;
		args.nr_objs = nobjs;
	}
	if (m->raw_prefix) {
		args.prefix = m->prefix_ptr_abs ? m->prefix_ptr_off :
			      (uint64_t)(uintptr_t)(m->buf + m->prefix_ptr_off);
		args.prefix_len = m->prefix_len;
	} else if (m->prefix) {
		args.prefix = (uintptr_t)m->buf;
		args.prefix_len = m->prefix;
	}
	if (ioctl(dev, CR_IOC_RESTART, &args) == 0)
		_exit(201);
	_exit(errno);
}

/* Writes all of @buf to @fd; false on error. */
static bool write_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t r;

	while (len) {
		r = write(fd, buf, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		buf += r;
		len -= r;
	}
	return true;
}

/* Resets the append file of progs/files to what the image expects. */
static void reset_afile(FIXTURE_DATA(hostile) *self)
{
	int fd = open(self->afile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd >= 0) {
		if (write(fd, "a", 1) != 1)
			perror("reset append file");
		close(fd);
	}
}

/* Starts attempt @idx with mutation @m (taken over) in slot @s. */
static bool start_attempt(struct __test_metadata *_metadata,
			  FIXTURE_DATA(hostile) *self, struct slot *s, int idx,
			  struct mutation *m)
{
	const struct image *im = &self->img[m->img];
	int out[2], logp[2], errp[2], imgfd, pfd[2] = { -1, -1 }, in[2] = { -1, -1 };
	size_t from = m->prefix, rest;

	memset(s, 0, sizeof(*s));
	s->infd = -1;
	s->m = *m;
	s->idx = idx;
	if (m->raw_prefix)
		from = (m->prefix_ptr_abs || m->prefix_len != m->len) ? 0 : m->len;
	rest = m->len - from;
	if (im->prog == P_FILES)
		reset_afile(self);
	if (m->use_pipe) {
		if (pipe2(pfd, O_CLOEXEC))
			return false;
		if (rest > 65536 && fcntl(pfd[1], F_SETPIPE_SZ, (int)rest) < 0) {
			close(pfd[0]);
			close(pfd[1]);
			pfd[0] = -1;
			s->m.use_pipe = false;
		}
	}
	if (pfd[0] >= 0) {
		if (!write_all(pfd[1], m->buf + from, rest))
			return false;
		close(pfd[1]);
		imgfd = pfd[0];
	} else {
		imgfd = memfd_create("cr_hostile.img", MFD_CLOEXEC);
		if (imgfd < 0 || !write_all(imgfd, m->buf + from, rest) ||
		    lseek(imgfd, 0, SEEK_SET))
			return false;
	}
	if (pipe2(out, O_CLOEXEC) || pipe2(logp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC))
		return false;
	/* Its stdin: the byte it waits for, there from the start. */
	if (progs[im->prog].stdin_pipe && pipe2(in, O_CLOEXEC))
		return false;
	if (progs[im->prog].stdin_byte && write(in[1], "x", 1) != 1)
		return false;
	fflush(stdout);
	fflush(stderr);
	s->pid = fork();
	if (s->pid < 0)
		return false;
	if (s->pid == 0) {
		/* Keep the image and log fds across the ioctl only. */
		if (fcntl(imgfd, F_SETFD, 0) || fcntl(logp[1], F_SETFD, 0))
			_exit(204);
		attempt_child(self, im, m, imgfd, logp[1], in[0], out[1], errp[1]);
	}
	kid_add(&self->env, s->pid);
	if (in[0] >= 0)
		close(in[0]);
	s->infd = in[1];	/* open until the attempt is over */
	close(imgfd);
	close(out[1]);
	close(logp[1]);
	close(errp[1]);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(logp[0], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	s->out.fd = out[0];
	s->logfd = logp[0];
	s->errfd = errp[0];
	s->t0 = now_ms();
	s->deadline = s->t0 + self->timeout;
	s->busy = true;
	if (self->verbose > 1)
		ksft_print_msg("start #%d %s %s: %s%s, %s%s, %zu bytes\n", idx,
			       prog_names[im->prog], class_names[m->cls], m->desc,
			       m->fixed ? ", checksums fixed" : "",
			       s->m.use_pipe ? "pipe" : "memfd", m->prefix ? " + prefix" : "",
			       m->len);
	return true;
}

/* A line of the restored program: does it behave? */
static void judge_line(const struct image *im, struct slot *s, const char *line)
{
	char *end;
	long v;

	if (!s->first[0])
		snprintf(s->first, sizeof(s->first), "%.60s", line);
	if (s->behaved || s->bad)
		return;
	switch (progs[im->prog].judge) {
	case J_COUNT:
		errno = 0;
		v = strtol(line, &end, 10);
		if (end == line || *end || errno || v <= 0 ||
		    (s->good && v != s->last + 1)) {
			s->bad = true;
			snprintf(s->why, sizeof(s->why), "printed \"%.40s\" after %ld", line, s->last);
			return;
		}
		s->last = v;
		if (++s->good >= 3)
			s->behaved = true;
		return;
	case J_TICK: {
		const char *w = progs[im->prog].word;
		size_t n = strlen(w);

		if (strncmp(line, w, n) || (line[n] && line[n] != ' ')) {
			s->bad = true;
			snprintf(s->why, sizeof(s->why), "printed \"%.40s\"", line);
			return;
		}
		if (++s->good >= 2)
			s->behaved = true;
		return;
	}
	case J_LINE:
		if (!strncmp(line, "BAD", 3) || !strncmp(line, "FAIL", 4)) {
			s->bad = true;
			snprintf(s->why, sizeof(s->why), "printed \"%.60s\"", line);
			return;
		}
		if (!strcmp(line, progs[im->prog].word))
			s->behaved = true;
		return;
	case J_ALIVE:
		s->bad = true;
		snprintf(s->why, sizeof(s->why), "printed \"%.60s\"", line);
		return;
	}
}

/* Reads what the child wrote so far. */
static void collect(FIXTURE_DATA(hostile) *self, struct slot *s)
{
	const struct image *im = &self->img[s->m.img];
	char line[256];

	fill_lbuf(&s->out);
	while (take_line(&s->out, line, sizeof(line))) {
		s->restored = true;	/* the child itself never prints */
		judge_line(im, s, line);
	}
	drain(s->logfd, s->log, &s->loglen, sizeof(s->log));
	drain(s->errfd, s->err, &s->errlen, sizeof(s->err));
}

static void print_attempt(FIXTURE_DATA(hostile) *self, struct slot *s,
			  int o, const char *what)
{
	const struct image *im = &self->img[s->m.img];
	char log[sizeof(s->log)], *c;

	snprintf(log, sizeof(log), "%s", s->log);
	for (c = log; *c; c++)
		if (*c == '\n')
			*c = c[1] ? '|' : 0;
	for (c = s->err; *c; c++)
		if (*c == '\n')
			*c = c[1] ? '|' : 0;
	ksft_print_msg("%s #%d %s %s: %s%s%s, %s%s, %zu bytes; %s; %s; log: %s%s%s\n",
		       o >= FIRST_FAILURE ? "FAIL" : "attempt", s->idx,
		       prog_names[im->prog], class_names[s->m.cls], s->m.desc,
		       s->m.fixed ? ", checksums fixed" : "",
		       s->m.expect_reject ? "" : " (may be valid)",
		       s->m.use_pipe ? "pipe" : "memfd",
		       s->m.prefix ? " + prefix" : "", s->m.len, outcome_names[o],
		       what, log[0] ? log : "(empty)",
		       s->err[0] ? "; child stderr: " : "", s->err);
}

/* Records the outcome of slot @s and frees it. */
static void conclude(FIXTURE_DATA(hostile) *self, struct slot *s, int o,
		     const char *what)
{
	struct stats *st = &self->st;
	long long ms = now_ms() - s->t0;

	st->last = o;
	st->count[s->m.cls][o]++;
	st->by_path[s->m.use_pipe][o]++;
	st->tried[s->m.cls]++;
	st->fixed[s->m.cls] += s->m.fixed;
	st->done++;
	st->total_ms += ms;
	if (ms > st->max_ms)
		st->max_ms = ms;
	if (o >= FIRST_FAILURE || (o == O_KILLED && !s->m.use_pipe)) {
		if (o >= FIRST_FAILURE)
			st->failures++;
		print_attempt(self, s, o, what);
	} else if (self->verbose ||
		   (o == O_RESTORED_ALT && st->altered_shown++ < 10)) {
		print_attempt(self, s, o, what);
	}
	close(s->out.fd);
	close(s->logfd);
	close(s->errfd);
	if (s->infd >= 0)
		close(s->infd);
	free(s->m.buf);
	s->busy = false;
}

/* The verdict on a restored program @s, once it behaved or failed. */
static int restored_verdict(const FIXTURE_DATA(hostile) *self, const struct slot *s)
{
	const struct mutation *m = &s->m;
	const struct image *im = &self->img[m->img];

	if (m->expect_reject || (!m->fixed && m->first_diff < im->len))
		return F_ACCEPTED;
	if (s->behaved)
		return O_RESTORED_OK;
	return m->fixed ? O_RESTORED_ALT : F_MISBEHAVES;
}

/* The child of @s has ended (not reaped yet): classify it. */
static void ended(FIXTURE_DATA(hostile) *self, struct slot *s)
{
	char comm[64] = "", how[96], what[256];
	int status, o, e;
	bool mine;

	mine = proc_comm(s->pid, comm, sizeof(comm)) && own_comm(comm);
	if (!reap_pid(s->pid, &status, KILL_WAIT)) {
		conclude(self, s, F_STUCK, "cannot reap");
		return;
	}
	kid_del(&self->env, s->pid);
	collect(self, s);
	describe(status, how, sizeof(how));
	snprintf(what, sizeof(what), "%s, comm \"%s\"", how, comm);
	if (!mine)
		s->restored = true;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		/* Killed after the point of no return (or by us, which
		 * happens only after a verdict). */
		conclude(self, s, s->log[0] ? O_KILLED : F_NOLOG, what);
		return;
	}
	if (s->restored) {
		if (!s->behaved && !s->bad)
			snprintf(s->why, sizeof(s->why), "restored program ended: %s", how);
		o = restored_verdict(self, s);
		snprintf(what, sizeof(what), "%.60s; first line \"%.60s\"; %.110s", how,
			 s->first, s->why[0] ? s->why : "behaved");
		conclude(self, s, o, what);
		return;
	}
	/* The ioctl returned, or the child failed before it. */
	if (WIFSIGNALED(status)) {
		conclude(self, s, F_CRASH, what);
		return;
	}
	e = WEXITSTATUS(status);
	if (e == 201) {
		conclude(self, s, F_RETURNED, what);
		return;
	}
	if (e >= 200 || e == 0) {
		conclude(self, s, F_SETUP, what);
		return;
	}
	snprintf(what, sizeof(what), "errno %d (%s)", e, strerror(e));
	if (!s->log[0]) {
		conclude(self, s, F_NOLOG, what);
		return;
	}
	if (s->m.must_restore) {
		conclude(self, s, F_REFUSED, what);
		return;
	}
	self->st.errnos[e & 255]++;
	o = e == EINVAL ? O_EINVAL : e == EPERM ? O_EPERM :
	    e == EOPNOTSUPP ? O_EOPNOTSUPP : O_ERRNO;
	conclude(self, s, o, what);
}

/* Kills the child of @s and concludes with outcome @o. */
static void kill_conclude(FIXTURE_DATA(hostile) *self, struct slot *s, int o,
			  const char *what)
{
	int status;

	if (!kill_kid(&self->env, s->pid, &status, KILL_WAIT)) {
		conclude(self, s, F_STUCK, "SIGKILL did not end it");
		return;
	}
	collect(self, s);
	conclude(self, s, o, what);
}

/* Advances slot @s: reads output, detects the restore, checks deadlines. */
static void step(FIXTURE_DATA(hostile) *self, struct slot *s)
{
	const struct image *im = &self->img[s->m.img];
	char comm[64], what[256];
	siginfo_t si;

	collect(self, s);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, s->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	    si.si_pid == s->pid) {
		ended(self, s);
		return;
	}
	if (!s->restored && proc_comm(s->pid, comm, sizeof(comm)) &&
	    !own_comm(comm))
		s->restored = true;
	if (s->restored && !s->restored_at)
		s->restored_at = now_ms();
	if (s->restored && progs[im->prog].usr1 && !s->usr1 &&
	    catches(s->pid, SIGUSR1)) {
		/* Its handler is in place: the restored program checks itself. */
		kill(s->pid, SIGUSR1);
		s->usr1 = true;
	}
	if (s->restored && !s->cont && proc_state(s->pid) == 'T') {
		/* Restored in a job-control stop (as the image says): resume it. */
		kill(s->pid, SIGCONT);
		s->cont = true;
	}
	if (s->restored && progs[im->prog].judge == J_ALIVE && !s->bad &&
	    now_ms() - s->restored_at >= ALIVE_MS &&
	    proc_state(s->pid) != 'T' && proc_state(s->pid) != 'Z') {
		s->behaved = true;
		snprintf(s->why, sizeof(s->why), "silent and alive for %d ms", ALIVE_MS);
	}
	if (s->restored && (s->behaved || s->bad)) {
		int o = restored_verdict(self, s);

		snprintf(what, sizeof(what), "first line \"%s\"; %s", s->first,
			 s->why[0] ? s->why : "behaved");
		kill_conclude(self, s, o, what);
		return;
	}
	if (now_ms() > s->deadline) {
		if (s->restored) {
			snprintf(s->why, sizeof(s->why), "restored, but no verdict in %d ms (%d good lines)",
				 self->timeout, s->good);
			snprintf(what, sizeof(what), "first line \"%s\"; %s", s->first, s->why);
			kill_conclude(self, s, restored_verdict(self, s), what);
		} else {
			snprintf(what, sizeof(what), "no result in %d ms", self->timeout);
			kill_conclude(self, s, F_TIMEOUT, what);
		}
	}
}

static bool bad_kernel_line(const char *l)
{
	static const char *const bad[] = {
		"Oops", "BUG:", "WARNING:", "Call Trace", "KASAN", "UBSAN",
		"suspected memory leak", "soft lockup", "hard LOCKUP", "general protection",
		"Kernel panic", "list_del corruption", "refcount_t:",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (strstr(l, bad[i]))
			return true;
	return false;
}

/* New kernel log records: true if one of them shows a problem. */
static bool kmsg_problem(FIXTURE_DATA(hostile) *self, bool print)
{
	char rec[2048];
	bool problem = false;
	ssize_t n;

	if (self->kmsg < 0)
		return false;
	for (;;) {
		n = read(self->kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten: go on */
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		if (bad_kernel_line(rec)) {
			problem = true;
			if (print)
				ksft_print_msg("kernel: %s", rec);
		}
	}
	return problem;
}

/* ------------------------------------------------------------ setup */

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

static unsigned char pattern(unsigned long i)
{
	return (i * 2654435761UL) >> 13 ^ i >> 8;	/* as in progs/files.c */
}

static bool write_pattern(const char *path, size_t size)
{
	unsigned char *buf = malloc(size);
	size_t i;
	bool ok;
	int fd;

	if (!buf)
		return false;
	for (i = 0; i < size; i++)
		buf[i] = pattern(i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ok = fd >= 0 && write_all(fd, buf, size);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

/*
 * Starts program @prog in the scratch directory, waits until it is well
 * under way, checkpoints it with crctl into @path and kills it.  Returns
 * false with a message in @why, or (true, image absent) for a skip.
 */
static bool make_image(struct __test_metadata *_metadata,
		       FIXTURE_DATA(hostile) *self, int prog, const char *path,
		       char *why, size_t size)
{
	const struct progdef *d = &progs[prog];
	char exe[PATH_MAX + 32], rfile[PATH_MAX + 32], line[256], err[2048], how[64];
	char dirs[3][PATH_MAX + 32];
	char pidstr[16], *ckpt[] = { "crctl", "checkpoint", "-o", (char *)path,
				     pidstr, NULL };
	char *argv[8];
	struct prog p;
	int i, k, status;
	long long end;

	snprintf(exe, sizeof(exe), "%s/%s", self->env.bin, d->exe);
	argv[0] = exe;
	for (k = 0; k < 6 && d->args[k]; k++)
		argv[1 + k] = (char *)d->args[k];
	argv[1 + k] = NULL;
	if (prog == P_FILES) {
		snprintf(rfile, sizeof(rfile), "%s/files.read", self->env.dir);
		snprintf(self->afile, sizeof(self->afile), "%s/files.append", self->env.dir);
		if (!write_pattern(rfile, 10001)) {
			snprintf(why, size, "cannot write %.200s", rfile);
			return false;
		}
		argv[1] = rfile;
		argv[2] = self->afile;
		argv[3] = NULL;
	} else if (prog == P_INOTIFY) {
		/* Watches on three directories, the second one removed: a gap. */
		argv[1] = "inotify";
		for (i = 0; i < 3; i++) {
			snprintf(dirs[i], sizeof(dirs[i]), "%s/inotify%d", self->env.dir, i + 1);
			if (mkdir(dirs[i], 0755) && errno != EEXIST) {
				snprintf(why, size, "mkdir %.200s: %s", dirs[i], strerror(errno));
				return false;
			}
			argv[2 + i] = dirs[i];
		}
		argv[5] = NULL;
	}
	if (!spawn(&self->env, &p, argv, d->stdin_pipe)) {
		snprintf(why, size, "cannot start %.200s", exe);
		return false;
	}
	/* Its ready line (any lines before it), then @want more. */
	for (i = 0, k = -1; k < d->want; i++) {
		if (i > 64 || read_line(&p.out, line, sizeof(line), START_TIMEOUT) != 1) {
			snprintf(why, size, "%s: no output", d->name);
			goto fail;
		}
		if (!strcmp(line, "NOAVX")) {
			kill_kid(&self->env, p.pid, NULL, KILL_WAIT);
			close(p.out.fd);
			return true;	/* no image: skipped */
		}
		if (!strncmp(line, "BAD", 3) || !strncmp(line, "FAIL", 4)) {
			snprintf(why, size, "%s printed \"%s\"", d->name, line);
			goto fail;
		}
		if (k >= 0 || !d->ready || !strncmp(line, d->ready, strlen(d->ready)))
			k++;
	}
	if (d->sig) {
		/* Blocked: it stays pending until the program takes it. */
		kill(p.pid, d->sig);
		usleep(100000);
	}
	if (d->stop) {
		kill(p.pid, SIGSTOP);
		end = now_ms() + START_TIMEOUT;
		while (proc_state(p.pid) != 'T') {
			if (now_ms() > end) {
				snprintf(why, size, "%s: not stopped", d->name);
				goto fail;
			}
			usleep(10000);
		}
	}
	snprintf(pidstr, sizeof(pidstr), "%d", p.pid);
	status = run(_metadata, &self->env, ckpt, -1, err, sizeof(err));
	if (status != 0) {
		snprintf(why, size, "crctl checkpoint %s: %s: %s", d->name,
			 status < 0 ? "timeout" : describe(status, how, sizeof(how)), err);
		goto fail;
	}
	kill_kid(&self->env, p.pid, NULL, KILL_WAIT);
	close(p.out.fd);
	if (p.in >= 0)
		close(p.in);
	return true;
fail:
	kill_kid(&self->env, p.pid, NULL, KILL_WAIT);
	close(p.out.fd);
	if (p.in >= 0)
		close(p.in);
	return false;
}

static long meminfo_kb(const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	}
	fclose(f);
	return v;
}

static void set_exception_trace(FIXTURE_DATA(hostile) *self, bool off)
{
	char buf[16];
	int fd, n;

	fd = open("/proc/sys/debug/exception-trace", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	if (off) {
		n = read(fd, buf, sizeof(buf) - 1);
		self->exception_trace = n > 0 ? (buf[n] = 0, atoi(buf)) : -1;
		if (pwrite(fd, "0\n", 2, 0) != 2)
			self->exception_trace = -1;
	} else if (self->exception_trace >= 0) {
		n = snprintf(buf, sizeof(buf), "%d\n", self->exception_trace);
		if (pwrite(fd, buf, n, 0) != n)
			perror("exception-trace");
	}
	close(fd);
}

/*
 * Not a subreaper: every attempt is a child of the test, reaped by its
 * pid; whatever a wrongly restored image might fork is not the test's.
 */
FIXTURE_SETUP(hostile)
{
	cr_env_setup_flags(_metadata, &self->env, "cr_hostile", 0);
	self->kmsg = -1;
	self->exception_trace = -1;
}

FIXTURE_TEARDOWN(hostile)
{
	int i;

	cr_env_teardown(&self->env);
	set_exception_trace(self, false);
	if (self->kmsg >= 0)
		close(self->kmsg);
	for (i = 0; i < NPROGS; i++)
		free(self->img[i].buf);
}

/* Whether one of our mappings is where the image has its vdso. */
static bool vdso_clash(const struct image *im)
{
	unsigned long a, b;
	bool clash = false;
	char l[512];
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return true;
	while (fgets(l, sizeof(l), f))
		if (sscanf(l, "%lx-%lx", &a, &b) == 2 && a < im->vdso_hi &&
		    im->vdso_lo < b && !strstr(l, "[v"))
			clash = true;
	fclose(f);
	return clash;
}

/* Runs @m (taken over) alone, to the end; returns the outcome. */
static int run_one(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self,
		   struct mutation *m, int idx)
{
	struct slot *s = &self->slots[0];

	self->st.last = -1;
	if (!start_attempt(_metadata, self, s, idx, m))
		return -1;
	while (s->busy) {
		usleep(10000);
		step(self, s);
	}
	return self->st.last;
}

/* An unchanged image, through one delivery path, must restore. */
static void baseline(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self,
		     int i, bool pipe, size_t prefix)
{
	struct mutation m = { .idx = -1, .img = i };
	struct stats saved = self->st;
	int o;

	m.len = self->img[i].len;
	m.buf = malloc(m.len);
	ASSERT_NE(NULL, m.buf);
	memcpy(m.buf, self->img[i].buf, m.len);
	m.cls = 0;	/* any: not counted */
	m.first_diff = m.len;
	m.must_restore = true;
	m.use_pipe = pipe;
	m.prefix = prefix;
	snprintf(m.desc, sizeof(m.desc), "unchanged image");
	o = run_one(_metadata, self, &m, -1);
	self->st = saved;	/* not counted */
	ASSERT_EQ(O_RESTORED_OK, o) {
		TH_LOG("%s: the unchanged image (%s%s) does not restore: %s",
		       prog_names[self->img[i].prog], pipe ? "pipe" : "memfd",
		       prefix ? " + prefix" : "", o >= 0 ? outcome_names[o] : "?");
	}
}

static void print_table(FIXTURE_DATA(hostile) *self)
{
	static const int cols[] = {
		O_EINVAL, O_EPERM, O_EOPNOTSUPP, O_ERRNO, O_KILLED,
		O_RESTORED_OK, O_RESTORED_ALT,
	};
	static const char *heads[] = {
		"EINVAL", "EPERM", "EOPNOTSUP", "errno*", "SIGKILL", "rest-ok", "rest-alt",
	};
	struct stats *st = &self->st;
	int c, o, tot[NOUTCOMES + 2] = { 0 }, fail;
	char line[512];
	size_t i, n;

	n = snprintf(line, sizeof(line), "%-30s %6s %5s", "class", "tried", "fixed");
	for (i = 0; i < ARRAY_SIZE(cols); i++)
		n += snprintf(line + n, sizeof(line) - n, " %9s", heads[i]);
	snprintf(line + n, sizeof(line) - n, " %6s", "FAIL");
	ksft_print_msg("%s\n", line);
	for (c = 0; c < nclasses; c++) {
		if (!st->tried[c])
			continue;
		n = snprintf(line, sizeof(line), "%-30s %6d %5d", class_names[c],
			     st->tried[c], st->fixed[c]);
		tot[NOUTCOMES] += st->tried[c];
		tot[NOUTCOMES + 1] += st->fixed[c];
		for (i = 0; i < ARRAY_SIZE(cols); i++) {
			n += snprintf(line + n, sizeof(line) - n, " %9d", st->count[c][cols[i]]);
			tot[cols[i]] += st->count[c][cols[i]];
		}
		for (fail = 0, o = FIRST_FAILURE; o < NOUTCOMES; o++)
			fail += st->count[c][o];
		tot[FIRST_FAILURE] += fail;
		snprintf(line + n, sizeof(line) - n, " %6d", fail);
		ksft_print_msg("%s\n", line);
	}
	n = snprintf(line, sizeof(line), "%-30s %6d %5d", "total", tot[NOUTCOMES],
		     tot[NOUTCOMES + 1]);
	for (i = 0; i < ARRAY_SIZE(cols); i++)
		n += snprintf(line + n, sizeof(line) - n, " %9d", tot[cols[i]]);
	snprintf(line + n, sizeof(line) - n, " %6d", tot[FIRST_FAILURE]);
	ksft_print_msg("%s\n", line);
	/* One line for tools/check's summary. */
	ksft_print_msg("figures: %d hostile images, %d failures: %d EINVAL, %d EPERM, %d EOPNOTSUPP, %d other errno, %d killed after the point of no return, %d restored\n",
		       tot[NOUTCOMES], tot[FIRST_FAILURE], tot[O_EINVAL], tot[O_EPERM],
		       tot[O_EOPNOTSUPP], tot[O_ERRNO], tot[O_KILLED],
		       tot[O_RESTORED_OK] + tot[O_RESTORED_ALT]);
	for (i = 0; i < 2; i++) {
		int all = 0;

		for (o = 0; o < NOUTCOMES; o++)
			all += st->by_path[i][o];
		ksft_print_msg("figures: hostile images through a %s: %d, %d killed after the point of no return\n",
			       i ? "pipe (a stream)" : "memfd (a regular file)", all,
			       st->by_path[i][O_KILLED]);
	}

	n = snprintf(line, sizeof(line), "errno* (other errnos with a log line):");
	for (o = 1; o < 256; o++)
		if (st->errnos[o] && o != EINVAL && o != EPERM && o != EOPNOTSUPP)
			n += snprintf(line + n, sizeof(line) - n, " %s %d",
				      strerrorname_np(o) ? strerrorname_np(o) : "?", st->errnos[o]);
	ksft_print_msg("%s\n", line);
	for (o = FIRST_FAILURE; o < NOUTCOMES; o++) {
		for (fail = 0, c = 0; c < nclasses; c++)
			fail += st->count[c][o];
		if (fail)
			ksft_print_msg("%-28s %d\n", outcome_names[o], fail);
	}
}

TEST_F_TIMEOUT(hostile, mutations, 3600)
{
	int n = env_int("CR_HOSTILE_N", DEFAULT_N), i, j, k, idx, nready;
	long long t0 = now_ms(), last_report;
	long slab0, sunrec0, slab1, sunrec1;
	char path[PATH_MAX + 32], why[4096];
	unsigned long long seed;
	const char *s;
	FILE *f;

	ASSERT_TRUE(proc_comm(getpid(), my_comm, sizeof(my_comm)));
	self->timeout = env_int("CR_HOSTILE_TIMEOUT_MS", DEFAULT_TIMEOUT_MS);
	self->jobs = env_int("CR_HOSTILE_JOBS", DEFAULT_JOBS);
	if (self->jobs < 1)
		self->jobs = 1;
	if (self->jobs > MAX_JOBS)
		self->jobs = MAX_JOBS;
	self->verbose = env_int("CR_HOSTILE_VERBOSE", 0);
	s = getenv("CR_HOSTILE_SEED");
	seed = s && *s ? strtoull(s, NULL, 0) : (unsigned long long)time(NULL) ^ getpid();
	ksft_print_msg("cr_hostile: %d attempts, seed %#llx, %d at a time, timeout %d ms\n",
		       n, seed, self->jobs, self->timeout);
	ASSERT_EQ(0, access(CR_DEVICE, R_OK | W_OK)) TH_LOG("%s: %s", CR_DEVICE, strerror(errno));

	/* The images. */
	for (i = 0; i < NPROGS; i++) {
		struct image *im = &self->img[self->nimg];

		for (k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "%s/%s.img", self->env.dir, prog_names[i]);
			unlink(path);
			ASSERT_TRUE(make_image(_metadata, self, i, path, why, sizeof(why))) TH_LOG("%s", why);
			if (access(path, F_OK))
				break;	/* skipped (no AVX) */
			im->prog = i;
			snprintf(im->path, sizeof(im->path), "%s", path);
			ASSERT_TRUE(read_file(path, &im->buf, &im->len));
			/* Well formed, its own checksums right, described. */
			ASSERT_TRUE(generate(_metadata, &self->env, im, 1, seed, 0, 0, NULL,
					     why, sizeof(why))) {
				TH_LOG("%s: %s", path, why);
			}
			/* Our own mappings must leave room for the image's vdso. */
			if (vdso_clash(im)) {
				ksft_print_msg("%s: the image's vdso collides with our mappings; again\n",
					       prog_names[i]);
				free(im->buf);
				im->buf = NULL;
				continue;
			}
			im->present = true;
			break;
		}
		if (!im->present) {
			ASSERT_NE(P_COUNTER, i) TH_LOG("no usable counter image");
			ksft_print_msg("%s: no image (skipped)\n", prog_names[i]);
			continue;
		}
		ksft_print_msg("%s image: %zu bytes, %d records, %d vmas, %" PRIu64 " pages, task size %#" PRIx64 ", vdso %#" PRIx64 ", cwd %s; checksums verified\n",
			       prog_names[i], im->len, im->nrecs, im->nvmas, im->pages,
			       im->task_size, im->vdso_lo, im->cwd);
		ksft_print_msg("%s records: %s; %d objects made for it\n", prog_names[i],
			       im->types, im->nsetups);
		self->nimg++;
	}

	/* The kernel log from now on; fault messages of altered programs off. */
	self->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (self->kmsg >= 0)
		lseek(self->kmsg, 0, SEEK_END);
	set_exception_trace(self, true);
	slab0 = meminfo_kb("Slab");
	sunrec0 = meminfo_kb("SUnreclaim");

	/* The machinery works: every unchanged image restores, each way. */
	for (i = 0; i < self->nimg; i++) {
		baseline(_metadata, self, i, false, 0);
		baseline(_metadata, self, i, true, 0);
		baseline(_metadata, self, i, false, 100);
		baseline(_metadata, self, i, true, self->img[i].len / 2);
	}
	ASSERT_FALSE(kmsg_problem(self, true));

	/* The mutations: record-boundary truncations first, then random. */
	idx = 0;
	last_report = now_ms();
	for (;;) {
		nready = 0;
		for (j = 0; j < self->jobs; j++)
			nready += self->slots[j].busy;
		if (idx >= n && !self->left && !nready)
			break;
		/*
		 * The next batch, once this one is started and over (the
		 * generator does not run while attempts wait for their
		 * deadlines).
		 */
		if (idx < n && !self->left && !nready) {
			int count = n - idx < BATCH ? n - idx : BATCH;

			ASSERT_TRUE(generate(_metadata, &self->env, self->img, self->nimg,
					     seed, idx, count, self->queue, why, sizeof(why))) {
				TH_LOG("%s", why);
			}
			memset(self->taken, 0, sizeof(self->taken));
			self->queued = self->left = count;
		}
		for (j = 0; j < self->jobs && self->left; j++) {
			struct slot *sl = &self->slots[j];
			bool busy[NPROGS] = { false };
			struct mutation *m = NULL;
			int pr;

			if (sl->busy)
				continue;
			for (k = 0; k < self->jobs; k++)
				if (self->slots[k].busy)
					busy[self->img[self->slots[k].m.img].prog] = true;
			/*
			 * One attempt at a time of an exclusive program's images:
			 * files share the append file, inet its ports.
			 */
			for (k = 0; k < self->queued && !m; k++) {
				pr = self->img[self->queue[k].img].prog;
				if (!self->taken[k] && !(progs[pr].excl && busy[pr]))
					m = &self->queue[k];
			}
			if (!m)
				break;
			self->taken[m - self->queue] = true;
			self->left--;
			idx++;
			ASSERT_TRUE(load_mutation(&self->env, m)) TH_LOG("attempt %d: no image", m->idx);
			ASSERT_TRUE(start_attempt(_metadata, self, sl, m->idx, m));
		}
		usleep(5000);
		for (j = 0; j < self->jobs; j++) {
			if (!self->slots[j].busy)
				continue;
			step(self, &self->slots[j]);
			if (!self->slots[j].busy && kmsg_problem(self, true)) {
				ksft_print_msg("FAIL: kernel log problem after attempt #%d (or one running with it)\n",
					       self->slots[j].idx);
				self->st.failures++;
				self->st.count[self->slots[j].m.cls][F_KERNEL]++;
			}
		}
		if (now_ms() - last_report > 60000) {
			last_report = now_ms();
			ksft_print_msg("progress: %d of %d done in %lld s, %d failures\n",
				       self->st.done, n, (now_ms() - t0) / 1000, self->st.failures);
		}
	}

	ksft_print_msg("cr_hostile: %d attempts in %lld s (mean %lld ms, longest %lld ms), seed %#llx\n",
		       self->st.done, (now_ms() - t0) / 1000,
		       self->st.done ? self->st.total_ms / self->st.done : 0,
		       self->st.max_ms, seed);
	print_table(self);

	/* The kernel log, all of it. */
	EXPECT_FALSE(kmsg_problem(self, true));
	f = popen("dmesg 2>/dev/null | grep -E 'Oops|BUG:|WARNING:|Call Trace|KASAN|UBSAN|suspected memory leak|soft lockup'", "r");
	ASSERT_NE(NULL, f);
	i = fread(why, 1, sizeof(why) - 1, f);
	why[i > 0 ? i : 0] = 0;
	pclose(f);
	EXPECT_EQ(0, i) TH_LOG("kernel log:\n%s", why);

	/* Slab: a leak would show here. */
	slab1 = meminfo_kb("Slab");
	sunrec1 = meminfo_kb("SUnreclaim");
	ksft_print_msg("slab: %ld kB -> %ld kB (%+ld kB), unreclaimable %ld kB -> %ld kB (%+ld kB)\n",
		       slab0, slab1, slab1 - slab0, sunrec0, sunrec1, sunrec1 - sunrec0);
	if (sunrec1 - sunrec0 > 4096)
		ksft_print_msg("warning: unreclaimable slab grew by %ld kB\n", sunrec1 - sunrec0);
	EXPECT_GT(50 * 1024, slab1 - slab0) TH_LOG("slab grew by more than 50 MB");
	EXPECT_GT(50 * 1024, sunrec1 - sunrec0) TH_LOG("unreclaimable slab grew by more than 50 MB");

	EXPECT_EQ(0, self->st.failures) TH_LOG("%d attempts failed (see above)", self->st.failures);
	/* A regular file is read to its end before the point of no return. */
	EXPECT_EQ(0, self->st.by_path[0][O_KILLED])
		TH_LOG("%d damaged images on a regular file killed the restarting task (see above)",
		       self->st.by_path[0][O_KILLED]);
}

int main(int argc, char **argv)
{
	int n = env_int("CR_HOSTILE_N", DEFAULT_N);
	int t = env_int("CR_HOSTILE_TIMEOUT_MS", DEFAULT_TIMEOUT_MS);
	int i;

	for (i = 0; i < NPROGS; i++)
		prog_names[i] = progs[i].name;

	/*
	 * The harness timeout follows the number of attempts: every attempt
	 * has its own deadline, so this is only a safety net.
	 */
	_hostile_mutations_object->timeout = 900 + n + n / 2 + 4 * t / 1000;
	return test_harness_run(argc, argv);
}
