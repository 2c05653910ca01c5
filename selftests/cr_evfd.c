// SPDX-License-Identifier: GPL-2.0
/*
 * Event descriptors: eventfd, timerfd and signalfd, saved with their state
 * (read from their fdinfo, nothing consumed) and made again at restart.
 *
 * progs/evfd.c holds two eventfds (one dup'd and non-blocking with a
 * count of 5, one a semaphore of 3), four timerfds (a one-shot with one
 * unread expiration, dup'd; an absolute CLOCK_REALTIME one an hour away
 * with TFD_TIMER_CANCEL_ON_SET; a 300 ms periodic one read in its main
 * loop, which is blocked in read() on it when the checkpoint comes; a
 * 100 ms CLOCK_BOOTTIME one never read, whose expirations pile up) and a
 * dup'd signalfd for SIGUSR2. After the checkpoint (leaving it running,
 * or killing it) the original, then the restored copy, must read the same
 * counters and expirations, keep ticking at the interval, with no spurious
 * EINTR from the interrupted read(), and read from the signalfd a SIGUSR2
 * sent after the restart. A task blocked in read() on a one-shot timerfd
 * keeps waiting across the restart and reads its one expiration. A
 * timerfd on an alarm clock is refused by name. Each
 * restart is also checked by the fidelity check (cr_test.c).
 *
 * The VM the tests run in is emulated (TCG), 10-30 times slower than
 * native: every wait has a generous timeout and nothing waits forever.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"
#include "cr_test.h"

#define TEST_TIMEOUT	300

FIXTURE(evfd) {
	struct cr_env env;
};

FIXTURE_SETUP(evfd)
{
	cr_env_setup(_metadata, &self->env, "cr_evfd");
}

FIXTURE_TEARDOWN(evfd)
{
	cr_env_teardown(&self->env);
}

/* The next line of @p that is not a TICK line must be @want. */
static void expect_line_past_ticks(struct __test_metadata *_metadata, struct proc *p,
			const char *want)
{
	char line[512];

	do
		next_line(_metadata, p, line, sizeof(line), START_TIMEOUT);
	while (!strncmp(line, "TICK ", 5));
	ASSERT_STREQ(want, line);
}

/* @n TICK lines of @p, none with a BAD line in between. */
static void expect_ticks(struct __test_metadata *_metadata, struct proc *p, int n)
{
	char line[512];
	int i;

	for (i = 0; i < n; i++) {
		next_line(_metadata, p, line, sizeof(line), START_TIMEOUT);
		ASSERT_EQ(0, strncmp(line, "TICK ", 5)) TH_LOG("%s", line);
	}
}

/* The image's event descriptors, from crctl info --json. */
static void check_image(struct __test_metadata *_metadata, struct cr_env *env,
			const char *img)
{
	uint64_t count, sem, ticks, interval, abstime, cancel, mask;
	int a, e, n, piled = 0, unread = 0, absolute = 0;
	const char *clock;
	struct json j;

	crctl_info(_metadata, env, img, &j);
	a = json_find(&j, 0, "eventfds");
	ASSERT_LE(0, a);
	n = 0;
	for (e = j.v[a].child; e >= 0; e = j.v[e].next, n++) {
		ASSERT_TRUE(json_num(&j, e, "count", &count));
		ASSERT_TRUE(json_num(&j, e, "semaphore", &sem));
		EXPECT_EQ(sem ? 3 : 5, count);
	}
	EXPECT_EQ(2, n);
	a = json_find(&j, 0, "timerfds");
	ASSERT_LE(0, a);
	n = 0;
	for (e = j.v[a].child; e >= 0; e = j.v[e].next, n++) {
		ASSERT_TRUE(json_num(&j, e, "ticks", &ticks));
		ASSERT_TRUE(json_num(&j, e, "interval_ns", &interval));
		ASSERT_TRUE(json_num(&j, e, "abstime", &abstime));
		ASSERT_TRUE(json_num(&j, e, "cancel_on_set", &cancel));
		clock = json_str(&j, e, "clock");
		ASSERT_NE(NULL, clock);
		if (interval == 100000000) {
			EXPECT_STREQ("boottime", clock);
			EXPECT_LE(3, ticks);
			piled++;
		} else if (interval == 0 && abstime) {
			EXPECT_STREQ("realtime", clock);
			EXPECT_TRUE(cancel);
			EXPECT_LE(0, json_member(&j, e, "abs_ns"));
			absolute++;
		} else if (interval == 0) {
			EXPECT_EQ(1, ticks);
			unread++;
		}
	}
	EXPECT_EQ(4, n);
	EXPECT_EQ(1, piled);
	EXPECT_EQ(1, unread);
	EXPECT_EQ(1, absolute);
	a = json_find(&j, 0, "signalfds");
	ASSERT_LE(0, a);
	e = j.v[a].child;
	ASSERT_LE(0, e);
	ASSERT_TRUE(json_num(&j, e, "mask", &mask));
	EXPECT_EQ(1ULL << (SIGUSR2 - 1), mask);
	EXPECT_GT(0, j.v[e].next);
	json_free(&j);
}

