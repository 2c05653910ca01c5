// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr_epoll tests: event notification descriptors.
 *
 * Usage: epoll inotify DIR1 DIR2 DIR3 | queued DIR | fanotify | epoll
 *
 * epoll inotify: an inotify instance on fd 20 (blocking) watching DIR1
 * (wd 1, IN_CREATE), DIR2 (wd 2, removed again: a gap) and DIR3 (wd 3,
 * IN_CREATE | IN_DELETE), and a second one on fd 21 (IN_NONBLOCK) with no
 * watch; prints "READY", then blocks in read() on fd 20 and prints each
 * event as "EVENT <wd> <mask in hex> <name>"; after two it checks that fd
 * 21 is still non-blocking and empty (EAGAIN), that a new watch on DIR2
 * gets wd 4, prints "DONE" and exits 0. Any failure (an EINTR included)
 * prints "BAD ..." and exits 1.
 * epoll queued: an inotify instance watching DIR with one event queued
 * (a file it creates there), then "READY", then sleeps until killed.
 * epoll fanotify: a fanotify group on fd 22, "READY" (or "NOFAN" if the
 * kernel has none), then sleeps. epoll epoll: an epoll set on fd 23
 * watching both ends of a pipe (fds 24, 25), "READY", then sleeps.
 * epoll wait: an epoll set on fd 23 watching stdin, "READY", then blocks
 * in epoll_wait() with no timeout: "EVENT <line>" for a line on stdin
 * and exit 0; "BAD epoll_wait ..." (an EINTR included) and exit 1.
 * epoll set: the epoll set on fd 23 of the table in set_watches() (every
 * kind of watch: level and edge triggered, EPOLLONESHOT armed,
 * EPOLLEXCLUSIVE, EPOLLWAKEUP, a watch whose fd was closed while its file
 * lives on at another fd, and an epoll set in it), "READY", then waits
 * for a line on stdin and checks that the set's fdinfo lists exactly
 * those watches, that each reports its data when its file gets ready,
 * and that the oneshot does not fire twice: "OK" and exit 0, else
 * "BAD ..." and exit 1.
 * epoll fired: an epoll set on fd 23 with an EPOLLONESHOT watch on an
 * eventfd (fd 24) that already fired, "READY", then sleeps.
 * epoll reused: an epoll set on fd 23 watching a pipe's read end added
 * as fd 24 and its write end as fd 25; the read end moves to fd 26 and
 * fd 24 is reused for the write end (the set's fdinfo still says tfd 24
 * for the read end's watch), "READY", then sleeps.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <stdio.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include "prog.h"

static void bad(const char *what)
{
	say("BAD %s (errno %d)\n", what, errno);
	_exit(1);
}

static int at(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want)
		bad("dup2");
	close(fd);
	return want;
}

static void sleep_forever(void)
{
	for (;;)
		nap(1000000);
}

