// SPDX-License-Identifier: GPL-2.0
/*
 * Interval timers: a process with ITIMER_REAL, ITIMER_VIRTUAL and
 * ITIMER_PROF armed (two with an interval), with alarm(), or with a finite
 * RLIMIT_CPU, is checkpointed (with --kill, or left running) and
 * restarted; the restored program checks that each timer has at most the
 * time it was armed with left, the same interval, and fires after that
 * time and then every interval (progs/timers.c; the bounds are generous:
 * the VM is slow). A clock_nanosleep interrupted by the checkpoint ends
 * as it should, without EINTR. crctl info shows the timers.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	400

FIXTURE(timers) {
	struct cr_env env;
};

FIXTURE_SETUP(timers)
{
	cr_env_setup(_metadata, &self->env, "cr_timers");
}

FIXTURE_TEARDOWN(timers)
{
	cr_env_teardown(&self->env);
}

/* The program's output to its end: LEFT ..., then "OK"; it exits 0. */
static void expect_ok_exit_left(struct __test_metadata *_metadata, struct proc *p)
{
	int r, ok = 0, bad = 0;
	char line[256], how[64];

	while ((r = read_line(&p->out, line, sizeof(line), START_TIMEOUT)) == 1) {
		TH_LOG("%s: %s", p->name, line);
		if (!strcmp(line, "OK"))
			ok++;
		else if (strncmp(line, "LEFT ", 5))
			bad++;
	}
	EXPECT_EQ(0, r) TH_LOG("%s: %s", p->name, strerror(-r));
	EXPECT_EQ(0, bad);
	EXPECT_EQ(1, ok);
	ASSERT_TRUE(reap(p, START_TIMEOUT));
	EXPECT_TRUE(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0) {
		TH_LOG("%s: %s", p->name, describe(p->status, how, sizeof(how)));
		show_stderr(_metadata, p);
	}
}

static void round_trip(struct __test_metadata *_metadata,
		       FIXTURE_DATA(timers) *self, const char *mode, bool leave)
{
	char img[PATH_MAX];
	struct proc *orig, *copy;
	pid_t pid;

	tmp_path(&self->env, img, "timers.img");
	orig = start_prog(_metadata, &self->env, "timers", mode, NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	pid = orig->pid;
	checkpoint_ex(_metadata, &self->env, pid, img,
		      NO_RETRY | (leave ? LEAVE_RUNNING : 0));
	if (leave) {
		/* The checkpoint left the original's timers alone. */
		ASSERT_EQ(0, kill(pid, SIGUSR1));
		expect_ok_exit_left(_metadata, orig);
	} else {
		expect_sigkill(_metadata, orig);
	}
	copy = restart(_metadata, &self->env, img, 0);
	/* restart() waited for the restored copy (the fidelity check). */
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	expect_ok_exit_left(_metadata, copy);
}

TEST_F_TIMEOUT(timers, itimers_kill, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "itimers", false);
}

TEST_F_TIMEOUT(timers, itimers_leave_running, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "itimers", true);
}

TEST_F_TIMEOUT(timers, alarm, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "alarm", false);
}

TEST_F_TIMEOUT(timers, rlimit_cpu, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "rlimit", false);
}

/*
 * clock_nanosleep interrupted by the checkpoint, on CLOCK_MONOTONIC
 * (relative) and CLOCK_REALTIME (TIMER_ABSTIME): issued again after the
 * restore, it sleeps its time and does not fail with EINTR.
 */
TEST_F_TIMEOUT(timers, clock_nanosleep_kill, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "sleep", false);
}

TEST_F_TIMEOUT(timers, clock_nanosleep_leave_running, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "sleep", true);
}

/*
 * POSIX timers: ids kept (with a gap), each clock and notification kind,
 * sigev_value, time left, interval, overrun count and next id; their
 * signals after the restart carry the same siginfo (progs/timers.c).
 */
TEST_F_TIMEOUT(timers, posix_timers_kill, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "ptimers", false);
}

/*
 * A process whose POSIX timers were all deleted has no timer record but
 * keeps its next id: after the restart a new timer gets the id the
 * original would have given it (it restarted from 0).
 */
