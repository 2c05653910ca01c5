// SPDX-License-Identifier: GPL-2.0
/*
 * Scheduling state and interrupted sleeps across checkpoint and restart.
 *
 * progs/sched takes on a scheduling policy, nice value, real-time
 * priority, CPU affinity and SCHED_RESET_ON_FORK, prints them as it reads
 * them back, and sleeps between ticks with clock_nanosleep(), relative and
 * absolute in turn, with no signal handler: a restored sleep that returns
 * EINTR is a bug it reports itself.  Each test checkpoints it (--kill)
 * while it sleeps, restarts the image, and requires the state line of every
 * later tick to be the one it printed before, and no "BAD" line.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300	/* s: one whole test */

FIXTURE(sched) {
	struct cr_env env;
};

FIXTURE_SETUP(sched)
{
	cr_env_setup_flags(_metadata, &self->env, "cr_sched", 0);
}

FIXTURE_TEARDOWN(sched)
{
	cr_env_teardown(&self->env);
}

/*
 * Runs progs/sched with @args, checkpoints it in the middle of a sleep of
 * @sleep_ms, restarts it and checks @ticks more ticks.
 */
static void round_trip(struct __test_metadata *_metadata, FIXTURE_DATA(sched) *self,
		       const char *policy, const char *nice, const char *prio,
		       const char *cpu, const char *reset, const char *sleep_ms,
		       int ticks)
{
	char img[PATH_MAX], line[512], want[512], *s;
	struct proc *orig, *copy;
	long n, last = 0;
	int i;

	orig = start_prog(_metadata, &self->env, "sched", policy, nice, prio, cpu,
			  reset, sleep_ms);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(0, strncmp(line, "STATE ", 6)) {
		TH_LOG("sched %s %s %s %s %s: %s", policy, nice, prio, cpu, reset, line);
		show_stderr(_metadata, orig);
	}
	snprintf(want, sizeof(want), "%s", line + 6);
	TH_LOG("state: %s", want);
	/* Two ticks, then a checkpoint while it sleeps after the second. */
	for (i = 0; i < 2; i++) {
		next_line(_metadata, orig, line, sizeof(line), LINE_TIMEOUT);
		ASSERT_EQ(1, sscanf(line, "tick %ld", &n)) TH_LOG("%s", line);
		last = n;
	}
	checkpoint_ex(_metadata, &self->env, orig->pid,
		      tmp_path(&self->env, img, "sched.img"), NO_RETRY);
	expect_sigkill(_metadata, orig);
	/* What it printed before the checkpoint stopped it. */
	while (read_line(&orig->out, line, sizeof(line), LINE_TIMEOUT) == 1)
		ASSERT_EQ(1, sscanf(line, "tick %ld", &last)) TH_LOG("%s", line);

	copy = restart(_metadata, &self->env, img, NULL_STDIN);
	for (i = 0; i < ticks; i++) {
		next_line(_metadata, copy, line, sizeof(line),
			  i ? LINE_TIMEOUT : START_TIMEOUT);
		ASSERT_EQ(NULL, strstr(line, "BAD")) TH_LOG("restored: %s", line);
		ASSERT_EQ(1, sscanf(line, "tick %ld", &n)) TH_LOG("restored: %s", line);
		ASSERT_EQ(last + 1, n) TH_LOG("restored: %s after tick %ld", line, last);
		last = n;
		s = strchr(line + 5, ' ');
		ASSERT_NE(NULL, s);
		ASSERT_STREQ(want, s + 1) TH_LOG("tick %ld: the state changed", n);
	}
	/* Restored with its original pid, a child of crctl, which exits as it. */
	EXPECT_EQ(copy->pid, parent_of(orig->pid));
	kill(orig->pid, SIGKILL);
	expect_exit(_metadata, copy, 128 + SIGKILL);
}

TEST_F_TIMEOUT(sched, batch_nice_affinity_reset_on_fork, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "batch", "7", "0", "1", "1", "300", 4);
}

TEST_F_TIMEOUT(sched, idle, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "idle", "3", "0", "-1", "0", "300", 3);
}

TEST_F_TIMEOUT(sched, fifo, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "fifo", "0", "10", "0", "0", "300", 3);
}

TEST_F_TIMEOUT(sched, rr_nice_kept, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "rr", "-5", "20", "-1", "1", "300", 3);
}

/* A long relative sleep, checkpointed midway: it must not return EINTR. */
TEST_F_TIMEOUT(sched, sleep_is_not_interrupted, TEST_TIMEOUT)
{
	round_trip(_metadata, self, "normal", "0", "0", "-1", "0", "3000", 3);
}

TEST_HARNESS_MAIN