static int do_inotify(char **dirs)
{
	char buf[4096] __attribute__((aligned(8)));
	int fd = at(inotify_init1(0), 20), nb = at(inotify_init1(IN_NONBLOCK), 21);
	int events = 0;

	if (inotify_add_watch(fd, dirs[0], IN_CREATE) != 1 ||
	    inotify_add_watch(fd, dirs[1], IN_CREATE) != 2 ||
	    inotify_add_watch(fd, dirs[2], IN_CREATE | IN_DELETE) != 3)
		bad("inotify_add_watch");
	if (inotify_rm_watch(fd, 2))
		bad("inotify_rm_watch");
	/* Read away the IN_IGNORED of wd 2: the queue is empty. */
	if (read(fd, buf, sizeof(buf)) <= 0)
		bad("read IN_IGNORED");
	say("READY\n");
	while (events < 2) {
		ssize_t n = read(fd, buf, sizeof(buf)), off = 0;

		if (n <= 0)
			bad("read");
		while (off < n) {
			struct inotify_event *e = (void *)(buf + off);

			say("EVENT %d %x %s\n", e->wd, e->mask, e->len ? e->name : "");
			off += sizeof(*e) + e->len;
			events++;
		}
	}
	if (!(fcntl(nb, F_GETFL) & O_NONBLOCK))
		bad("fd 21 lost O_NONBLOCK");
	if (read(nb, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		bad("fd 21 not empty");
	if (fcntl(fd, F_GETFL) & O_NONBLOCK)
		bad("fd 20 became non-blocking");
	if (inotify_add_watch(fd, dirs[1], IN_CREATE) != 4)
		bad("next wd is not 4");
	say("DONE\n");
	return 0;
}

/* The watches of "epoll set": tfd, events, data. */
static const struct {
	int tfd;
	unsigned int events;
	unsigned long long data;
} want[] = {
	{ 24, EPOLLIN | EPOLLWAKEUP, 0x1111 },
	{ 25, EPOLLOUT | EPOLLET, 0x2222 },
	{ 26, EPOLLIN | EPOLLONESHOT, 0xdeadbeefcafef00dULL },
	{ 27, EPOLLIN | EPOLLEXCLUSIVE, 0x2727 },
	{ 28, EPOLLIN | EPOLLET, 0x2828 },	/* fd 28 closed: the file is on fd 29 */
	{ 30, EPOLLIN, 0x3030 },		/* the inner set */
};

/* EPOLLWAKEUP if epoll_ctl() kept it (CONFIG_PM_SLEEP, CAP_BLOCK_SUSPEND). */
static unsigned int wakeup = EPOLLWAKEUP;

/* Pipes of "epoll set": a (24, 25), b (27, 40), c (29, 41), d (31, 42). */
static void set_watches(void)
{
	int ep = at(epoll_create1(EPOLL_CLOEXEC), 23), inner, p[2];
	struct epoll_event ev;
	unsigned int i;

	if (pipe(p))
		bad("pipe");
	at(p[0], 24);
	at(p[1], 25);
	at(eventfd(0, EFD_NONBLOCK), 26);
	if (pipe(p))
		bad("pipe");
	at(p[0], 27);
	at(p[1], 40);
	if (pipe(p))
		bad("pipe");
	at(p[0], 28);
	at(p[1], 41);
	inner = at(epoll_create1(0), 30);
	if (pipe(p))
		bad("pipe");
	at(p[0], 31);
	at(p[1], 42);
	ev.events = EPOLLIN;
	ev.data.u64 = 0x3131;
	if (epoll_ctl(inner, EPOLL_CTL_ADD, 31, &ev))
		bad("epoll_ctl inner");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ev.events = want[i].events;
		ev.data.u64 = want[i].data;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, want[i].tfd, &ev))
			bad("epoll_ctl");
	}
	{
		char line[256];
		unsigned int evs;
		int tfd;
		FILE *f = fopen("/proc/self/fdinfo/23", "re");

		if (!f)
			bad("fdinfo");
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "tfd: %d events: %x", &tfd, &evs) == 2 && tfd == 24)
				wakeup = evs & EPOLLWAKEUP;
		fclose(f);
	}
	/* The watch on 28 lives on: its file is still open at 29. */
	if (dup2(28, 29) != 29)
		bad("dup2");
	close(28);
	/* Consume the write end's first edge. */
	if (epoll_wait(ep, &ev, 1, 0) != 1 || ev.data.u64 != 0x2222)
		bad("first edge");
}

/* The set's fdinfo has exactly the watches of want[]. */
static void check_fdinfo(void)
{
	char line[256];
	unsigned int n = 0, i, ev;
	unsigned long long data;
	int tfd;
	FILE *f = fopen("/proc/self/fdinfo/23", "re");

	if (!f)
		bad("fdinfo");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &ev, &data) != 3)
			continue;
		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (want[i].tfd == tfd)
				break;
		if (i == sizeof(want) / sizeof(want[0]) || data != want[i].data ||
		    ev != ((want[i].events & ~EPOLLWAKEUP) | (want[i].events & wakeup) |
			   EPOLLERR | EPOLLHUP)) {
			say("BAD watch tfd %d events %x data %llx\n", tfd, ev, data);
			_exit(1);
		}
		n++;
	}
	fclose(f);
	if (n != sizeof(want) / sizeof(want[0]))
		bad("watch count");
}

/* The data of every event reported so far. */
static unsigned long long seen[64];
static int nseen;

/* Waits (up to 2 s) for the watch with @data to report (now or before). */
static void expect_event(int ep, unsigned long long data)
{
	struct epoll_event evs[8];
	int i, n, tries;

	for (tries = 0; tries < 20; tries++) {
		for (i = 0; i < nseen; i++)
			if (seen[i] == data)
				return;
		n = epoll_wait(ep, evs, 8, 100);
		if (n < 0)
			bad("epoll_wait");
		for (i = 0; i < n && nseen < 64; i++)
			seen[nseen++] = evs[i].data.u64;
	}
	say("BAD no event for data %llx\n", data);
	_exit(1);
}

