/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the cr selftests (cr_test.c, linked into every test
 * program): starting programs on pipes, reading their lines with timeouts,
 * running crctl, reaping, and reading images back with "crctl info
 * --json".  Include after kselftest_harness.h; a fixture embeds a struct
 * cr_env and calls cr_env_setup()/cr_env_teardown().
 *
 * The VM the tests run in is emulated (TCG), 10-30 times slower than
 * native: every wait has a generous timeout and nothing waits forever.
 */
#ifndef CR_TEST_H
#define CR_TEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_TIMEOUT	10000	/* ms: the next line of a running program */
#define START_TIMEOUT	60000	/* ms: a restored program's first line, a crctl run */

#include "cr_proc.h"

#define MAX_PROCS	64
#define MAX_SNAPS	8
#define MAX_KIDS	64
#define MAX_TASKS	64
#define CKPT_TRIES	10	/* checkpoint attempts when it says EAGAIN */

/*
 * Flags of restart() (NULL_STDIN, STOPPED, NEW_PID), start_ex() and
 * run_ex() (AS_NOBODY) and checkpoint_ex() (LEAVE_RUNNING, NO_RETRY).  One
 * set of bits, so that a flag passed to the wrong helper is merely ignored.
 */
#define NULL_STDIN	(1 << 0)	/* stdin on /dev/null, not a pipe */
#define STOPPED		(1 << 1)	/* restart --stopped */
#define AS_NOBODY	(1 << 2)	/* uid and gid 65534, no groups */
#define LEAVE_RUNNING	(1 << 3)	/* checkpoint without --kill */
#define NO_RETRY	(1 << 4)	/* no second checkpoint on EAGAIN or ESRCH */
#define NEW_PID		(1 << 5)	/* restart --new-pid: exec-style, crctl's pid */

/* Flags of cr_env_setup_flags(). */
#define CR_ENV_SUBREAPER (1 << 0)	/* orphans of the test's trees come to it */

/* A line reader with a timeout. */
struct lbuf {
	int fd;
	size_t len;
	char buf[4096];
};

struct proc {
	pid_t pid;
	char *name;
	int in;			/* write end of its stdin pipe, or -1 */
	int err;		/* read end of its stderr pipe */
	struct lbuf out;	/* read end of its stdout pipe, or fd -1 */
	bool reaped;
	int status;
};

/* What the helpers keep of one test: embed it in the fixture. */
struct cr_env {
	char dir[64];		/* scratch directory in /tmp */
	char bin[PATH_MAX];	/* where the test and the progs are */
	struct proc *procs[MAX_PROCS];
	int nprocs;
	pid_t kids[MAX_KIDS];	/* children forked by hand, not by start() */
	int ckpt_eagain;	/* checkpoints that said EAGAIN, tried again */
	int ckpt_esrch;		/* ... ESRCH for a task reaped meanwhile */
	struct {		/* the fidelity check: see cr_proc.h */
		char image[PATH_MAX];
		pid_t root;
		struct snap s;
	} snaps[MAX_SNAPS];
	int nsnaps;
	int fidelity_checked;	/* restored trees compared with their snapshot */
};

/* A task of an image, as "crctl info --json" lists it in its tree. */
struct tentry {
	pid_t pid, tgid, ppid, pgid, sid;
	char kind[16];		/* process, thread or zombie */
	unsigned int exit_status;
	char comm[20];		/* from its entry in "threads" */
};

struct tree {
	int n;
	struct tentry e[MAX_TASKS];
};

/*
 * A JSON document (the output of "crctl info --json"), as a
 * flat array of values in document order: v[0] is the top-level value;
 * a member of an object has its name in .key.
 */