TEST_F_TIMEOUT(timers, posix_next_id_without_timers, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "deleted", false);
}

/* A POSIX timer on a CPU-time clock is refused by name. */
TEST_F_TIMEOUT(timers, posix_timer_cpu_refused, TEST_TIMEOUT)
{
	char img[PATH_MAX], err[4096];
	struct proc *orig;

	orig = start_prog(_metadata, &self->env, "timers", "ptimer-cpu", NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	checkpoint_refused(_metadata, &self->env, orig->pid,
			   tmp_path(&self->env, img, "cpu.img"), err, sizeof(err));
	EXPECT_NE(NULL, strstr(err, "POSIX timer 0 on a CPU-time clock")) TH_LOG("%s", err);
	ASSERT_EQ(0, kill(orig->pid, SIGUSR1));
	expect_ok_exit(_metadata, orig);
}

/* An exec-style restore (crctl's own pid) of the program in @mode. */
static void new_pid_round_trip(struct __test_metadata *_metadata,
			       FIXTURE_DATA(timers) *self, const char *mode)
{
	char img[PATH_MAX];
	struct proc *orig, *copy;

	tmp_path(&self->env, img, "timers.img");
	orig = start_prog(_metadata, &self->env, "timers", mode, NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	checkpoint_ex(_metadata, &self->env, orig->pid, img, NO_RETRY);
	expect_sigkill(_metadata, orig);
	copy = restart(_metadata, &self->env, img, NEW_PID);
	usleep(200000);
	ASSERT_EQ(0, kill(copy->pid, SIGUSR1));
	expect_ok_exit_left(_metadata, copy);
}

/* The exec-style restore creates the POSIX timers too. */
TEST_F_TIMEOUT(timers, posix_timers_new_pid, TEST_TIMEOUT)
{
	new_pid_round_trip(_metadata, self, "ptimers");
}

/* The exec-style restore sets the timers too. */
TEST_F_TIMEOUT(timers, itimers_new_pid, TEST_TIMEOUT)
{
	new_pid_round_trip(_metadata, self, "itimers");
}

/* crctl info shows the timers, in text and JSON. */
TEST_F_TIMEOUT(timers, info, TEST_TIMEOUT)
{
	char img[PATH_MAX], out[16384];
	char *argv[] = { "crctl", "info", img, NULL };
	uint64_t v = 0;
	struct proc *orig;
	struct json j;
	int i, n = 0, p[2];

	tmp_path(&self->env, img, "timers.img");
	orig = start_prog(_metadata, &self->env, "timers", "itimers", NULL);
	expect_line(_metadata, orig, "READY", START_TIMEOUT);
	checkpoint_ex(_metadata, &self->env, orig->pid, img, NO_RETRY);
	expect_sigkill(_metadata, orig);

	crctl_info(_metadata, &self->env, img, &j);
	i = json_find(&j, 0, "itimers");
	ASSERT_LE(0, i);
	for (int e = j.v[i].child; e >= 0; e = j.v[e].next) {
		const char *which = json_str(&j, e, "which");

		ASSERT_NE(NULL, which);
		EXPECT_TRUE(json_num(&j, e, "interval_ns", &v));
		if (!strcmp(which, "real")) {
			EXPECT_EQ(1000000000ULL, v);
		} else if (!strcmp(which, "virtual")) {
			EXPECT_EQ(200000000ULL, v);
		} else {
			EXPECT_EQ(0, v);
		}
		EXPECT_TRUE(json_num(&j, e, "value_ns", &v));
		EXPECT_LT(0, v);
		n++;
	}
	EXPECT_EQ(3, n);
	json_free(&j);

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, run(_metadata, &self->env, argv, p[1], out, sizeof(out)));
	close(p[1]);
	n = slurp(p[0], out, sizeof(out) - 1, START_TIMEOUT);
	close(p[0]);
	out[n] = 0;
	EXPECT_NE(NULL, strstr(out, "itimers: real ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "every 1.000000000s, virtual ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "every 0.200000000s, prof ")) TH_LOG("%s", out);
}

TEST_HARNESS_MAIN