static int do_set(void)
{
	unsigned long long one = 1;
	struct epoll_event evs[8];
	char buf[64];
	int i, n;

	set_watches();
	say("READY\n");
	if (read(0, buf, sizeof(buf)) <= 0)
		bad("read stdin");
	check_fdinfo();
	if (write(25, "x", 1) != 1 || write(26, &one, 8) != 8 || write(40, "x", 1) != 1 ||
	    write(41, "x", 1) != 1 || write(42, "x", 1) != 1)
		bad("write");
	expect_event(23, 0x1111);
	expect_event(23, 0xdeadbeefcafef00dULL);
	expect_event(23, 0x2727);
	expect_event(23, 0x2828);
	expect_event(23, 0x3030);
	/* The oneshot fired: no second report, however ready. */
	if (write(26, &one, 8) != 8)
		bad("write");
	n = epoll_wait(23, evs, 8, 0);
	for (i = 0; i < n; i++)
		if (evs[i].data.u64 == 0xdeadbeefcafef00dULL)
			bad("oneshot fired twice");
	say("OK\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "inotify") && argc == 5)
		return do_inotify(argv + 2);
	if (!strcmp(mode, "queued") && argc == 3) {
		char path[4096];
		int fd = at(inotify_init1(0), 20);

		if (inotify_add_watch(fd, argv[2], IN_CREATE) != 1)
			bad("inotify_add_watch");
		snprintf(path, sizeof(path), "%s/queued", argv[2]);
		close(open(path, O_CREAT | O_WRONLY, 0644));
		say("READY\n");
		sleep_forever();
	}
	if (!strcmp(mode, "fanotify")) {
		int fd = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);

		if (fd < 0) {
			say("NOFAN\n");
			sleep_forever();
		}
		at(fd, 22);
		say("READY\n");
		sleep_forever();
	}
	if (!strcmp(mode, "epoll")) {
		struct epoll_event ev = { .events = EPOLLIN };
		int p[2], ep = at(epoll_create1(0), 23);

		if (pipe(p))
			bad("pipe");
		at(p[0], 24);
		at(p[1], 25);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, 24, &ev))
			bad("epoll_ctl");
		ev.events = EPOLLOUT | EPOLLET;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, 25, &ev))
			bad("epoll_ctl");
		say("READY\n");
		sleep_forever();
	}
	if (!strcmp(mode, "set"))
		return do_set();
	if (!strcmp(mode, "fired")) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };
		unsigned long long one = 1;
		int ep = at(epoll_create1(0), 23), e = at(eventfd(0, 0), 24);

		if (epoll_ctl(ep, EPOLL_CTL_ADD, 24, &ev) || write(e, &one, 8) != 8 ||
		    epoll_wait(ep, &ev, 1, 1000) != 1)
			bad("oneshot");
		say("READY\n");
		sleep_forever();
	}
	if (!strcmp(mode, "reused")) {
		struct epoll_event in = { .events = EPOLLIN }, out = { .events = EPOLLOUT };
		int ep = at(epoll_create1(0), 23), p[2];

		if (pipe(p))
			bad("pipe");
		at(p[0], 24);
		at(p[1], 25);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, 24, &in) ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, 25, &out))
			bad("epoll_ctl");
		if (dup2(24, 26) != 26 || dup2(25, 24) != 24)
			bad("dup2");
		say("READY\n");
		sleep_forever();
	}
	if (!strcmp(mode, "wait")) {
		struct epoll_event ev = { .events = EPOLLIN };
		int ep = at(epoll_create1(0), 23);
		char buf[64];
		ssize_t n;

		if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev))
			bad("epoll_ctl");
		say("READY\n");
		if (epoll_wait(ep, &ev, 1, -1) != 1)
			bad("epoll_wait");
		n = read(0, buf, sizeof(buf) - 1);
		if (n <= 0)
			bad("read");
		buf[n] = 0;
		buf[strcspn(buf, "\n")] = 0;
		say("EVENT %s\n", buf);
		return 0;
	}
	say("BAD usage\n");
	return 2;
}
