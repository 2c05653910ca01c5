// SPDX-License-Identifier: GPL-2.0
/*
 * Mutation testing of CR_IOC_RESTART: hostile images.
 *
 * The test makes valid images itself, by starting real programs of progs/
 * (counter, fpu, files) and checkpointing them with crctl, then feeds
 * mutated copies of them to CR_IOC_RESTART.  The ioctl is called directly
 * (crctl's own validation never gets a look), in forked children that
 * first do what crctl restart does: chdir to the image's working directory
 * and move [vvar]/[vdso] to the image's addresses.  So the kernel's own
 * validation is what is exercised.  The image comes through a memfd or a
 * pipe, sometimes partly through the prefix of the ioctl struct; the log
 * through a pipe.
 *
 * Mutation classes (each attempt is tagged with one, see class_names[]):
 * single bit flips anywhere; byte flips inside each record type (header or
 * payload); fields set to interesting values; truncation at every record
 * boundary and at random offsets; record lengths off by one, by 8, huge or
 * zero; records swapped, duplicated or dropped; VMAs overlapping their
 * predecessor, moved past the image's TASK_SIZE, across the 47-bit
 * boundary (user space only with 5-level paging) or to kernel addresses;
 * inconsistent page counts; absurd sizes (groups count, path lengths,
 * xstate size, ...); and absurd prefix arguments of the ioctl struct.
 * About half of the image mutations get their checksums recomputed
 * (meta-end and tail, with the algorithm of Checksum in
 * image/src/format.rs, checked first against the real images), so that
 * they reach the semantic checks.
 *
 * Every attempt ends in one of:
 *  - an errno (EINVAL, EPERM, EOPNOTSUPP, ...) with a log line: refused
 *    before the point of no return;
 *  - SIGKILL with a log line: damage found after the point of no return;
 *  - restored: the child became the program.  Acceptable only for an image
 *    that is valid (unchanged bytes, or a consistent change with fixed
 *    checksums): "restored-ok" if the program then behaves (counter counts
 *    on, fpu ticks, files passes its self check), "restored-altered" if an
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
 *                          choices, not the images (those differ from run
 *                          to run), so every failure is printed with the
 *                          exact offsets and bytes it changed
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/cr.h>
#include "kselftest_harness.h"
#include "cr_test.h"

#define DEFAULT_N		1500
#define DEFAULT_TIMEOUT_MS	10000
#define DEFAULT_JOBS		2
#define MAX_JOBS		4
#define KILL_WAIT		5000	/* ms: a SIGKILLed child must be gone by then */
#define CHILD_MARK		"crh-child"	/* comm of a child before its ioctl */

/* Our comm: a child has it until it renames itself CHILD_MARK. */
static char my_comm[64];

/* Whether @comm is a child's own (not a restored program's). */
static bool own_comm(const char *comm)
{
	return !strcmp(comm, CHILD_MARK) || !strcmp(comm, my_comm);
}

/* The image format (Documentation/cr/image-format.rst, image/src/format.rs). */
#define IMAGE_MAGIC	"\177CRIMG\r\n"
#define MAGIC_LEN	8
#define HDR		8	/* record header: u32 type, u32 length */
#define PAGE		4096ULL
#define USER_47BIT	0x7ffffffff000ULL	/* TASK_SIZE without LA57 */

#define R_HEADER	1
#define R_TASK		100
#define R_GROUPS	101
#define R_CWD		102
#define R_RLIMITS	103
#define R_TREE		104	/* format versions with process trees */
#define R_THREAD	110
#define R_REGS		200
#define R_XSTATE	201
#define R_FILE		300
#define R_MM		400
#define R_VMA		401
#define R_PAGES		402
#define R_SIGNALS	600
#define R_META_END	900
#define R_TAIL		9001

/* Payload offsets. */
#define H_PAGE_SIZE	8
#define H_NR_TASKS	16
#define H_NSIG		36
#define H_XSTATE_SIZE	48
#define H_AUXV_WORDS	52
#define H_TASK_SIZE	64
#define T_UIDS		32
#define T_CAPS		64
#define T_COMM		112
#define V_START		0
#define V_END		8
#define V_NR_PAGES	32
#define V_KIND		44
#define F_PATH		32
#define MM_NR_VMAS	88
#define MM_AUXV_N	92
#define MM_AUXV		96
#define P_ADDR		0
#define P_NPAGES	8
#define P_DATA		16
#define ME_CKSUM	0
#define ME_TOTAL	8
#define TL_CKSUM	0
#define TL_TOTAL	8
#define TL_NRECS	16
#define VMA_KIND_VDSO	5
#define VMA_KIND_VVAR_VCLOCK 7

static const uint32_t rec_types[] = {
	R_HEADER, R_TREE, R_TASK, R_GROUPS, R_CWD, R_RLIMITS, R_THREAD, R_REGS, R_XSTATE,
	R_FILE, R_MM, R_VMA, R_PAGES, R_SIGNALS, R_META_END, R_TAIL,
};
#define NTYPES ARRAY_SIZE(rec_types)

static const char *type_name(uint32_t t)
{
	switch (t) {
	case R_HEADER: return "header";
	case R_TASK: return "task";
	case R_GROUPS: return "groups";
	case R_CWD: return "cwd";
	case R_RLIMITS: return "rlimits";
	case R_TREE: return "tree";
	case R_THREAD: return "thread";
	case R_REGS: return "regs";
	case R_XSTATE: return "xstate";
	case R_FILE: return "file";
	case R_MM: return "mm";
	case R_VMA: return "vma";
	case R_PAGES: return "pages";
	case R_SIGNALS: return "signals";
	case R_META_END: return "meta-end";
	case R_TAIL: return "tail";
	}
	return "?";
}

/*
 * Images with a tree record (multi-task formats) open each process with
 * its task record and give every thread its own regs and xstate records.
 */
static bool tree_format;

/* Singleton metadata records: the format allows them in any order. */
static bool meta_singleton(uint32_t t)
{
	switch (t) {
	case R_GROUPS: case R_CWD: case R_RLIMITS: case R_SIGNALS: case R_MM:
		return true;
	case R_TASK: case R_REGS: case R_XSTATE:
		return !tree_format;
	}
	return false;
}

/* ------------------------------------------------------------ classes */

