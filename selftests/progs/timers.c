// SPDX-License-Identifier: GPL-2.0
/*
 * A process with interval timers armed, for cr_timers: it arms them, says
 * READY and waits for SIGUSR1 (the test sends it to the original, after a
 * leave-running checkpoint, and to the restored copy). Then it checks
 * that each timer has at most the time left it was armed with, the same
 * interval, and fires: after the time it has left, then every interval.
 * Says OK and exits 0, or says FAIL <why> and exits 1.
 *
 * Modes:
 *   itimers  ITIMER_REAL 20 s then every 1 s; ITIMER_VIRTUAL 0.4 s then
 *            every 0.2 s; ITIMER_PROF 0.6 s, once
 *   alarm    alarm(10)
 *   rlimit   RLIMIT_CPU soft 2 s, hard 30 s: SIGXCPU after 2 s of CPU
 *   sleep    with SIGUSR1 blocked, right after READY: clock_nanosleep for
 *            3 s on CLOCK_MONOTONIC, then until 6 s after READY on
 *            CLOCK_REALTIME (TIMER_ABSTIME); neither may fail (EINTR) and
 *            each must have slept its time; then it waits for SIGUSR1
 *            (sigwaitinfo, still blocked)
 *   ptimers  POSIX timers, ids 0 to 5 (0 deleted before READY): 1
 *            CLOCK_MONOTONIC SIGEV_SIGNAL SIGRTMIN value 0x1111, 40 s then
 *            every 1 s; 2 CLOCK_REALTIME SIGEV_THREAD_ID (the leader)
 *            SIGRTMIN+1 value 0x2222, 45 s once; 3 CLOCK_BOOTTIME
 *            SIGEV_NONE, 90 s then every 2 s; 4 CLOCK_TAI SIGEV_SIGNAL,
 *            disarmed; 5 CLOCK_MONOTONIC SIGRTMIN+3 (blocked), every 30 s,
 *            taken with sigwaitinfo once it has one overrun. Then checks
 *            each one's settings, the overrun count, the signals of 1 and
 *            2 with their siginfo, and that a new timer gets id 6.
 *   ptimer-cpu  a CLOCK_PROCESS_CPUTIME_ID timer (refused): says READY
 *            and waits for SIGUSR1
 *   deleted  POSIX timers 0, 1 and 2 made and deleted before READY (no
 *            timer left); then a new timer must get id 3
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "prog.h"

static volatile sig_atomic_t go, n_alrm, n_vtalrm, n_prof, n_xcpu;

static void on_sig(int sig)
{
	switch (sig) {
	case SIGUSR1: go = 1; break;
	case SIGALRM: n_alrm++; break;
	case SIGVTALRM: n_vtalrm++; break;
	case SIGPROF: n_prof++; break;
	case SIGXCPU: n_xcpu++; break;
	}
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long tv_ns(struct timeval tv)
{
	return tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
}

static int failed;

static void fail(const char *what, long long a, long long b)
{
	say("FAIL %s (%lld, %lld)\n", what, a, b);
	failed = 1;
}

/* Burns CPU until @cond or @max_s seconds of wall time. */
#define SPIN_UNTIL(cond, max_s) do {					\
	long long _end = now_ns() + (max_s) * 1000000000LL;		\
	while (!(cond) && now_ns() < _end)				\
		for (volatile int _i = 0; _i < 100000; _i++);		\
} while (0)

/* Waits (sleeping) until @cond or @max_s seconds of wall time. */
#define WAIT_UNTIL(cond, max_s) do {					\
	long long _end = now_ns() + (max_s) * 1000000000LL;		\
	while (!(cond) && now_ns() < _end)				\
		nap(10000);						\
} while (0)

static const long long S = 1000000000LL, MS = 1000000LL;

