// SPDX-License-Identifier: GPL-2.0
/*
 * Stopped tasks (SIGSTOP, SIGTSTP: job control) are checkpointed and come
 * back stopped exactly as they were: every thread in "T (stopped)", the
 * stop reported to the parent by wait(WUNTRACED) or not as it was, no new
 * SIGCHLD for the parent, and a SIGCONT resumes them with the
 * CLD_CONTINUED notification and WCONTINUED status the parent would have
 * got.  The checkpoint leaves a stopped original stopped and reports
 * nothing twice.  A traced task is still refused by name.
 *
 * progs/stopper.c is a parent and its two-threaded child; the parent
 * answers commands on stdin (see there).  The test process is a child
 * subreaper so that the tree's processes come to it to be reaped.
 *
 * The VM the tests run in is emulated (TCG), 10-30 times slower than
 * native: every wait has a generous timeout and nothing waits forever.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"
#include "cr_test.h"
#include <sys/ptrace.h>

#define TEST_TIMEOUT	300	/* s: one whole test */

FIXTURE(stop) {
	struct cr_env env;
};

FIXTURE_SETUP(stop)
{
	cr_env_setup_flags(_metadata, &self->env, "cr_stop", CR_ENV_SUBREAPER);
}

FIXTURE_TEARDOWN(stop)
{
	cr_env_teardown(&self->env);
}

/* Sends the one-letter command @cmd to @p and reads its answer into @line. */
static void ask(struct __test_metadata *_metadata, struct proc *p,
		const char *cmd, char *line, size_t size)
{
	char c[4];

	snprintf(c, sizeof(c), "%s\n", cmd);
	ASSERT_EQ((ssize_t)strlen(c), write(p->in, c, strlen(c)));
	next_line(_metadata, p, line, size, START_TIMEOUT);
}

/* Asks @cmd until the answer is @want (a notification may take a while). */
static void ask_until(struct __test_metadata *_metadata, struct proc *p,
		      const char *cmd, const char *want)
{
	long long end = now_ms() + START_TIMEOUT;
	char line[256];

	for (;;) {
		ask(_metadata, p, cmd, line, sizeof(line));
		if (!strcmp(line, want))
			return;
		ASSERT_GT(end, now_ms()) TH_LOG("%s: \"%s\", want \"%s\"", cmd, line, want);
		usleep(50000);
	}
}

static void expect_answer(struct __test_metadata *_metadata, struct proc *p,
			  const char *cmd, const char *want)
{
	char line[256];

	ask(_metadata, p, cmd, line, sizeof(line));
	ASSERT_STREQ(want, line);
}

static unsigned long ticks(struct __test_metadata *_metadata, struct proc *p)
{
	unsigned long n = 0;
	char line[256];

	ask(_metadata, p, "t", line, sizeof(line));
	ASSERT_EQ(1, sscanf(line, "TICK %lu", &n)) TH_LOG("got \"%s\"", line);
	return n;
}

/* State letter of thread @tid of @pid in /proc/PID/task/TID/stat. */
static char thread_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Waits until every thread of @pid (@nthreads of them) is 'T'. */
static void wait_all_stopped(struct __test_metadata *_metadata, pid_t pid,
			     int nthreads)
{
	long long end = now_ms() + START_TIMEOUT;
	pid_t tids[16];
	int n, i, t;

	for (;;) {
		n = task_ids(pid, tids, 16);
		for (i = 0, t = 0; i < n; i++)
			t += thread_state(pid, tids[i]) == 'T';
		if (n == nthreads && t == n)
			return;
		ASSERT_GT(end, now_ms())
			TH_LOG("pid %d: %d of %d threads stopped, want %d", pid, t, n, nthreads);
		usleep(20000);
	}
}

/* The child is still stopped: its counter does not move. */
static void still_stopped(struct __test_metadata *_metadata, struct proc *p,
			  pid_t child)
{
	unsigned long a, b;

	wait_all_stopped(_metadata, child, 2);
	a = ticks(_metadata, p);
	usleep(300000);
	b = ticks(_metadata, p);
	ASSERT_EQ(a, b) TH_LOG("the stopped child ran: %lu, then %lu", a, b);
}