enum cls {
	C_BITFLIP,
	C_BYTE,				/* + index in rec_types */
	C_FIELD = C_BYTE + NTYPES,	/* + index in rec_types */
	C_TRUNC_REC = C_FIELD + NTYPES,
	C_TRUNC_RAND,
	C_LEN_P1,
	C_LEN_M1,
	C_LEN_P8,
	C_LEN_M8,
	C_LEN_HUGE,
	C_LEN_ZERO,
	C_SWAP,
	C_DUP,
	C_DROP,
	C_VMA_OVERLAP,
	C_VMA_HIGH,
	C_VMA_47,
	C_VMA_KERNEL,
	C_VMA_NR,
	C_VMA_NR_TOTAL,
	C_PAGES_NPAGES,
	C_PAGES_RESIZE,
	C_PAGES_ADDR,
	C_META_TOTAL,
	C_ABSURD,
	C_IOCTL,
	NCLASSES
};

static char class_names[NCLASSES][32];

static void init_class_names(void)
{
	static const char *fixed[] = {
		[C_TRUNC_REC] = "trunc:record-boundary",
		[C_TRUNC_RAND] = "trunc:random",
		[C_LEN_P1] = "len:+1",
		[C_LEN_M1] = "len:-1",
		[C_LEN_P8] = "len:+8",
		[C_LEN_M8] = "len:-8",
		[C_LEN_HUGE] = "len:0xffffffff",
		[C_LEN_ZERO] = "len:0",
		[C_SWAP] = "reorder:swap-adjacent",
		[C_DUP] = "reorder:duplicate",
		[C_DROP] = "reorder:drop",
		[C_VMA_OVERLAP] = "vma:overlap",
		[C_VMA_HIGH] = "vma:beyond-task-size",
		[C_VMA_47] = "vma:47-bit-boundary",
		[C_VMA_KERNEL] = "vma:kernel-address",
		[C_VMA_NR] = "pages:vma-nr_pages+-1",
		[C_VMA_NR_TOTAL] = "pages:vma-nr+-1,total-fixed",
		[C_PAGES_NPAGES] = "pages:npages+-1",
		[C_PAGES_RESIZE] = "pages:npages+-1,len-fixed",
		[C_PAGES_ADDR] = "pages:addr-moved",
		[C_META_TOTAL] = "pages:meta-end-total+-1",
		[C_ABSURD] = "absurd-size",
		[C_IOCTL] = "ioctl-args",
	};
	size_t i;

	snprintf(class_names[C_BITFLIP], sizeof(class_names[0]), "bitflip");
	for (i = 0; i < NTYPES; i++) {
		snprintf(class_names[C_BYTE + i], sizeof(class_names[0]),
			 "byte:%s", type_name(rec_types[i]));
		snprintf(class_names[C_FIELD + i], sizeof(class_names[0]),
			 "field:%s", type_name(rec_types[i]));
	}
	for (i = C_TRUNC_REC; i < NCLASSES; i++)
		snprintf(class_names[i], sizeof(class_names[0]), "%s", fixed[i]);
}

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

/* ------------------------------------------------------------ helpers */

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

/* xorshift64*: reproducible from the printed seed. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n); 0 if n is 0. */
static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(int percent)
{
	return below(100) < (uint64_t)percent;
}

/*
 * The image checksum, Checksum in image/src/format.rs: four multiply-xor
 * lanes over 8-byte little-endian words (32-byte blocks), the last partial
 * block zero-padded and always mixed in, folded with the total length.
 */
#define CK_MUL 0x9E3779B97F4A7C15ULL
static const uint64_t ck_seed[4] = {
	0x243F6A8885A308D3ULL, 0x13198A2E03707344ULL,
	0xA4093822299F31D0ULL, 0x082EFA98EC4E6C89ULL,
};

static uint64_t ck_mix(uint64_t lane, uint64_t w)
{
	uint64_t x = (lane ^ w) * CK_MUL;

	return x ^ (x >> 29);
}

static uint64_t checksum(const uint8_t *p, size_t n)
{
	uint64_t lanes[4], h;
	uint8_t tail[32] = { 0 };
	size_t i = 0;
	int l;

	memcpy(lanes, ck_seed, sizeof(lanes));
	for (; i + 32 <= n; i += 32)
		for (l = 0; l < 4; l++)
			lanes[l] = ck_mix(lanes[l], get64(p + i + 8 * l));
	memcpy(tail, p + i, n - i);
	for (l = 0; l < 4; l++)
		lanes[l] = ck_mix(lanes[l], get64(tail + 8 * l));
	h = (uint64_t)n * CK_MUL;
	for (l = 0; l < 4; l++)
		h = ck_mix((h << 17) | (h >> 47), lanes[l]);
	return h;
}

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
};

/*
 * Starts @argv in the scratch directory, stdout on a pipe, stdin and
 * stderr /dev/null.
 */
static bool spawn(struct cr_env *env, struct prog *p, char *const argv[])
{
	int out[2], null;

	if (pipe2(out, O_CLOEXEC))
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
		child_stdio(null, out[1], null);
		if (chdir(env->dir))
			_exit(125);
		execv(argv[0], argv);
		_exit(127);
	}
	kid_add(env, p->pid);
	close(out[1]);
	close(null);
	p->out.fd = out[0];
	p->out.len = 0;
	fcntl(p->out.fd, F_SETFL, O_NONBLOCK);
	return true;
}

/* ------------------------------------------------------------ images */

enum { P_COUNTER, P_FPU, P_FILES, NPROGS };
static const char *prog_names[NPROGS] = { "counter", "fpu", "files" };

struct rec {
	size_t off;
	uint32_t type;
	uint32_t len;
};

#define MAX_RECS 8192

struct image {
	bool present;
	int prog;
	uint8_t *buf;
	size_t len;
	struct rec *recs;
	int nrecs;
	int me, tail;		/* indices of the meta-end and tail records */
	int nvmas;
	uint64_t task_size;	/* from the header */
	uint64_t vdso_lo, vdso_hi;
	char cwd[PATH_MAX];
};

/*
 * Parses a valid image into its records; false (with a message) if it is
 * not well formed.
 */
