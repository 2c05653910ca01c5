// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr_evfd tests: event descriptors in every state the
 * restore must keep.
 *
 * Usage: evfd [all | block | alarm]
 *
 * evfd all (the default) makes:
 *   - fd 20: eventfd(5, EFD_NONBLOCK), and fd 21 a dup of it;
 *   - fd 22: eventfd(3, EFD_SEMAPHORE);
 *   - fd 23: a one-shot CLOCK_MONOTONIC timerfd that has expired once, not
 *     read (one unread expiration), and fd 24 a dup of it;
 *   - fd 25: a CLOCK_REALTIME timerfd set TFD_TIMER_ABSTIME |
 *     TFD_TIMER_CANCEL_ON_SET to expire one hour from now, TFD_NONBLOCK;
 *   - fd 26: a CLOCK_MONOTONIC timerfd every 300 ms, read in the main loop;
 *   - fd 27: a periodic (100 ms) CLOCK_BOOTTIME timerfd never read: its
 *     expirations pile up (3 at least at READY);
 *   - fd 28: a signalfd for SIGUSR2 (blocked), and fd 29 a dup of it.
 * It prints "READY <pid>", then loops on a blocking read() of fd 26,
 * printing "TICK <n>" for each read (n: its expirations; a read that fails
 * with EINTR without a SIGUSR1 is a spurious one: "BAD"). On SIGUSR1
 * (handled without SA_RESTART) it checks every descriptor: the counters,
 * the semaphore, the unread expiration, the absolute expiration (the same
 * instant, within 2 s), flags, that fd 27 counts 3 expirations at least
 * and none early, and that a SIGUSR2 (sent before the
 * SIGUSR1) is read from fd 29; then prints "EVFD OK" and exits 0 (or "BAD
 * ..." and exits 1).
 *
 * evfd block: a one-shot CLOCK_MONOTONIC timerfd set to expire in 8 s,
 * "READY <pid>", then one blocking read(): "READ <n>" and exit 0, or "BAD
 * read <errno>" and exit 1 (EINTR included: nothing signals it).
 *
 * evfd alarm: a CLOCK_BOOTTIME_ALARM timerfd on fd 20 (needs
 * CAP_WAKE_ALARM), "READY <pid>", then it sleeps until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include "prog.h"

static volatile sig_atomic_t go;
static int64_t abs_real_ns;
static long long t27_start_ns;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void bad(const char *what)
{
	say("BAD %s (errno %d)\n", what, errno);
	_exit(1);
}

static int64_t now_ns(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void place(int fd, int at)
{
	if (fd < 0 || dup2(fd, at) != at)
		bad("dup2");
	close(fd);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static uint64_t read64(int fd, const char *what)
{
	uint64_t v;

	if (read(fd, &v, 8) != 8)
		bad(what);
	return v;
}

static int fl(int fd)
{
	return fcntl(fd, F_GETFL);
}

static void check(void)
{
	struct itimerspec its;
	struct signalfd_siginfo si;
	uint64_t v, want27;
	int64_t left;
	int i;

	/* eventfd 20/21: one counter, non-blocking. */
	if (!(fl(20) & O_NONBLOCK) || !(fl(21) & O_NONBLOCK))
		bad("eventfd lost O_NONBLOCK");
	if ((v = read64(20, "read eventfd")) != 5) {
		say("BAD eventfd count %llu\n", (unsigned long long)v);
		_exit(1);
	}
	if (read(21, &v, 8) != -1 || errno != EAGAIN)
		bad("eventfd dup not shared");
	/* eventfd 22: a semaphore of 3, blocking. */
	if (fl(22) & O_NONBLOCK)
		bad("semaphore eventfd got O_NONBLOCK");
	for (i = 0; i < 3; i++)
		if (read64(22, "read semaphore") != 1)
			bad("semaphore read not 1");
	if (readable(22))
		bad("semaphore above 3");
	/* timerfd 23/24: one expiration not read yet. */
	if (!readable(24))
		bad("timerfd lost its expiration");
	if ((v = read64(23, "read timerfd 23")) != 1) {
		say("BAD timerfd 23 ticks %llu\n", (unsigned long long)v);
		_exit(1);
	}
	if (readable(24))
		bad("timerfd 23/24 not one description");
	/* timerfd 25: the same absolute expiration, flags kept. */
	if (!(fl(25) & O_NONBLOCK))
		bad("timerfd 25 lost TFD_NONBLOCK");
	if (timerfd_gettime(25, &its))
		bad("timerfd_gettime");
	left = (int64_t)its.it_value.tv_sec * 1000000000LL + its.it_value.tv_nsec;
	if (llabs(now_ns(CLOCK_REALTIME) + left - abs_real_ns) > 2000000000LL) {
		say("BAD timerfd 25 expires %lld ns away from its time\n",
		    (long long)(now_ns(CLOCK_REALTIME) + left - abs_real_ns));
		_exit(1);
	}
	if (read(25, &v, 8) != -1 || errno != EAGAIN)
		bad("timerfd 25 expired early");
	/*
	 * timerfd 27: its expirations pile up, at least the 3 it had at READY,
	 * never more than one per 100 ms since it started (none early; the
	 * time a restored copy spent checkpointed is not counted).
	 */
	want27 = (now_ns(CLOCK_BOOTTIME) - t27_start_ns) / 100000000LL;
	v = read64(27, "read timerfd 27");
	if (v < 3 || v > want27 + 1) {
		say("BAD timerfd 27 ticks %llu, want about %llu\n",
		    (unsigned long long)v, (unsigned long long)want27);
		_exit(1);
	}
	/* signalfd 28/29: the SIGUSR2 sent after the restart. */
	if (read(29, &si, sizeof(si)) != sizeof(si))
		bad("read signalfd");
	if (si.ssi_signo != SIGUSR2) {
		say("BAD signalfd read signal %u\n", si.ssi_signo);
		_exit(1);
	}
	say("EVFD OK\n");
	_exit(0);
}

static void run_all(void)
{
	struct itimerspec its = { 0 };
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigset_t m;
	uint64_t v;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &m, NULL))
		bad("sigprocmask");
	if (sigaction(SIGUSR1, &sa, NULL))
		bad("sigaction");

	place(eventfd(5, EFD_NONBLOCK), 20);
	if (dup2(20, 21) != 21)
		bad("dup");
	place(eventfd(3, EFD_SEMAPHORE), 22);

	place(timerfd_create(CLOCK_MONOTONIC, 0), 23);
	its.it_value.tv_nsec = 1000000;
	if (timerfd_settime(23, 0, &its, NULL))
		bad("settime 23");
	while (!readable(23))
		nap(1000);
	if (dup2(23, 24) != 24)
		bad("dup");

	place(timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK), 25);
	abs_real_ns = now_ns(CLOCK_REALTIME) + 3600LL * 1000000000LL;
	its.it_value.tv_sec = abs_real_ns / 1000000000LL;
	its.it_value.tv_nsec = abs_real_ns % 1000000000LL;
	if (timerfd_settime(25, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL))
		bad("settime 25");

	place(timerfd_create(CLOCK_MONOTONIC, 0), 26);
	its.it_value.tv_sec = 0;
	its.it_value.tv_nsec = 300000000;
	its.it_interval = its.it_value;
	if (timerfd_settime(26, 0, &its, NULL))
		bad("settime 26");

	place(timerfd_create(CLOCK_BOOTTIME, 0), 27);
	its.it_value.tv_nsec = 100000000;
	its.it_interval = its.it_value;
	t27_start_ns = now_ns(CLOCK_BOOTTIME);
	if (timerfd_settime(27, 0, &its, NULL))
		bad("settime 27");

	/* Three expirations of fd 27 at least before READY. */
	while (now_ns(CLOCK_BOOTTIME) - t27_start_ns < 350000000LL)
		nap(10000);

	place(signalfd(-1, &m, 0), 28);
	if (dup2(28, 29) != 29)
		bad("dup");

	say("READY %d\n", getpid());
	for (;;) {
		if (go)
			check();
		if (read(26, &v, 8) == 8) {
			say("TICK %llu\n", (unsigned long long)v);
			continue;
		}
		if (errno == EINTR && go)
			continue;
		bad("read timerfd 26");
	}
}

static void run_block(void)
{
	struct itimerspec its = { .it_value = { .tv_sec = 8 } };
	uint64_t v;

	place(timerfd_create(CLOCK_MONOTONIC, 0), 20);
	if (timerfd_settime(20, 0, &its, NULL))
		bad("settime");
	say("READY %d\n", getpid());
	if (read(20, &v, 8) != 8) {
		say("BAD read %d\n", errno);
		_exit(1);
	}
	say("READ %llu\n", (unsigned long long)v);
	_exit(0);
}

static void run_alarm(void)
{
	place(timerfd_create(CLOCK_BOOTTIME_ALARM, 0), 20);
	say("READY %d\n", getpid());
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "block"))
		run_block();
	if (argc > 1 && !strcmp(argv[1], "alarm"))
		run_alarm();
	run_all();
	return 0;
}