static void itimers(void)
{
	struct itimerval r, v, p;
	/* Before getitimer: the time left counts from no later than this. */
	long long t0 = now_ns(), rem;

	getitimer(ITIMER_REAL, &r);
	getitimer(ITIMER_VIRTUAL, &v);
	getitimer(ITIMER_PROF, &p);
	say("LEFT real %lld virt %lld prof %lld\n", tv_ns(r.it_value),
	    tv_ns(v.it_value), tv_ns(p.it_value));
	/* At most what they were armed with (a CPU timer gets one tick more). */
	if (tv_ns(r.it_value) <= 0 || tv_ns(r.it_value) > 20 * S)
		fail("ITIMER_REAL left", tv_ns(r.it_value), 20 * S);
	if (tv_ns(r.it_interval) != 1 * S)
		fail("ITIMER_REAL interval", tv_ns(r.it_interval), S);
	if (tv_ns(v.it_value) <= 0 || tv_ns(v.it_value) > 400 * MS + 20 * MS)
		fail("ITIMER_VIRTUAL left", tv_ns(v.it_value), 400 * MS);
	if (tv_ns(v.it_interval) != 200 * MS)
		fail("ITIMER_VIRTUAL interval", tv_ns(v.it_interval), 200 * MS);
	if (tv_ns(p.it_value) <= 0 || tv_ns(p.it_value) > 600 * MS + 20 * MS)
		fail("ITIMER_PROF left", tv_ns(p.it_value), 600 * MS);
	if (tv_ns(p.it_interval) != 0)
		fail("ITIMER_PROF interval", tv_ns(p.it_interval), 0);
	if (n_alrm || n_vtalrm || n_prof)
		fail("a timer fired early", n_alrm, n_vtalrm + n_prof);
	/* The CPU timers fire once the process has used that CPU time. */
	rem = tv_ns(r.it_value);
	SPIN_UNTIL(n_vtalrm >= 3 && n_prof >= 1, 60);
	if (n_vtalrm < 3 || n_prof != 1)
		fail("SIGVTALRM x3 and SIGPROF x1", n_vtalrm, n_prof);
	/* The real one after the time it had left, then every second. */
	WAIT_UNTIL(n_alrm >= 1, 60);
	if (n_alrm < 1)
		fail("no SIGALRM", 0, 0);
	else if (now_ns() - t0 < rem - 50 * MS && n_alrm == 1)
		fail("SIGALRM early", now_ns() - t0, rem);
	WAIT_UNTIL(n_alrm >= 3, 60);
	if (n_alrm < 3)
		fail("SIGALRM every second", n_alrm, 3);
}

static void alarm_mode(void)
{
	struct itimerval r;
	long long t0 = now_ns(), rem;

	getitimer(ITIMER_REAL, &r);
	rem = tv_ns(r.it_value);
	say("LEFT real %lld\n", rem);
	if (rem <= 0 || rem > 10 * S)
		fail("alarm left", rem, 10 * S);
	if (tv_ns(r.it_interval) != 0)
		fail("alarm interval", tv_ns(r.it_interval), 0);
	WAIT_UNTIL(n_alrm >= 1, 60);
	if (n_alrm != 1)
		fail("one SIGALRM", n_alrm, 1);
	else if (now_ns() - t0 < rem - 50 * MS)
		fail("SIGALRM early", now_ns() - t0, rem);
}

static void rlimit_mode(void)
{
	struct rlimit l;

	getrlimit(RLIMIT_CPU, &l);
	if (l.rlim_cur != 2 || l.rlim_max != 30)
		fail("RLIMIT_CPU", l.rlim_cur, l.rlim_max);
	SPIN_UNTIL(n_xcpu >= 1, 120);
	if (n_xcpu < 1)
		fail("no SIGXCPU", 0, 0);
	getrlimit(RLIMIT_CPU, &l);
	/* At the soft limit the kernel raises it by a second. */
	if (l.rlim_cur != 3 || l.rlim_max != 30)
		fail("RLIMIT_CPU after SIGXCPU", l.rlim_cur, l.rlim_max);
}

/* Sleeps as the "sleep" mode says (SIGUSR1 blocked). */
static void sleep_mode(void)
{
	struct timespec rel = { 3, 0 }, abs, rt;
	long long t0 = now_ns();
	int r;

	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_sec += 6;
	say("READY\n");
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL);
	if (r)
		fail("clock_nanosleep(CLOCK_MONOTONIC) failed", r, 0);
	if (now_ns() - t0 < 3 * S)
		fail("CLOCK_MONOTONIC sleep short", now_ns() - t0, 3 * S);
	r = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL);
	if (r)
		fail("clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME) failed", r, 0);
	clock_gettime(CLOCK_REALTIME, &rt);
	if (rt.tv_sec * S + rt.tv_nsec < abs.tv_sec * S + abs.tv_nsec)
		fail("CLOCK_REALTIME sleep ended early", rt.tv_sec, abs.tv_sec);
}


/* ------------------------------------------------------------ ptimers */