static bool parse_image(struct image *im, char *why, size_t size)
{
	size_t off = MAGIC_LEN;
	uint32_t type, len, kind, plen;
	const uint8_t *v;

	im->nrecs = 0;
	im->me = im->tail = -1;
	im->nvmas = 0;
	im->vdso_lo = im->vdso_hi = 0;
	im->cwd[0] = 0;
	if (im->len < MAGIC_LEN || memcmp(im->buf, IMAGE_MAGIC, MAGIC_LEN)) {
		snprintf(why, size, "no magic");
		return false;
	}
	while (off + HDR <= im->len && im->nrecs < MAX_RECS) {
		type = get32(im->buf + off);
		len = get32(im->buf + off + 4);
		if (len < HDR || len % 8 || len > im->len - off) {
			snprintf(why, size, "record %u at %zu: length %u", type, off, len);
			return false;
		}
		im->recs[im->nrecs++] = (struct rec){ off, type, len };
		v = im->buf + off + HDR;
		if (type == R_HEADER && len >= HDR + H_TASK_SIZE + 8) {
			im->task_size = get64(v + H_TASK_SIZE);
		} else if (type == R_VMA) {
			im->nvmas++;
			kind = get32(v + V_KIND);
			if (kind >= VMA_KIND_VDSO && kind <= VMA_KIND_VVAR_VCLOCK) {
				if (!im->vdso_lo || get64(v + V_START) < im->vdso_lo)
					im->vdso_lo = get64(v + V_START);
				if (get64(v + V_END) > im->vdso_hi)
					im->vdso_hi = get64(v + V_END);
			}
		} else if (type == R_CWD) {
			plen = get32(v);
			if (plen >= sizeof(im->cwd) || 4 + plen > len - HDR) {
				snprintf(why, size, "cwd length %u", plen);
				return false;
			}
			memcpy(im->cwd, v + 4, plen);
			im->cwd[plen] = 0;
		} else if (type == R_META_END && im->me < 0) {
			im->me = im->nrecs - 1;
		} else if (type == R_TAIL) {
			im->tail = im->nrecs - 1;
		}
		off += len;
	}
	if (off != im->len || im->tail != im->nrecs - 1 || im->me < 0 ||
	    !im->vdso_lo || !im->cwd[0] || im->task_size < USER_47BIT) {
		snprintf(why, size, "ends at %zu of %zu, tail %d, meta-end %d, vdso %#" PRIx64 ", cwd '%s'",
			 off, im->len, im->tail, im->me, im->vdso_lo, im->cwd);
		return false;
	}
	return true;
}

/* Indices of the records of type @t in @im: up to @max into @idx. */
static int records_of(const struct image *im, uint32_t t, int *idx, int max)
{
	int i, n = 0;

	for (i = 0; i < im->nrecs; i++)
		if (im->recs[i].type == t && n < max)
			idx[n++] = i;
	return n;
}

/* A random record of type @t, or -1. */
static int pick_record(const struct image *im, uint32_t t)
{
	int idx[MAX_RECS], n = records_of(im, t, idx, MAX_RECS);

	return n ? idx[below(n)] : -1;
}

/*
 * Offset of the path length in the payload of vma record @i: the path ends
 * the record, after a fixed part whose size depends on the format version
 * (52 bytes, or 56 with a shared-memory id).  -1 if neither fits.
 */
static int vma_path_off(const struct image *im, int i)
{
	static const int offs[] = { 56, 52 };
	const uint8_t *p = im->buf + im->recs[i].off + HDR;
	size_t len = im->recs[i].len - HDR, n;
	size_t k;

	for (k = 0; k < ARRAY_SIZE(offs); k++) {
		if ((size_t)offs[k] + 4 > len)
			continue;
		n = get32(p + offs[k]);
		if (n > len || ((offs[k] + 4 + n + 7) & ~7UL) != len)
			continue;
		if (n && p[offs[k] + 4] != '/')
			continue;
		return offs[k];
	}
	return -1;
}

/* ------------------------------------------------------------ mutations */

struct mutation {
	int img;
	int cls;
	char desc[256];
	uint8_t *buf;
	size_t len;
	size_t me_off, tail_off;	/* where the first meta-end and tail are */
	size_t nrecs;			/* records of the mutated image */
	bool fix;			/* recompute the checksums */
	bool fix_counts;		/* ...and the tail's length and count */
	bool fixed;			/* they were recomputed */
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

/* Assembles records of @im in the order @order (@n of them) into @m. */
static bool assemble(const struct image *im, const int *order, int n,
		     struct mutation *m)
{
	size_t len = MAGIC_LEN, off;
	int i;

	for (i = 0; i < n; i++)
		len += im->recs[order[i]].len;
	m->buf = malloc(len + 64);
	if (!m->buf)
		return false;
	memcpy(m->buf, im->buf, MAGIC_LEN);
	off = MAGIC_LEN;
	m->me_off = m->tail_off = SIZE_MAX;
	for (i = 0; i < n; i++) {
		const struct rec *r = &im->recs[order[i]];

		memcpy(m->buf + off, im->buf + r->off, r->len);
		if (r->type == R_META_END && m->me_off == SIZE_MAX)
			m->me_off = off;
		if (r->type == R_TAIL && m->tail_off == SIZE_MAX)
			m->tail_off = off;
		off += r->len;
	}
	m->len = len;
	m->nrecs = n;
	return true;
}

static bool assemble_same(const struct image *im, struct mutation *m)
{
	int order[MAX_RECS], i;

	for (i = 0; i < im->nrecs; i++)
		order[i] = i;
	return assemble(im, order, im->nrecs, m);
}

/* Offset of record @i's payload in an identity-assembled mutation. */
static size_t pl(const struct image *im, int i)
{
	return im->recs[i].off + HDR;
}

/* Whether [a, a + n) overlaps a checksum field the fix-up rewrites. */
static bool touches_checksums(const struct mutation *m, size_t a, size_t n)
{
	size_t me = m->me_off, tl = m->tail_off;

	if (me != SIZE_MAX && a < me + HDR + ME_CKSUM + 8 && a + n > me + HDR + ME_CKSUM)
		return true;
	if (tl != SIZE_MAX && a < tl + HDR + 24 && a + n > tl + HDR)
		return true;
	return false;
}

/* Recomputes the meta-end and tail checksums of @m, where they are. */
static void fixup(struct mutation *m)
{
	if (m->me_off != SIZE_MAX && m->me_off + HDR + 16 <= m->len)
		put64(m->buf + m->me_off + HDR + ME_CKSUM, checksum(m->buf, m->me_off));
	if (m->tail_off != SIZE_MAX && m->tail_off + HDR + 24 <= m->len) {
		if (m->fix_counts) {
			put64(m->buf + m->tail_off + HDR + TL_TOTAL, m->tail_off + HDR + 24);
			put64(m->buf + m->tail_off + HDR + TL_NRECS, m->nrecs);
		}
		put64(m->buf + m->tail_off + HDR + TL_CKSUM, checksum(m->buf, m->tail_off));
	}
	m->fixed = true;
}

static const uint64_t interesting[] = {
	0, 1, 2, 7, 8, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x10000,
	0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
	0x7ffffffff000ULL, 0x800000000000ULL, 0xffff800000000000ULL,
	0xffffffffff600000ULL, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
	0xfffffffffffff000ULL, 0xffffffffffffffffULL,
};

/* Sets a byte range of @m, noting it in the description. */
static void set_bytes(struct mutation *m, size_t off, uint64_t v, int width)
{
	char *d = m->desc + strlen(m->desc);
	size_t left = sizeof(m->desc) - (d - m->desc);
	uint64_t old;

	if (off + width > m->len)
		return;
	old = width == 8 ? get64(m->buf + off) : width == 4 ? get32(m->buf + off) : m->buf[off];
	if (width < 8)
		v &= (1ULL << (8 * width)) - 1;
	if (width == 8)
		put64(m->buf + off, v);
	else if (width == 4)
		put32(m->buf + off, v);
	else
		m->buf[off] = v;
	snprintf(d, left, " @%zu[%d]: %#" PRIx64 "->%#" PRIx64, off, width, old, v);
}

static void say(struct mutation *m, const char *fmt, ...)
{
	size_t n = strlen(m->desc);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->desc + n, sizeof(m->desc) - n, fmt, ap);
	va_end(ap);
}