/* SIGCONT resumes it: the parent is notified, the counter moves. */
static void resumes(struct __test_metadata *_metadata, struct proc *p,
		    pid_t child, const char *notes)
{
	long long end = now_ms() + START_TIMEOUT;
	unsigned long a;

	a = ticks(_metadata, p);
	ASSERT_EQ(0, kill(child, SIGCONT));
	ask_until(_metadata, p, "n", notes);
	expect_answer(_metadata, p, "w", "WAIT continued");
	expect_answer(_metadata, p, "w", "WAIT none");
	while (ticks(_metadata, p) == a)
		ASSERT_GT(end, now_ms()) TH_LOG("the child did not resume");
}

/* Starts stopper and stops its child with @sig. */
static struct proc *start_stopped(struct __test_metadata *_metadata,
				  struct cr_env *env, int sig, pid_t *child)
{
	long long end = now_ms() + START_TIMEOUT;
	struct proc *p;
	char line[256];

	p = start_prog(_metadata, env, "stopper", "2", NULL);
	next_line(_metadata, p, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, sscanf(line, "CHILD %d", child)) TH_LOG("got \"%s\"", line);
	while (ticks(_metadata, p) < 5)
		ASSERT_GT(end, now_ms()) TH_LOG("the child does not tick");
	ASSERT_EQ(0, kill(*child, sig));
	wait_all_stopped(_metadata, *child, 2);
	ask_until(_metadata, p, "n", "NOTE 1 0");
	return p;
}

/*
 * A tree whose child (two threads) is stopped by SIGSTOP, the stop not
 * yet waited for: restored, the child is stopped, the parent was not
 * notified again, wait(WUNTRACED) reports the stop once, and SIGCONT
 * resumes it with CLD_CONTINUED.
 */
TEST_F_TIMEOUT(stop, tree_unreported, TEST_TIMEOUT)
{
	struct proc *orig, *copy;
	char img[PATH_MAX];
	struct tree t;
	pid_t child;

	orig = start_stopped(_metadata, &self->env, SIGSTOP, &child);
	checkpoint(_metadata, &self->env, orig->pid,
		   tmp_path(&self->env, img, "tree.img"));
	expect_sigkill(_metadata, orig);
	read_tree(_metadata, &self->env, img, &t);
	tree_gone(_metadata, &t);

	copy = restart(_metadata, &self->env, img, 0);
	ask_until(_metadata, copy, "n", "NOTE 1 0");
	still_stopped(_metadata, copy, child);
	expect_answer(_metadata, copy, "n", "NOTE 1 0");
	expect_answer(_metadata, copy, "w", "WAIT stopped 19");
	expect_answer(_metadata, copy, "w", "WAIT none");
	resumes(_metadata, copy, child, "NOTE 1 1");
}

/*
 * Stopped by SIGTSTP and the stop already waited for: checkpoint
 * --leave-running leaves the original stopped, reports nothing twice;
 * the restored copy of that image is stopped with nothing to report.
 */
TEST_F_TIMEOUT(stop, tree_reported, TEST_TIMEOUT)
{
	struct proc *orig, *copy;
	char img[PATH_MAX];
	struct tree t;
	pid_t child;

	orig = start_stopped(_metadata, &self->env, SIGTSTP, &child);
	expect_answer(_metadata, orig, "w", "WAIT stopped 20");
	checkpoint_ex(_metadata, &self->env, orig->pid,
		      tmp_path(&self->env, img, "tree.img"), LEAVE_RUNNING);
	/* The original: unharmed, still stopped, nothing new to report. */
	still_stopped(_metadata, orig, child);
	expect_answer(_metadata, orig, "n", "NOTE 1 0");
	expect_answer(_metadata, orig, "w", "WAIT none");
	resumes(_metadata, orig, child, "NOTE 1 1");
	ASSERT_EQ(0, kill(child, SIGKILL));
	ASSERT_EQ(0, kill(orig->pid, SIGKILL));
	expect_sigkill(_metadata, orig);
	read_tree(_metadata, &self->env, img, &t);
	tree_gone(_metadata, &t);

	copy = restart(_metadata, &self->env, img, 0);
	ask_until(_metadata, copy, "n", "NOTE 1 0");
	still_stopped(_metadata, copy, child);
	expect_answer(_metadata, copy, "w", "WAIT none");
	expect_answer(_metadata, copy, "n", "NOTE 1 0");
	resumes(_metadata, copy, child, "NOTE 1 1");
}

