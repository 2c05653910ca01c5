// SPDX-License-Identifier: GPL-2.0
/*
 * Pending signals: standard and real-time signals queued for a process and
 * for each of its threads, blocked at checkpoint time, come back pending
 * with their full siginfo (a real-time signal queued three times with three
 * sigqueue() values comes back as three, in order; si_code and si_pid
 * kept), and so does the SIGCHLD of a zombie child; the checkpoint only
 * peeks at them, so an original left running still receives them all.
 * The target is progs/sigpend.c, which checks what it receives.
 *
 * A thread asleep in sigwaitinfo(), sigtimedwait(), sigsuspend() or pause()
 * goes on waiting after the checkpoint, in the original and in the restored
 * copy, with no spurious EINTR (progs/sigwait.c); seccomp is refused by
 * name (progs/seccomp.c).
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300

FIXTURE(signals) {
	struct cr_env env;
};

FIXTURE_SETUP(signals)
{
	cr_env_setup(_metadata, &self->env, "cr_signals");
}

FIXTURE_TEARDOWN(signals)
{
	cr_env_teardown(&self->env);
}

/* Starts progs/sigpend and waits for its READY line. */
static struct proc *start_pending(struct __test_metadata *_metadata,
				  struct cr_env *env, pid_t *kid)
{
	struct proc *p = start_prog(_metadata, env, "sigpend", NULL);
	char line[256];

	next_line(_metadata, p, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, sscanf(line, "READY %d", kid)) TH_LOG("%s", line);
	return p;
}

/* Tells @p to take its signals: it must say OK and exit 0. */
static void go_and_check(struct __test_metadata *_metadata, struct proc *p)
{
	char line[256], how[64];
	int r, ok = 0;

	ASSERT_EQ(3, write(p->in, "go\n", 3));
	while ((r = read_line(&p->out, line, sizeof(line), START_TIMEOUT)) == 1) {
		if (!strcmp(line, "OK"))
			ok++;
		else
			TH_LOG("%s: %s", p->name, line);
	}
	EXPECT_EQ(1, ok);
	ASSERT_TRUE(reap(p, START_TIMEOUT));
	EXPECT_TRUE(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0) {
		TH_LOG("%s: %s", p->name, describe(p->status, how, sizeof(how)));
		show_stderr(_metadata, p);
	}
}

/* checkpoint --kill, restart: every signal comes back. */
TEST_F_TIMEOUT(signals, pending_kill, TEST_TIMEOUT)
{
	char img[PATH_MAX];
	struct proc *orig, *copy;
	pid_t kid;

	tmp_path(&self->env, img, "sigpend.img");
	orig = start_pending(_metadata, &self->env, &kid);
	checkpoint(_metadata, &self->env, orig->pid, img);
	expect_sigkill(_metadata, orig);
	ASSERT_TRUE(wait_gone(kid, START_TIMEOUT));
	copy = restart(_metadata, &self->env, img, 0);
	go_and_check(_metadata, copy);
}

/*
 * Checkpoint leaving the original running: it still has every signal (the
 * checkpoint did not dequeue any), and so has the restored copy.
 */
TEST_F_TIMEOUT(signals, pending_leave_running, TEST_TIMEOUT)
{
	char img[PATH_MAX];
	struct proc *orig, *copy;
	pid_t kid;

	tmp_path(&self->env, img, "sigpend.img");
	orig = start_pending(_metadata, &self->env, &kid);
	checkpoint_ex(_metadata, &self->env, orig->pid, img, LEAVE_RUNNING);
	go_and_check(_metadata, orig);
	ASSERT_TRUE(wait_gone(kid, START_TIMEOUT));
	copy = restart(_metadata, &self->env, img, 0);
	go_and_check(_metadata, copy);
}

/* crctl info lists the pending signals, in text and JSON. */
TEST_F_TIMEOUT(signals, info, TEST_TIMEOUT)
{
	char img[PATH_MAX], out[65536];
	char *argv[] = { "crctl", "info", img, NULL };
	int shared = 0, own = 0, rt1 = 0, p[2], i;
	uint64_t signo, v, tid;
	struct proc *orig;
	struct json j;
	pid_t kid;
	size_t n;

	tmp_path(&self->env, img, "sigpend.img");
	orig = start_pending(_metadata, &self->env, &kid);
	checkpoint(_metadata, &self->env, orig->pid, img);
	expect_sigkill(_metadata, orig);

	crctl_info(_metadata, &self->env, img, &j);
	i = json_find(&j, 0, "pending_signals");
	ASSERT_LE(0, i);
	for (int e = j.v[i].child; e >= 0; e = j.v[e].next) {
		ASSERT_TRUE(json_num(&j, e, "signo", &signo));
		ASSERT_TRUE(json_num(&j, e, "tid", &tid));
		if (tid == 0)
			shared++;
		else
			own++;
		if (signo == (uint64_t)SIGRTMIN + 1) {
			ASSERT_TRUE(json_num(&j, e, "value", &v));
			EXPECT_EQ(101 + rt1, (int)v);
			rt1++;
		}
	}
	EXPECT_EQ(5, shared);
	EXPECT_EQ(5, own);
	EXPECT_EQ(3, rt1);
	json_free(&j);

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, run(_metadata, &self->env, argv, p[1], out, sizeof(out)));
	close(p[1]);
	n = slurp(p[0], out, sizeof(out) - 1, START_TIMEOUT);
	close(p[0]);
	out[n] = 0;
	EXPECT_NE(NULL, strstr(out, "pending signal 17 (process): CLD_EXITED")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "SI_QUEUE")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "SI_TKILL")) TH_LOG("%s", out);
}