/* Random byte offset in record @i: header (25%) or payload. */
static size_t byte_in_record(const struct image *im, int i)
{
	const struct rec *r = &im->recs[i];

	if (r->len == HDR || chance(25))
		return r->off + below(HDR);
	if (r->type == R_PAGES && chance(50))
		return r->off + HDR + below(P_DATA);
	return r->off + HDR + below(r->len - HDR);
}

/* Picks a random image record of any type present, weighted by type. */
static int pick_any_type(const struct image *im, uint32_t *type)
{
	int i, tries;

	for (tries = 0; tries < 100; tries++) {
		*type = rec_types[below(NTYPES)];
		i = pick_record(im, *type);
		if (i >= 0)
			return i;
	}
	*type = im->recs[0].type;
	return 0;
}

/*
 * Makes mutation @m of image @im: class @cls (-1: random), @arg for the
 * enumerated classes.  Returns false if the class does not apply.
 */
static bool make_mutation(const struct image *im, int cls, int arg,
			  struct mutation *m)
{
	int order[MAX_RECS], i, j, n, w;
	uint32_t t;
	size_t off;
	uint64_t v;

	m->cls = cls;
	m->desc[0] = 0;
	m->fix = false;
	m->fix_counts = false;
	m->expect_reject = true;
	m->raw_prefix = false;
	m->must_restore = false;