enum json_kind { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json_val {
	enum json_kind kind;
	const char *key;	/* its name, for a member of an object */
	char *str;		/* JSON_STR: unescaped */
	uint64_t num;		/* JSON_NUM (a negative one as two's complement), JSON_BOOL */
	int parent, next, child;	/* indices in v[], or -1 */
};

struct json {
	char *text;		/* the document, strings unescaped in place */
	struct json_val *v;
	int n, cap;
};

/* From /proc/PID/stat. */
struct ids {
	char state;
	pid_t ppid, pgid, sid;
};

long long now_ms(void);
int read_line(struct lbuf *lb, char *line, size_t size, int timeout);
size_t slurp(int fd, char *buf, size_t size, int timeout);
const char *describe(int status, char *buf, size_t size);
bool read_proc_stat(pid_t pid, char *buf, size_t size);
bool proc_ids(pid_t pid, struct ids *ids);
char proc_state(pid_t pid);
pid_t parent_of(pid_t pid);
void kill_descendants(pid_t parent);
bool reap_pid(pid_t pid, int *status, int timeout);
bool reap(struct proc *p, int timeout);
void kid_add(struct cr_env *env, pid_t pid);
void kid_del(struct cr_env *env, pid_t pid);
bool kill_kid(struct cr_env *env, pid_t pid, int *status,
	      int timeout);
bool wait_gone(pid_t pid, int timeout);
void show_stderr(struct __test_metadata *_metadata, struct proc *p);
void child_setup(int in, int out, int err);
char *proc_name(char *const argv[]);
struct proc *start_ex(struct __test_metadata *_metadata,
		      struct cr_env *env, char *const argv[],
		      int (*fn)(void *), void *arg,
		      int in_fd, int out_fd, int flags);
struct proc *start(struct __test_metadata *_metadata,
		   struct cr_env *env, char *const argv[],
		   int in_fd, int out_fd);
void free_proc(struct proc *p);
void forget(struct cr_env *env, struct proc *p);
struct proc *start_prog(struct __test_metadata *_metadata,
			struct cr_env *env, const char *name, ...);
int run_ex(struct __test_metadata *_metadata, struct cr_env *env,
	   char *const argv[], int out_fd, int flags, char *err,
	   size_t size);
int run(struct __test_metadata *_metadata, struct cr_env *env,
	char *const argv[], int out_fd, char *err, size_t size);
char *tmp_path(struct cr_env *env, char *buf, const char *name);
void fidelity_snapshot(struct cr_env *env, pid_t pid, const char *image);
bool fidelity_under(pid_t pid, pid_t anc);
void fidelity_check(struct __test_metadata *_metadata,
		    struct cr_env *env, const char *image,
		    struct proc *p);
void checkpoint_ex(struct __test_metadata *_metadata,
		   struct cr_env *env, pid_t pid,
		   const char *image, int flags);
void checkpoint(struct __test_metadata *_metadata,
		struct cr_env *env, pid_t pid, const char *image);
struct proc *restart(struct __test_metadata *_metadata,
		     struct cr_env *env, const char *image,
		     int flags);
void expect_sigkill(struct __test_metadata *_metadata, struct proc *p);
void expect_exit(struct __test_metadata *_metadata, struct proc *p,
		 int code);
void next_line(struct __test_metadata *_metadata, struct proc *p,
	       char *line, size_t size, int timeout);
void expect_line_after_ticks(struct __test_metadata *_metadata,
			     struct proc *p, const char *want);
void read_tree(struct __test_metadata *_metadata,
	       struct cr_env *env, const char *image,
	       struct tree *t);
struct tentry *tree_find(struct tree *t, pid_t pid);
void tree_gone(struct __test_metadata *_metadata, struct tree *t);
int task_ids(pid_t pid, pid_t *tids, int max);
bool has_word(const char *s, const char *words);
/* The next line of @p must be @want. */
void expect_line(struct __test_metadata *_metadata, struct proc *p,
		 const char *want, int timeout);
/*
 * A program that checks itself (memory, files): its output up to its end
 * must be exactly "OK", and it must exit 0.
 */
void expect_ok_exit(struct __test_metadata *_metadata, struct proc *p);
/*
 * "crctl checkpoint -o @image @pid" (the target left running), which must
 * be refused: exit status 1, with crctl's stderr in @err.
 */
void checkpoint_refused(struct __test_metadata *_metadata,
			struct cr_env *env, pid_t pid, const char *image,
			char *err, size_t size);
/* A child of @parent whose command line has @word, or 0. */
pid_t child_running(pid_t parent, const char *word);
/* Brings the loopback interface up (a minimal guest has it down). */
void loopback_up(void);
void check_dmesg(struct __test_metadata *_metadata);
void cr_env_setup_flags(struct __test_metadata *_metadata,
			struct cr_env *env, const char *name,
			int flags);
void cr_env_setup(struct __test_metadata *_metadata,
		  struct cr_env *env, const char *name);
void cr_env_teardown(struct cr_env *env);

/* Parses @text (kept, and modified) into @j; false if it is not JSON. */
bool json_parse(struct json *j, char *text);
void json_free(struct json *j);
/* The first value after v[@after] named @key, anywhere in the document, or -1. */
int json_find(const struct json *j, int after, const char *key);
/* Member @key of object v[@obj], or -1. */
int json_member(const struct json *j, int obj, const char *key);
/* Number (or boolean) member @key of object v[@obj] into @out; false if none. */
bool json_num(const struct json *j, int obj, const char *key, uint64_t *out);
/* String member @key of object v[@obj], or NULL. */
const char *json_str(const struct json *j, int obj, const char *key);
/* "crctl info --json @image", parsed into @j (json_free() it). */
void crctl_info(struct __test_metadata *_metadata, struct cr_env *env,
		const char *image, struct json *j);

/*
 * For the tests that read images and call CR_IOC_RESTART themselves:
 * define CR_TEST_IOCTL before including.  Only on request, as the others
 * do not need these names.
 */
#ifdef CR_TEST_IOCTL
#include <endian.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* Little-endian fields of an image. */
uint64_t get64(const uint8_t *p);
uint32_t get32(const uint8_t *p);
int move_vdso(uint64_t lo, uint64_t hi);
#endif /* CR_TEST_IOCTL */

#endif /* CR_TEST_H */