/*
 * progs/sigwait @how, checkpointed while it waits (its READY line, then a
 * pause so that it sleeps); with @leave the original runs on and must go on
 * waiting too. Then @sig (0: none) is sent to the one that runs, whose
 * next line must be @want.
 */
static void wait_round_trip(struct __test_metadata *_metadata,
			    struct cr_env *env, const char *how, const char *arg,
			    bool leave, int sig, const char *want)
{
	char img[PATH_MAX], line[256];
	struct proc *orig, *p;

	tmp_path(env, img, "sigwait.img");
	orig = start_prog(_metadata, env, "sigwait", how, arg, NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("READY", line);
	usleep(200000);
	checkpoint_ex(_metadata, env, orig->pid, img, NO_RETRY | (leave ? LEAVE_RUNNING : 0));
	if (leave) {
		/* Still waiting: nothing printed yet. */
		EXPECT_EQ(-ETIMEDOUT, read_line(&orig->out, line, sizeof(line), 500)) {
			TH_LOG("the original said \"%s\" after the checkpoint", line);
		}
		if (sig)
			ASSERT_EQ(0, kill(orig->pid, sig));
		next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
		EXPECT_STREQ(want, line);
		ASSERT_TRUE(reap(orig, START_TIMEOUT));
	} else {
		expect_sigkill(_metadata, orig);
	}
	p = restart(_metadata, env, img, 0);
	/* Still waiting after the restart. */
	EXPECT_EQ(-ETIMEDOUT, read_line(&p->out, line, sizeof(line), 500)) {
		TH_LOG("the restored copy said \"%s\" at once", line);
	}
	if (sig)
		ASSERT_EQ(0, kill(orig->pid, sig));
	next_line(_metadata, p, line, sizeof(line), START_TIMEOUT);
	EXPECT_STREQ(want, line);
	expect_exit(_metadata, p, 0);
}

TEST_F_TIMEOUT(signals, sigwaitinfo, TEST_TIMEOUT)
{
	wait_round_trip(_metadata, &self->env, "wait", NULL, false, SIGUSR1, "GOT 10 code 0");
}

TEST_F_TIMEOUT(signals, sigwaitinfo_leave_running, TEST_TIMEOUT)
{
	wait_round_trip(_metadata, &self->env, "wait", NULL, true, SIGUSR1, "GOT 10 code 0");
}

TEST_F_TIMEOUT(signals, sigtimedwait, TEST_TIMEOUT)
{
	wait_round_trip(_metadata, &self->env, "timed", NULL, true, SIGUSR1, "GOT 10 code 0");
}

/* A timeout that nothing ends: EAGAIN when it runs out, never EINTR. */
TEST_F_TIMEOUT(signals, sigtimedwait_timeout, TEST_TIMEOUT)
{
	wait_round_trip(_metadata, &self->env, "timeout", "10000", true, 0, "EAGAIN");
}

/* sigsuspend(): the handler runs, and the mask from before the call is back. */
TEST_F_TIMEOUT(signals, sigsuspend, TEST_TIMEOUT)
{
	wait_round_trip(_metadata, &self->env, "suspend", NULL, true, SIGUSR1, "HANDLED mask ok");
}

TEST_F_TIMEOUT(signals, pause, TEST_TIMEOUT)
{
	wait_round_trip(_metadata, &self->env, "pause", NULL, false, SIGUSR1, "HANDLED");
}

/* seccomp (filter or strict mode): refused by name, saying what is missing. */
static void seccomp_refused(struct __test_metadata *_metadata, struct cr_env *env,
			    const char *mode, const char *what)
{
	char img[PATH_MAX], line[256], pidstr[16], err[4096];
	char *argv[] = { "crctl", "checkpoint", "-o", img, pidstr, NULL };
	struct proc *orig;
	int status;

	tmp_path(env, img, "seccomp.img");
	orig = start_prog(_metadata, env, "seccomp", mode, NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_STREQ("READY", line);
	snprintf(pidstr, sizeof(pidstr), "%d", orig->pid);
	status = run(_metadata, env, argv, -1, err, sizeof(err));
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1);
	EXPECT_NE(NULL, strstr(err, what)) TH_LOG("crctl checkpoint: %s", err);
	EXPECT_NE(NULL, strstr(err, "cannot be restored by a module")) TH_LOG("%s", err);
	/* The original runs on. */
	ASSERT_EQ(1, write(orig->in, "x", 1));
	ASSERT_TRUE(reap(orig, START_TIMEOUT));
	EXPECT_TRUE(WIFEXITED(orig->status) && WEXITSTATUS(orig->status) == 0);
}

TEST_F_TIMEOUT(signals, seccomp_filter_refused, TEST_TIMEOUT)
{
	seccomp_refused(_metadata, &self->env, "filter", "seccomp filter mode");
}

TEST_F_TIMEOUT(signals, seccomp_strict_refused, TEST_TIMEOUT)
{
	seccomp_refused(_metadata, &self->env, "strict", "seccomp strict mode");
}

TEST_HARNESS_MAIN