static void round_trip(struct __test_metadata *_metadata, struct cr_env *env, int flags)
{
	char img[PATH_MAX], line[256];
	struct proc *orig, *copy;
	pid_t pid;

	orig = start_prog(_metadata, env, "evfd", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, sscanf(line, "READY %d", &pid)) TH_LOG("%s", line);
	/* Blocked in read() on fd 26 between its ticks. */
	expect_ticks(_metadata, orig, 2);
	checkpoint_ex(_metadata, env, orig->pid, tmp_path(env, img, "evfd.img"), flags);
	check_image(_metadata, env, img);
	if (flags & LEAVE_RUNNING) {
		/* Unharmed: nothing read from its descriptors. */
		expect_ticks(_metadata, orig, 2);
		ASSERT_EQ(0, kill(pid, SIGUSR2));
		ASSERT_EQ(0, kill(pid, SIGUSR1));
		expect_line_past_ticks(_metadata, orig, "EVFD OK");
		ASSERT_TRUE(reap(orig, START_TIMEOUT));
		ASSERT_TRUE(WIFEXITED(orig->status) && WEXITSTATUS(orig->status) == 0);
	} else {
		expect_sigkill(_metadata, orig);
	}
	copy = restart(_metadata, env, img, NULL_STDIN);
	/* Its interrupted read() goes on: ticks, no EINTR. */
	expect_ticks(_metadata, copy, 3);
	ASSERT_EQ(0, kill(pid, SIGUSR2));
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	expect_line_past_ticks(_metadata, copy, "EVFD OK");
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

TEST_F_TIMEOUT(evfd, leave_running, TEST_TIMEOUT)
{
	round_trip(_metadata, &self->env, LEAVE_RUNNING);
}

TEST_F_TIMEOUT(evfd, killed, TEST_TIMEOUT)
{
	round_trip(_metadata, &self->env, 0);
}

/* Blocked in read() on a one-shot timerfd: it keeps waiting, then reads 1. */
TEST_F_TIMEOUT(evfd, blocked_read, TEST_TIMEOUT)
{
	char img[PATH_MAX], line[256];
	struct proc *orig, *copy;
	pid_t pid;

	orig = start_prog(_metadata, &self->env, "evfd", "block", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	ASSERT_EQ(1, sscanf(line, "READY %d", &pid)) TH_LOG("%s", line);
	checkpoint(_metadata, &self->env, orig->pid, tmp_path(&self->env, img, "block.img"));
	expect_sigkill(_metadata, orig);
	copy = restart(_metadata, &self->env, img, NULL_STDIN);
	next_line(_metadata, copy, line, sizeof(line), START_TIMEOUT);
	EXPECT_STREQ("READ 1", line);
	expect_exit(_metadata, copy, 0);
	check_dmesg(_metadata);
}

/* A timerfd on an alarm clock: refused by name, the target unharmed. */
TEST_F_TIMEOUT(evfd, alarm_refused, TEST_TIMEOUT)
{
	char *argv[] = { "crctl", "checkpoint", "-o", NULL, NULL, NULL };
	char img[PATH_MAX], err[4096], line[256], pidstr[16], at[96];
	struct proc *orig;
	int status;
	pid_t pid;

	orig = start_prog(_metadata, &self->env, "evfd", "alarm", NULL);
	next_line(_metadata, orig, line, sizeof(line), START_TIMEOUT);
	if (!strncmp(line, "BAD", 3))
		SKIP(return, "no CLOCK_BOOTTIME_ALARM timerfd here: %s", line);
	ASSERT_EQ(1, sscanf(line, "READY %d", &pid)) TH_LOG("%s", line);
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	argv[3] = tmp_path(&self->env, img, "alarm.img");
	argv[4] = pidstr;
	status = run(_metadata, &self->env, argv, -1, err, sizeof(err));
	ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) TH_LOG("%s", err);
	snprintf(at, sizeof(at), "pid %d fd 20: timerfd on CLOCK_BOOTTIME_ALARM: not supported yet", pid);
	EXPECT_NE(NULL, strstr(err, at)) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "(EOPNOTSUPP)")) TH_LOG("%s", err);
	EXPECT_FALSE(reap(orig, 0));
	EXPECT_EQ('S', proc_state(pid));
}

TEST_HARNESS_MAIN