	switch (cls) {
	case C_BITFLIP:
		if (!assemble_same(im, m))
			return false;
		/* Half of them in the metadata, where the parsing is. */
		off = chance(50) ? below(m->me_off + HDR + 16) : below(m->len);
		m->fix = chance(50) && !touches_checksums(m, off, 1);
		m->expect_reject = false;
		v = 1u << below(8);
		say(m, "flip bit %d", __builtin_ctzll(v));
		set_bytes(m, off, m->buf[off] ^ v, 1);
		return true;

	case C_TRUNC_REC:
		if (arg < 0 || arg > im->nrecs || !assemble_same(im, m))
			return false;
		m->len = arg < im->nrecs ? im->recs[arg].off : MAGIC_LEN;
		if (arg == im->nrecs)	/* also: the magic alone... */
			m->len = below(2) ? MAGIC_LEN : 0;
		say(m, "truncated to %zu bytes (before record %d, %s)", m->len,
		    arg, arg < im->nrecs ? type_name(im->recs[arg].type) : "-");
		return true;

	case C_TRUNC_RAND:
		if (!assemble_same(im, m))
			return false;
		/* Half of them near a record boundary (inside a header). */
		if (chance(50)) {
			i = below(im->nrecs);
			m->len = im->recs[i].off + below(HDR + 8);
		} else {
			m->len = below(m->len);
		}
		if (m->len >= im->len)
			m->len = im->len - 1;
		say(m, "truncated to %zu of %zu bytes", m->len, im->len);
		return true;

	case C_LEN_P1: case C_LEN_M1: case C_LEN_P8: case C_LEN_M8:
	case C_LEN_HUGE: case C_LEN_ZERO:
		if (!assemble_same(im, m))
			return false;
		i = pick_any_type(im, &t);
		v = im->recs[i].len;
		v = cls == C_LEN_P1 ? v + 1 : cls == C_LEN_M1 ? v - 1 :
		    cls == C_LEN_P8 ? v + 8 : cls == C_LEN_M8 ? v - 8 :
		    cls == C_LEN_HUGE ? 0xffffffff : 0;
		m->fix = chance(50) && t != R_META_END && t != R_TAIL;
		say(m, "%s record %d length", type_name(t), i);
		set_bytes(m, im->recs[i].off + 4, v, 4);
		return true;

	case C_SWAP:
		if (im->nrecs < 2)
			return false;
		i = below(im->nrecs - 1);
		for (j = 0; j < im->nrecs; j++)
			order[j] = j;
		order[i] = i + 1;
		order[i + 1] = i;
		if (!assemble(im, order, im->nrecs, m))
			return false;
		m->fix = chance(50);
		/* Singleton metadata records may come in any order. */
		m->expect_reject = !(meta_singleton(im->recs[i].type) &&
				     meta_singleton(im->recs[i + 1].type));
		say(m, "swap records %d (%s) and %d (%s)", i,
		    type_name(im->recs[i].type), i + 1, type_name(im->recs[i + 1].type));
		return true;

	case C_DUP:
		i = below(im->nrecs);
		for (j = 0, n = 0; j < im->nrecs; j++) {
			order[n++] = j;
			if (j == i)
				order[n++] = j;
		}
		if (!assemble(im, order, n, m))
			return false;
		m->fix = chance(50);
		/* A second tail after the tail is never read. */
		m->expect_reject = im->recs[i].type != R_TAIL;
		m->fix_counts = m->expect_reject;
		say(m, "duplicate record %d (%s)", i, type_name(im->recs[i].type));
		return true;

	case C_DROP:
		i = below(im->nrecs);
		for (j = 0, n = 0; j < im->nrecs; j++)
			if (j != i)
				order[n++] = j;
		if (!assemble(im, order, n, m))
			return false;
		m->fix = chance(50);
		m->fix_counts = true;
		/* Without an fd record the image is still valid. */
		m->expect_reject = im->recs[i].type != R_FILE;
		say(m, "drop record %d (%s)", i, type_name(im->recs[i].type));
		return true;

	case C_VMA_OVERLAP: {
		int idx[MAX_RECS];

		n = records_of(im, R_VMA, idx, MAX_RECS);
		if (n < 2 || !assemble_same(im, m))
			return false;
		j = 1 + below(n - 1);
		i = idx[j];
		m->fix = chance(50);
		say(m, "vma record %d", i);
		switch (below(3)) {
		case 0:	/* starts inside its predecessor */
			set_bytes(m, pl(im, i) + V_START,
				  get64(im->buf + pl(im, idx[j - 1]) + V_END) - PAGE, 8);
			break;
		case 1:	/* same start as its predecessor */
			set_bytes(m, pl(im, i) + V_START,
				  get64(im->buf + pl(im, idx[j - 1]) + V_START), 8);
			break;
		default: /* the predecessor ends inside it */
			set_bytes(m, pl(im, idx[j - 1]) + V_END,
				  get64(im->buf + pl(im, i) + V_START) + PAGE, 8);
			break;
		}
		return true;
	}

	case C_VMA_HIGH: case C_VMA_47: case C_VMA_KERNEL: {
		/* The image's TASK_SIZE: 47 bits, or 56 with 5-level paging. */
		const uint64_t ts = im->task_size;
		const uint64_t high[][2] = {
			{ ts, ts + PAGE },
			{ ts - PAGE, ts + PAGE },
			{ ts + PAGE, ts + 2 * PAGE },
			{ 0, ts + PAGE },
			{ ts - 16 * PAGE, ts + 16 * PAGE },
		};
		/* Past a 47-bit address space: user space only with LA57. */
		const uint64_t b47[][2] = {
			{ USER_47BIT, USER_47BIT + PAGE },
			{ USER_47BIT - PAGE, USER_47BIT + PAGE },
			{ 0x7ffffffff000ULL, 0x800000000000ULL },
			{ 0x800000000000ULL, 0x800000001000ULL },
			{ 0x7fffffff0000ULL, 0x800000010000ULL },
		};
		static const uint64_t kern[][2] = {
			{ 0xffff800000000000ULL, 0xffff800000001000ULL },
			{ 0xffff888000000000ULL, 0xffff888000010000ULL },
			{ 0xffffffff81000000ULL, 0xffffffff81001000ULL },
			{ 0xfffffffffffff000ULL, 0 },
			{ 0xffffffffff600000ULL, 0xffffffffff601000ULL },
		};
		const uint64_t (*tab)[2] = cls == C_VMA_HIGH ? high : cls == C_VMA_47 ? b47 : kern;
		uint64_t start, end;

		i = pick_record(im, R_VMA);
		if (i < 0 || !assemble_same(im, m))
			return false;
		j = below(5);
		m->fix = chance(50);
		say(m, "vma record %d", i);
		start = get64(im->buf + pl(im, i) + V_START);
		if (chance(50)) {	/* start and end */
			start = tab[j][0];
			end = tab[j][1];
			set_bytes(m, pl(im, i) + V_START, start, 8);
		} else {		/* the end only */
			end = tab[j][1] ? tab[j][1] : tab[j][0];
		}
		set_bytes(m, pl(im, i) + V_END, end, 8);
		/*
		 * Beyond TASK_SIZE or empty: invalid.  Else (47-bit boundary
		 * with LA57) it might be a valid move of a page-less vma.
		 */
		m->expect_reject = end > ts || start >= end;
		return true;
	}

	case C_VMA_NR: case C_VMA_NR_TOTAL:
		i = pick_record(im, R_VMA);
		if (i < 0 || !assemble_same(im, m))
			return false;
		v = get64(im->buf + pl(im, i) + V_NR_PAGES);
		w = (v == 0 || chance(50)) ? 1 : -1;
		m->fix = cls == C_VMA_NR_TOTAL || chance(50);
		say(m, "vma record %d nr_pages", i);
		set_bytes(m, pl(im, i) + V_NR_PAGES, v + w, 8);
		if (cls == C_VMA_NR_TOTAL) {
			say(m, ", meta-end total");
			set_bytes(m, m->me_off + HDR + ME_TOTAL,
				  get64(im->buf + pl(im, im->me) + ME_TOTAL) + w, 8);
		}
		return true;

	case C_PAGES_NPAGES:
		i = pick_record(im, R_PAGES);
		if (i < 0 || !assemble_same(im, m))
			return false;
		v = get32(im->buf + pl(im, i) + P_NPAGES);
		m->fix = chance(50);
		say(m, "pages record %d npages", i);
		set_bytes(m, pl(im, i) + P_NPAGES, chance(50) ? v + 1 : v - 1, 4);
		return true;

	case C_PAGES_RESIZE: {
		/* npages and the record length agree, but not with the vmas. */
		const struct rec *r;
		bool grow = chance(50);

		i = pick_record(im, R_PAGES);
		if (i < 0)
			return false;
		r = &im->recs[i];
		if (!grow && get32(im->buf + r->off + HDR + P_NPAGES) < 2)
			grow = true;
		m->buf = malloc(im->len + PAGE + 64);
		if (!m->buf)
			return false;
		off = r->off + r->len;
		memcpy(m->buf, im->buf, off);
		if (grow) {
			memset(m->buf + off, 0xa5, PAGE);
			memcpy(m->buf + off + PAGE, im->buf + off, im->len - off);
			m->len = im->len + PAGE;
		} else {
			memcpy(m->buf + off - PAGE, im->buf + off, im->len - off);
			m->len = im->len - PAGE;
		}
		m->me_off = im->recs[im->me].off;
		m->tail_off = m->len - im->recs[im->tail].len;
		m->nrecs = im->nrecs;
		m->fix = chance(70);
		m->fix_counts = true;
		say(m, "pages record %d %s by a page (len and npages)", i,
		    grow ? "grown" : "shrunk");
		set_bytes(m, r->off + 4, r->len + (grow ? PAGE : -PAGE), 4);
		v = get32(im->buf + r->off + HDR + P_NPAGES);
		set_bytes(m, r->off + HDR + P_NPAGES, grow ? v + 1 : v - 1, 4);
		return true;
	}

	case C_PAGES_ADDR: {
		static const int64_t delta[] = { PAGE, -(int64_t)PAGE, 16 * PAGE,
						 -16 * (int64_t)PAGE, 1 << 30, 8 };

		i = pick_record(im, R_PAGES);
		if (i < 0 || !assemble_same(im, m))
			return false;
		v = get64(im->buf + pl(im, i) + P_ADDR);
		m->fix = chance(50);
		say(m, "pages record %d addr", i);
		if (chance(20))
			set_bytes(m, pl(im, i) + P_ADDR, interesting[below(ARRAY_SIZE(interesting))], 8);
		else
			set_bytes(m, pl(im, i) + P_ADDR, v + delta[below(ARRAY_SIZE(delta))], 8);
		/* Moving a page within its vma may well be valid. */
		m->expect_reject = false;
		return true;
	}

	case C_META_TOTAL:
		if (!assemble_same(im, m))
			return false;
		v = get64(im->buf + pl(im, im->me) + ME_TOTAL);
		m->fix = chance(50);
		say(m, "meta-end total_pages");
		set_bytes(m, m->me_off + HDR + ME_TOTAL, chance(50) ? v + 1 : v - 1, 8);
		return true;

	case C_ABSURD:
		if (!assemble_same(im, m))
			return false;
		m->fix = chance(70);
		switch (below(16)) {
		case 14:
			i = pick_record(im, R_TREE);
			if (i < 0)
				return false;
			say(m, "tree count");
			set_bytes(m, pl(im, i), chance(50) ? 0xffffffff : 4097, 4);
			break;
		case 15:
			say(m, "header nr_tasks");
			set_bytes(m, pl(im, 0) + H_NR_TASKS, chance(50) ? 0xffffffff : 4097, 4);
			break;
		case 0:
			i = pick_record(im, R_GROUPS);
			say(m, "groups count");
			set_bytes(m, pl(im, i), chance(50) ? 0xffffffff : 65537, 4);
			break;
		case 1:
			i = pick_record(im, R_CWD);
			say(m, "cwd path length");
			set_bytes(m, pl(im, i), chance(50) ? 0xffffffff : 4096, 4);
			break;
		case 2:
			i = pick_record(im, R_VMA);
			if (vma_path_off(im, i) < 0)
				return false;
			say(m, "vma record %d path length", i);
			set_bytes(m, pl(im, i) + vma_path_off(im, i),
				  chance(50) ? 0xffffffff : 4095, 4);
			break;
		case 3:
			i = pick_record(im, R_FILE);
			if (i < 0)
				return false;
			say(m, "file record %d path length", i);
			set_bytes(m, pl(im, i) + F_PATH, chance(50) ? 0xffffffff : 4095, 4);
			break;
		case 4:
			i = pick_record(im, R_MM);
			off = pl(im, i) + MM_AUXV + 8ULL * get32(im->buf + pl(im, i) + MM_AUXV_N);
			say(m, "mm exe path length");
			set_bytes(m, off, chance(50) ? 0xffffffff : 4095, 4);
			break;
		case 5:
			i = pick_record(im, R_XSTATE);
			say(m, "xstate size");
			set_bytes(m, pl(im, i), chance(50) ? 0xffffffff : 0x10008, 4);
			break;
		case 6:
			say(m, "header xstate_size");
			set_bytes(m, pl(im, 0) + H_XSTATE_SIZE, chance(50) ? 0xffffffff : 0x10000, 4);
			break;
		case 7:
			i = pick_record(im, R_MM);
			say(m, "mm nr_vmas");
			set_bytes(m, pl(im, i) + MM_NR_VMAS, chance(50) ? 0xffffffff : 65537, 4);
			break;
		case 8:
			i = pick_record(im, R_MM);
			say(m, "mm auxv count");
			set_bytes(m, pl(im, i) + MM_AUXV_N, 0xffffffff, 4);
			break;
		case 9:
			say(m, "header auxv_words");
			set_bytes(m, pl(im, 0) + H_AUXV_WORDS, chance(50) ? 0xffffffff : 129, 4);
			break;
		case 10:
			i = pick_record(im, R_PAGES);
			say(m, "pages record %d npages", i);
			set_bytes(m, pl(im, i) + P_NPAGES, chance(50) ? 0xffffffff : 1025, 4);
			break;
		case 11:
			say(m, "header page_size");
			set_bytes(m, pl(im, 0) + H_PAGE_SIZE, chance(50) ? 0x80000000 : 1 << 17, 4);
			break;
		case 12:
			say(m, "header nsig");
			set_bytes(m, pl(im, 0) + H_NSIG, 0xffffffff, 4);
			break;
		default:
			i = pick_record(im, R_VMA);
			say(m, "vma record %d nr_pages", i);
			set_bytes(m, pl(im, i) + V_NR_PAGES, chance(50) ? ~0ULL : 1ULL << 40, 8);
			break;
		}
		return true;

	case C_IOCTL:
		if (!assemble_same(im, m))
			return false;
		m->raw_prefix = true;
		m->expect_reject = true;
		switch (below(7)) {
		case 0:
			m->prefix_ptr_off = 0;
			m->prefix_len = ~0ULL;
			say(m, "prefix_len 0xffffffffffffffff");
			break;
		case 1:
			m->prefix_ptr_off = 0;
			m->prefix_len = (64ULL << 20) + 1;
			say(m, "prefix_len 64 MiB + 1");
			break;
		case 2:
			m->prefix_ptr_off = 0;
			m->prefix_len = 64ULL << 20;
			say(m, "prefix_len 64 MiB over a %zu-byte buffer", m->len);
			break;
		case 3:
			m->prefix_ptr_abs = true;
			m->prefix_ptr_off = 0xffffffff81000000ULL;
			m->prefix_len = 4096;
			say(m, "prefix at a kernel address");
			break;
		case 4:
			m->prefix_ptr_abs = true;
			m->prefix_ptr_off = 0;
			m->prefix_len = 8;
			say(m, "prefix NULL, length 8");
			break;
		case 5:
			m->prefix_ptr_off = 1;
			m->prefix_len = m->len - 1;
			say(m, "prefix one byte off");
			break;
		default:
			/* The whole image in the prefix, nothing in the fd: valid. */
			m->prefix_ptr_off = 0;
			m->prefix_len = m->len;
			m->expect_reject = false;
			m->must_restore = true;
			say(m, "whole image as prefix, empty fd");
			break;
		}
		return true;
	}