static volatile sig_atomic_t n_b, n_c;
static siginfo_t si_b, si_c;
static timer_t ptid[6];

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGRTMIN) {
		si_b = *si;
		n_b++;
	} else {
		si_c = *si;
		n_c++;
	}
}

static int mk_timer(clockid_t clk, int notify, int signo, int val, int idx)
{
	struct sigevent ev;

	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = notify;
	ev.sigev_signo = signo;
	ev.sigev_value.sival_int = val;
	if (notify == SIGEV_THREAD_ID)
		ev._sigev_un._tid = syscall(SYS_gettid);
	if (syscall(SYS_timer_create, clk, &ev, &ptid[idx])) {
		say("FAIL timer_create %d: %s\n", idx, strerror(errno));
		return -1;
	}
	if ((long)ptid[idx] != idx) {
		say("FAIL timer_create %d gave id %ld\n", idx, (long)ptid[idx]);
		return -1;
	}
	return 0;
}

static int arm(int idx, long long value, long long interval)
{
	struct itimerspec s = {
		{ interval / S, interval % S }, { value / S, value % S }
	};

	if (syscall(SYS_timer_settime, ptid[idx], 0, &s, NULL)) {
		say("FAIL timer_settime %d: %s\n", idx, strerror(errno));
		return -1;
	}
	return 0;
}

static long long ts_ns(struct timespec t)
{
	return t.tv_sec * S + t.tv_nsec;
}

static int overrun0;

/* Creates the timers; with SIGRTMIN+3 blocked. */
static int ptimers_setup(void)
{
	struct sigaction sa;
	sigset_t f;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGRTMIN, &sa, NULL);
	sigaction(SIGRTMIN + 1, &sa, NULL);
	sigemptyset(&f);
	sigaddset(&f, SIGRTMIN + 3);
	sigprocmask(SIG_BLOCK, &f, NULL);
	if (mk_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGALRM, 0, 0) ||
	    mk_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN, 0x1111, 1) ||
	    mk_timer(CLOCK_REALTIME, SIGEV_THREAD_ID, SIGRTMIN + 1, 0x2222, 2) ||
	    mk_timer(CLOCK_BOOTTIME, SIGEV_NONE, 0, 0x3333, 3) ||
	    mk_timer(CLOCK_TAI, SIGEV_SIGNAL, SIGRTMIN + 2, 0x4444, 4) ||
	    mk_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN + 3, 0x5555, 5))
		return -1;
	/*
	 * Timer 5: fires at 1 ms, its signal blocked; one overrun at 30 s;
	 * next at 60 s, after the test has checked it (the VM is slow).
	 */
	if (arm(5, MS, 30 * S))
		return -1;
	nap(30200000);
	if (sigwaitinfo(&f, NULL) != SIGRTMIN + 3) {
		say("FAIL sigwaitinfo: %s\n", strerror(errno));
		return -1;
	}
	overrun0 = syscall(SYS_timer_getoverrun, ptid[5]);
	if (overrun0 < 1) {
		say("FAIL timer 5 overrun %d\n", overrun0);
		return -1;
	}
	if (syscall(SYS_timer_delete, ptid[0]))
		return -1;
	if (arm(1, 40 * S, S) || arm(2, 45 * S, 0) || arm(3, 90 * S, 2 * S))
		return -1;
	return 0;
}

static void check_siginfo(const char *what, siginfo_t *si, int id, int val)
{
	if (si->si_code != SI_TIMER)
		fail(what, si->si_code, SI_TIMER);
	if (si->si_timerid != id)
		fail(what, si->si_timerid, id);
	if (si->si_value.sival_int != val)
		fail(what, si->si_value.sival_int, val);
}