/* A single stopped process comes back stopped; SIGCONT resumes it. */
TEST_F_TIMEOUT(stop, single, TEST_TIMEOUT)
{
	struct proc *orig, *copy;
	char img[PATH_MAX], line[256];
	long long end;
	long a, b;

	orig = start_prog(_metadata, &self->env, "counter", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	a = atol(line);
	ASSERT_EQ(0, kill(orig->pid, SIGSTOP));
	end = now_ms() + START_TIMEOUT;
	while (proc_state(orig->pid) != 'T')
		ASSERT_GT(end, now_ms());
	checkpoint(_metadata, &self->env, orig->pid,
		   tmp_path(&self->env, img, "single.img"));
	expect_sigkill(_metadata, orig);
	/* All it printed before it was stopped; the last one is A. */
	while (read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT) == 1)
		a = atol(line);
	ASSERT_TRUE(wait_gone(orig->pid, START_TIMEOUT));

	copy = restart(_metadata, &self->env, img, 0);
	end = now_ms() + START_TIMEOUT;
	while (proc_state(orig->pid) != 'T')
		ASSERT_GT(end, now_ms()) TH_LOG("pid %d not restored stopped", orig->pid);
	/* Stopped: nothing printed. */
	ASSERT_EQ(-ETIMEDOUT, read_line(&copy->out, line, sizeof(line), 1000))
		TH_LOG("the restored stopped process printed \"%s\"", line);
	ASSERT_EQ(0, kill(orig->pid, SIGCONT));
	next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
	b = atol(line);
	ASSERT_EQ(a + 1, b);
}

/*
 * Stopped twice: the second SIGSTOP stays pending, which the checkpoint
 * refuses by name; the original stays stopped and a SIGCONT resumes it.
 */
TEST_F_TIMEOUT(stop, second_sigstop_refused, TEST_TIMEOUT)
{
	char img[PATH_MAX], err[4096];
	struct proc *orig;
	pid_t child;

	orig = start_stopped(_metadata, &self->env, SIGSTOP, &child);
	ASSERT_EQ(0, kill(child, SIGSTOP));
	checkpoint_refused(_metadata, &self->env, orig->pid,
			   tmp_path(&self->env, img, "twice.img"), err, sizeof(err));
	EXPECT_NE(NULL, strstr(err, "another SIGSTOP pending")) TH_LOG("stderr: %s", err);
	still_stopped(_metadata, orig, child);
	expect_answer(_metadata, orig, "n", "NOTE 1 0");
	resumes(_metadata, orig, child, "NOTE 1 1");
}

/* A traced (ptrace) task is refused by name. */
TEST_F_TIMEOUT(stop, ptraced_refused, TEST_TIMEOUT)
{
	char img[PATH_MAX], err[4096];
	struct proc *orig;
	int status;

	orig = start_prog(_metadata, &self->env, "counter", NULL);
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, orig->pid, 0, 0)) TH_LOG("%s", strerror(errno));
	checkpoint_refused(_metadata, &self->env, orig->pid,
			   tmp_path(&self->env, img, "traced.img"), err, sizeof(err));
	EXPECT_NE(NULL, strstr(err, "being traced (ptrace)")) TH_LOG("stderr: %s", err);
	/* And while traced and stopped. */
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, orig->pid, 0, 0));
	ASSERT_EQ(orig->pid, waitpid(orig->pid, &status, 0));
	checkpoint_refused(_metadata, &self->env, orig->pid,
			   tmp_path(&self->env, img, "traced.img"), err, sizeof(err));
	EXPECT_NE(NULL, strstr(err, "being traced (ptrace)")) TH_LOG("stderr: %s", err);
	ptrace(PTRACE_DETACH, orig->pid, 0, 0);
}

TEST_HARNESS_MAIN