	if (cls >= C_BYTE && cls < C_BYTE + (int)NTYPES) {
		t = rec_types[cls - C_BYTE];
		i = pick_record(im, t);
		if (i < 0 || !assemble_same(im, m))
			return false;
		off = byte_in_record(im, i);
		v = 1 + below(255);
		m->fix = chance(50) && !touches_checksums(m, off, 1);
		m->expect_reject = false;
		say(m, "%s record %d byte %zu xor %#" PRIx64, type_name(t), i,
		    off - im->recs[i].off, v);
		set_bytes(m, off, m->buf[off] ^ v, 1);
		return true;
	}
	if (cls >= C_FIELD && cls < C_FIELD + (int)NTYPES) {
		const struct rec *r;

		t = rec_types[cls - C_FIELD];
		i = pick_record(im, t);
		if (i < 0 || !assemble_same(im, m))
			return false;
		r = &im->recs[i];
		if (r->len == HDR)
			return false;
		w = chance(50) ? 8 : 4;
		n = t == R_PAGES ? P_DATA : r->len - HDR;
		if (n < w)
			w = 4;
		off = r->off + HDR + (below((n - w) / 4 + 1) * 4);
		if (w == 8 && off % 8)
			off -= 4;
		v = chance(75) ? interesting[below(ARRAY_SIZE(interesting))] :
		    (w == 8 ? get64(im->buf + off) : get32(im->buf + off)) +
		    (chance(50) ? 1 : -1);
		if (w == 4)
			v &= 0xffffffff;
		/* A change, always. */
		if (v == (w == 8 ? get64(im->buf + off) : get32(im->buf + off)))
			v ^= 1ULL << below(8 * w);
		m->fix = chance(60) && !touches_checksums(m, off, w);
		m->expect_reject = false;
		say(m, "%s record %d field +%zu", type_name(t), i, off - r->off - HDR);
		set_bytes(m, off, v, w);
		return true;
	}
	return false;
}