static void ptimers(void)
{
	static const long long value[6] = { 0, 40 * S, 45 * S, 90 * S, 0, 30 * S };
	static const long long interval[6] = { 0, S, 0, 2 * S, 0, 30 * S };
	long long t0 = now_ns();
	struct itimerspec s;
	timer_t id;
	int ov;

	if (syscall(SYS_timer_gettime, (timer_t)0, &s) != -1 || errno != EINVAL)
		fail("timer 0 exists", errno, EINVAL);
	for (int i = 1; i < 6; i++) {
		if (syscall(SYS_timer_gettime, ptid[i], &s)) {
			fail("timer_gettime", i, errno);
			continue;
		}
		say("LEFT timer %d %lld every %lld\n", i, ts_ns(s.it_value),
		    ts_ns(s.it_interval));
		if (value[i] ? ts_ns(s.it_value) <= 0 || ts_ns(s.it_value) > value[i]
			     : ts_ns(s.it_value) != 0)
			fail("timer left", i, ts_ns(s.it_value));
		if (ts_ns(s.it_interval) != interval[i])
			fail("timer interval", i, ts_ns(s.it_interval));
	}
	ov = syscall(SYS_timer_getoverrun, ptid[5]);
	if (ov != overrun0)
		fail("timer 5 overrun", ov, overrun0);
	syscall(SYS_timer_gettime, ptid[2], &s);
	WAIT_UNTIL(n_b >= 2 && n_c >= 1, 90);
	if (n_b < 2 || n_c != 1)
		fail("signals of timers 1 and 2", n_b, n_c);
	else if (now_ns() - t0 < ts_ns(s.it_value) - 50 * MS)
		fail("timer 2 early", now_ns() - t0, ts_ns(s.it_value));
	check_siginfo("timer 1 siginfo", &si_b, 1, 0x1111);
	check_siginfo("timer 2 siginfo", &si_c, 2, 0x2222);
	if (si_b.si_overrun < 0 || si_c.si_overrun != 0)
		fail("si_overrun", si_b.si_overrun, si_c.si_overrun);
	if (syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &id) || (long)id != 6)
		fail("new timer id", (long)id, 6);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "itimers";
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGVTALRM, &sa, NULL);
	sigaction(SIGPROF, &sa, NULL);
	sigaction(SIGXCPU, &sa, NULL);
	if (!strcmp(mode, "itimers")) {
		struct itimerval r = { { 1, 0 }, { 20, 0 } };
		struct itimerval v = { { 0, 200000 }, { 0, 400000 } };
		struct itimerval p = { { 0, 0 }, { 0, 600000 } };

		if (setitimer(ITIMER_REAL, &r, NULL) || setitimer(ITIMER_VIRTUAL, &v, NULL) ||
		    setitimer(ITIMER_PROF, &p, NULL)) {
			say("FAIL setitimer: %s\n", strerror(errno));
			return 1;
		}
	} else if (!strcmp(mode, "ptimers")) {
		if (ptimers_setup())
			return 1;
	} else if (!strcmp(mode, "ptimer-cpu")) {
		if (mk_timer(CLOCK_PROCESS_CPUTIME_ID, SIGEV_SIGNAL, SIGRTMIN, 1, 0) || arm(0, 100 * S, 0))
			return 1;
	} else if (!strcmp(mode, "deleted")) {
		timer_t t[3];

		for (int i = 0; i < 3; i++)
			if (syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &t[i]))
				return 1;
		for (int i = 0; i < 3; i++)
			syscall(SYS_timer_delete, t[i]);
	} else if (!strcmp(mode, "alarm")) {
		alarm(10);
	} else if (!strcmp(mode, "rlimit")) {
		struct rlimit l = { 2, 30 };

		if (setrlimit(RLIMIT_CPU, &l)) {
			say("FAIL setrlimit: %s\n", strerror(errno));
			return 1;
		}
	}
	if (!strcmp(mode, "sleep")) {
		sigset_t usr1;

		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		sleep_mode();
		/*
		 * Taken blocked, once pending: the mask stays as it was saved
		 * (sigwaitinfo() unblocks what it waits for while it waits,
		 * which the fidelity check would see).
		 */
		for (;;) {
			sigset_t p;

			sigpending(&p);
			if (sigismember(&p, SIGUSR1))
				break;
			usleep(10000);
		}
		if (sigwaitinfo(&usr1, NULL) == SIGUSR1)
			go = 1;
	} else {
		say("READY\n");
	}
	sigemptyset(&none);
	if (!strcmp(mode, "ptimers"))
		sigaddset(&none, SIGRTMIN + 3);
	while (!go)
		sigsuspend(&none);
	if (!strcmp(mode, "itimers"))
		itimers();
	else if (!strcmp(mode, "alarm"))
		alarm_mode();
	else if (!strcmp(mode, "ptimers"))
		ptimers();
	else if (!strcmp(mode, "rlimit"))
		rlimit_mode();
	else if (!strcmp(mode, "deleted")) {
		timer_t id = 0;	/* the kernel writes an int */

		if (syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &id) || (long)id != 3)
			fail("new timer id after all were deleted", (long)id, 3);
	}
	if (!failed)
		say("OK\n");
	return failed;
}