/* Weighted random class. */
static int random_class(void)
{
	static const struct { int cls; int weight; } w[] = {
		{ C_BITFLIP, 14 }, { C_BYTE, 18 }, { C_FIELD, 16 },
		{ C_TRUNC_RAND, 4 }, { C_LEN_P1, 1 }, { C_LEN_M1, 1 },
		{ C_LEN_P8, 2 }, { C_LEN_M8, 2 }, { C_LEN_HUGE, 1 },
		{ C_LEN_ZERO, 1 }, { C_SWAP, 4 }, { C_DUP, 3 }, { C_DROP, 3 },
		{ C_VMA_OVERLAP, 3 }, { C_VMA_HIGH, 2 }, { C_VMA_47, 1 }, { C_VMA_KERNEL, 2 },
		{ C_VMA_NR, 2 }, { C_VMA_NR_TOTAL, 2 }, { C_PAGES_NPAGES, 2 },
		{ C_PAGES_RESIZE, 2 }, { C_PAGES_ADDR, 2 }, { C_META_TOTAL, 1 },
		{ C_ABSURD, 6 }, { C_IOCTL, 2 },
	};
	int total = 0, r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(w); i++)
		total += w[i].weight;
	r = below(total);
	for (i = 0; i < ARRAY_SIZE(w); i++) {
		if (r < w[i].weight)
			break;
		r -= w[i].weight;
	}
	if (w[i].cls == C_BYTE || w[i].cls == C_FIELD)
		return w[i].cls + below(NTYPES);
	return w[i].cls;
}

/* Finishes @m: checksums, delivery (prefix, pipe), what differs. */
static void finish_mutation(const struct image *im, struct mutation *m)
{
	size_t i, n;

	if (m->fix)
		fixup(m);
	n = m->len < im->len ? m->len : im->len;
	for (i = 0; i < n && m->buf[i] == im->buf[i]; i++)
		;
	m->first_diff = i;
	if (!m->raw_prefix) {
		m->prefix = chance(25) ? below(m->len + 1) : 0;
		m->use_pipe = chance(30);
	} else {
		m->prefix = 0;
		m->use_pipe = false;
	}
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
	bool restored, behaved, bad, usr1;
	int good;
	long last;
	char why[160];			/* what the restored program did */
	char first[64];			/* its first line */
};

struct stats {
	int count[NCLASSES][NOUTCOMES];
	int tried[NCLASSES];
	int fixed[NCLASSES];
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
};

/* In the child: what crctl restart does, then the ioctl. */
static void attempt_child(FIXTURE_DATA(hostile) *self, const struct image *im,
			  const struct mutation *m, int imgfd, int logfd,
			  int outfd, int errfd)
{
	struct cr_restart_args args;
	int null, dev;

	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	child_stdio(null, outfd, errfd);
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
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.fd = imgfd;
	args.logfd = logfd;
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
	int out[2], logp[2], errp[2], imgfd, pfd[2] = { -1, -1 };
	size_t from = m->prefix, rest;

	memset(s, 0, sizeof(*s));
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
	fflush(stdout);
	fflush(stderr);
	s->pid = fork();
	if (s->pid < 0)
		return false;
	if (s->pid == 0) {
		/* Keep the image and log fds across the ioctl only. */
		if (fcntl(imgfd, F_SETFD, 0) || fcntl(logp[1], F_SETFD, 0))
			_exit(204);
		attempt_child(self, im, m, imgfd, logp[1], out[1], errp[1]);
	}
	kid_add(&self->env, s->pid);
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
	switch (im->prog) {
	case P_COUNTER:
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
	case P_FPU:
		if (strcmp(line, "tick")) {
			s->bad = true;
			snprintf(s->why, sizeof(s->why), "printed \"%.40s\"", line);
			return;
		}
		if (++s->good >= 2)
			s->behaved = true;
		return;
	case P_FILES:
		if (strcmp(line, "OK")) {
			s->bad = true;
			snprintf(s->why, sizeof(s->why), "printed \"%.60s\"", line);
			return;
		}
		s->behaved = true;
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
	if (s->restored && im->prog == P_FILES && !s->usr1 &&
	    catches(s->pid, SIGUSR1)) {
		/* Its handler is in place: the restored program checks itself. */
		kill(s->pid, SIGUSR1);
		s->usr1 = true;
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

/*
 * Starts program @prog in the scratch directory, waits until it is well
 * under way, checkpoints it with crctl into @path and kills it.  Returns
 * false with a message in @why, or (true, image absent) for a skip.
 */
static bool make_image(struct __test_metadata *_metadata,
		       FIXTURE_DATA(hostile) *self, int prog, const char *path,
		       char *why, size_t size)
{
	char exe[PATH_MAX + 32], rfile[PATH_MAX + 32], line[256], err[2048], how[64];
	char pidstr[16], *ckpt[] = { "crctl", "checkpoint", "-o", (char *)path,
				     pidstr, NULL };
	char *argv[6];
	struct prog p;
	int i, status, want;
	const char *ready;

	snprintf(exe, sizeof(exe), "%s/%s", self->env.bin, prog_names[prog]);
	argv[0] = exe;
	argv[1] = NULL;
	want = 3;
	ready = NULL;
	if (prog == P_FPU) {
		/* Endless chunks of little work: a tick every few ms. */
		argv[1] = "1000000000";
		argv[2] = "2000";
		argv[3] = "20000";
		argv[4] = NULL;
		ready = "START";
		want = 3;
	} else if (prog == P_FILES) {
		snprintf(rfile, sizeof(rfile), "%s/files.read", self->env.dir);
		snprintf(self->afile, sizeof(self->afile), "%s/files.append", self->env.dir);
		if (!write_pattern(rfile, 10001)) {
			snprintf(why, size, "cannot write %.200s", rfile);
			return false;
		}
		argv[1] = rfile;
		argv[2] = self->afile;
		argv[3] = NULL;
		ready = "READY";
		want = 0;
	}
	if (!spawn(&self->env, &p, argv)) {
		snprintf(why, size, "cannot start %.200s", exe);
		return false;
	}
	for (i = 0; i < want + !!ready; i++) {
		if (read_line(&p.out, line, sizeof(line), START_TIMEOUT) != 1) {
			snprintf(why, size, "%s: no output", prog_names[prog]);
			goto fail;
		}
		if (!strcmp(line, "NOAVX")) {
			kill_kid(&self->env, p.pid, NULL, KILL_WAIT);
			close(p.out.fd);
			return true;	/* no image: skipped */
		}
		if (i == 0 && ready && strcmp(line, ready)) {
			snprintf(why, size, "%s printed \"%s\"", prog_names[prog], line);
			goto fail;
		}
	}
	snprintf(pidstr, sizeof(pidstr), "%d", p.pid);
	status = run(_metadata, &self->env, ckpt, -1, err, sizeof(err));
	if (status != 0) {
		snprintf(why, size, "crctl checkpoint %s: %s: %s", prog_names[prog],
			 status < 0 ? "timeout" : describe(status, how, sizeof(how)), err);
		goto fail;
	}
	kill_kid(&self->env, p.pid, NULL, KILL_WAIT);
	close(p.out.fd);
	return true;
fail:
	kill_kid(&self->env, p.pid, NULL, KILL_WAIT);
	close(p.out.fd);
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
	for (i = 0; i < NPROGS; i++) {
		free(self->img[i].buf);
		free(self->img[i].recs);
	}
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
	struct mutation m = { .img = i };
	struct stats saved = self->st;
	int o;

	ASSERT_TRUE(assemble_same(&self->img[i], &m));
	m.cls = C_BITFLIP;
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
	for (c = 0; c < NCLASSES; c++) {
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
		for (fail = 0, c = 0; c < NCLASSES; c++)
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
	struct mutation m;
	int trunc_img = 0, trunc_rec = 0;
	const char *s;
	FILE *f;

	init_class_names();
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
	rng_state = seed ? seed : 1;
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
			ASSERT_TRUE(read_file(path, &im->buf, &im->len));
			im->recs = calloc(MAX_RECS, sizeof(*im->recs));
			ASSERT_NE(NULL, im->recs);
			ASSERT_TRUE(parse_image(im, why, sizeof(why))) {
				TH_LOG("%s: %s", path, why);
			}
			/* Our own mappings must leave room for the image's vdso. */
			if (vdso_clash(im)) {
				ksft_print_msg("%s: the image's vdso collides with our mappings; again\n",
					       prog_names[i]);
				free(im->buf);
				free(im->recs);
				im->buf = NULL;
				im->recs = NULL;
				continue;
			}
			im->present = true;
			if (pick_record(im, R_TREE) >= 0)
				tree_format = true;
			break;
		}
		if (!im->present) {
			ASSERT_NE(P_COUNTER, i) TH_LOG("no usable counter image");
			ksft_print_msg("%s: no image (skipped)\n", prog_names[i]);
			continue;
		}
		/* The checksum port against the image's own values. */
		ASSERT_EQ(get64(im->buf + pl(im, im->me) + ME_CKSUM),
			  checksum(im->buf, im->recs[im->me].off)) {
			TH_LOG("%s: meta-end checksum: the C port disagrees", prog_names[i]);
		}
		ASSERT_EQ(get64(im->buf + pl(im, im->tail) + TL_CKSUM),
			  checksum(im->buf, im->recs[im->tail].off)) {
			TH_LOG("%s: tail checksum: the C port disagrees", prog_names[i]);
		}
		ksft_print_msg("%s image: %zu bytes, %d records, %d vmas, %" PRIu64 " pages, task size %#" PRIx64 ", vdso %#" PRIx64 ", cwd %s; checksums verified\n",
			       prog_names[i], im->len, im->nrecs, im->nvmas,
			       get64(im->buf + pl(im, im->me) + ME_TOTAL), im->task_size,
			       im->vdso_lo, im->cwd);
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
		if (idx >= n && !nready)
			break;
		for (j = 0; j < self->jobs && idx < n; j++) {
			struct slot *sl = &self->slots[j];
			bool files_busy = false;
			int img, tries;

			if (sl->busy)
				continue;
			for (k = 0; k < self->jobs; k++)
				if (self->slots[k].busy &&
				    self->img[self->slots[k].m.img].prog == P_FILES)
					files_busy = true;
			memset(&m, 0, sizeof(m));
			if (trunc_img < self->nimg) {
				img = trunc_img;
				if (self->img[img].prog == P_FILES && files_busy)
					continue;
				m.img = img;
				ASSERT_TRUE(make_mutation(&self->img[img], C_TRUNC_REC, trunc_rec, &m));
				if (++trunc_rec > self->img[img].nrecs) {
					trunc_rec = 0;
					trunc_img++;
				}
			} else {
				for (tries = 0; tries < 1000; tries++) {
					img = below(self->nimg);
					if (self->img[img].prog == P_FILES && files_busy)
						continue;
					m.img = img;
					if (make_mutation(&self->img[img], random_class(), 0, &m))
						break;
				}
				ASSERT_GT(1000, tries);
			}
			finish_mutation(&self->img[m.img], &m);
			ASSERT_TRUE(start_attempt(_metadata, self, sl, idx++, &m));
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

	/*
	 * The harness timeout follows the number of attempts: every attempt
	 * has its own deadline, so this is only a safety net.
	 */
	_hostile_mutations_object->timeout = 900 + n + n / 2 + 4 * t / 1000;
	return test_harness_run(argc, argv);
}
